/**
 * The accept ceiling: a bare node:http server that does the least a webhook endpoint must do (read the body,
 * parse the JSON, answer 202 with a small JSON body). `node ceiling-server.js <port>`; GET answers 200 (readiness).
 */
import http from 'node:http';

const port = Number(process.argv[2]);
http
  .createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'GET') {
        res.writeHead(200).end();
        return;
      }
      try {
        JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400).end();
        return;
      }
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end('{"deliveryId":"00000000-0000-0000-0000-000000000000","status":"accepted"}');
    });
  })
  .listen(port, '127.0.0.1');
