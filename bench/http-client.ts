import http from 'node:http';

export interface HttpResponse { status: number; headers: http.IncomingHttpHeaders; body: string }

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * A keep-alive HTTP/1.1 client on node:http: the load generator's own requests cost less CPU
 * than fetch, which matters when the loader shares two cores with the server it measures.
 */
export function createHttpClient(maxSockets: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  return {
    request(url: URL, init: HttpRequest = {}): Promise<HttpResponse> {
      if (url.protocol !== 'http:' || !/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(url.hostname)) {
        return Promise.reject(new Error(`the bench sends traffic to loopback only, not ${url.origin}`));
      }
      return new Promise((resolve, reject) => {
        const headers: Record<string, string> = { ...init.headers };
        if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body));
        const req = http.request(url, { method: init.method ?? 'GET', headers, agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        });
        req.setTimeout(30_000, () => req.destroy(new Error(`timeout: ${init.method ?? 'GET'} ${url.pathname}`)));
        req.on('error', reject);
        req.end(init.body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}

export type HttpClient = ReturnType<typeof createHttpClient>;

/** HTTP Basic client authentication (RFC 6749 §2.3.1: both parts form-urlencoded first). */
export function basicAuth(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}
