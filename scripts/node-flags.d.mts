// Types of node-flags.mjs, for the TypeScript that imports it (the benchmark, the tests).
export const SERVER_NODE_FLAGS: readonly string[];
