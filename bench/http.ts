// A thin raw-HTTP client over node:http with keep-alive sockets (one per concurrent worker): far cheaper per request
// than the SDK or fetch, so that on a small machine the load generator takes as little CPU from the server as possible.
import http from 'node:http';
import { SignJWT } from 'jose';

export interface HttpResponse {
  status: number;
  body: Buffer;
}

export class BenchClient {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;
  private readonly headers: Record<string, string>;

  private constructor(baseUrl: string, private readonly apiKey: string, token: string, sockets: number) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
    this.headers = { 'stream-auth-type': 'jwt', authorization: token };
  }

  /** A client authenticated server-side: an HS256 JWT `{"server": true}` signed with the app secret. */
  static async create(baseUrl: string, apiKey: string, apiSecret: string, sockets: number): Promise<BenchClient> {
    const token = await new SignJWT({ server: true })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(new TextEncoder().encode(apiSecret));
    return new BenchClient(baseUrl, apiKey, token, sockets);
  }

  /** `path` without the query string; api_key is added here. */
  request(method: string, path: string, query: Record<string, string> = {}, body?: Buffer): Promise<HttpResponse> {
    const search = new URLSearchParams({ api_key: this.apiKey, ...query }).toString();
    const headers: Record<string, string | number> = { ...this.headers };
    if (body) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = body.length;
    }
    return new Promise((resolve, reject) => {
      const req = http.request(
        { agent: this.agent, host: this.host, port: this.port, method, path: `${path}?${search}`, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  close() {
    this.agent.destroy();
  }
}

/** Throws with the response text unless the status is the expected one. */
export function expectStatus(response: HttpResponse, status: number, what: string): HttpResponse {
  if (response.status !== status) {
    throw new Error(`${what}: expected HTTP ${status}, got ${response.status}: ${response.body.toString('utf8').slice(0, 500)}`);
  }
  return response;
}
