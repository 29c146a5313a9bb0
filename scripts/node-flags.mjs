// The V8 flags the server process is started with: by `npm start` (package.json), the container (Dockerfile) and the
// benchmark (bench/server.ts), which must run the server as it ships; a test keeps the three alike.
//
// --max-semi-space-size=64 (MB; Node 20's default is 16): the young generation, where a request's short-lived objects
// (request JSON, decoded rows, the representation, the answer's text) are allocated. With 16 MB it fills every few
// requests under load, and what is still alive then (the requests in flight) is copied, promoted to the old
// generation and marked there later. Measured at steady state, the server's CPU per request fell by 10–13 % for a
// 100-user upsert and by about 30 % for a queryUsers answer of 100 users (perf samples of the process, alternated
// runs); its peak RSS under load rose by 40–60 MB.
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=64'];
