import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Captured = { method: string; url: string; headers: http.IncomingHttpHeaders; body: string };

/** A local HTTP server that records what it receives and answers with respond(). */
export async function startTargetServer(
  respond: (req: Captured) => { status?: number; body?: unknown; delayMs?: number } = () => ({}),
) {
  const requests: Captured[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const captured = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      requests.push(captured);
      const r = respond(captured);
      setTimeout(() => {
        res.writeHead(r.status ?? 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(r.body ?? { ok: true }));
      }, r.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
