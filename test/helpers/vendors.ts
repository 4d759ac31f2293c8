import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** Local stand-ins for the vendors in the seed scenario; each checks requests as the vendor documents them. */

async function listen(server: http.Server): Promise<void> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

export type ReceivedMail = { from: string; to: string[]; raw: string };

/** A real SMTP server; `dropFirst` closes the connection after the first message's data, like a lost answer. */
export async function startSmtpServer(opts: { dropFirst?: boolean } = {}) {
  const messages: ReceivedMail[] = [];
  let dropped = false;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      let raw = '';
      stream.on('data', (c: Buffer) => (raw += c.toString('utf8')));
      stream.on('end', () => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
        });
        if (opts.dropFirst && !dropped) {
          dropped = true;
          const connections = (
            server as unknown as { connections: Set<{ id: string; _socket: { destroy(): void } }> }
          ).connections;
          for (const c of connections) if (c.id === session.id) c._socket.destroy();
          return;
        }
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = ((server as unknown as { server: http.Server }).server.address() as AddressInfo).port;
  return { port, messages, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Slack incoming webhook: POST JSON {text, blocks?} to the secret path, answers "ok". */
export async function startSlackWebhook(path = '/services/T000/B000/XXXX') {
  const posts: { contentType?: string; body: any }[] = [];
  const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    if (req.method !== 'POST' || req.url !== path) return void res.writeHead(404).end('no_service');
    if (!req.headers['content-type']?.startsWith('application/json'))
      return void res.writeHead(400).end('invalid_payload');
    const json = JSON.parse(body);
    if (!json.text && !json.blocks) return void res.writeHead(400).end('no_text');
    posts.push({ contentType: req.headers['content-type'], body: json });
    res.writeHead(200, { 'content-type': 'text/html' }).end('ok');
  });
  await listen(server);
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    posts,
    close: () =>
      new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

export type JiraIssue = { id: string; key: string; fields: any };

/**
 * JIRA Cloud REST v3: Basic auth (email:apiToken), POST /rest/api/3/issue and POST /rest/api/3/search/jql.
 * `loseFirstCreateAnswer` creates the first issue and then drops the connection, like a timeout after the vendor acted.
 */
export async function startJira(opts: { email: string; apiToken: string; loseFirstCreateAnswer?: boolean }) {
  const issues: JiraIssue[] = [];
  let lost = false;
  const expectedAuth = `Basic ${Buffer.from(`${opts.email}:${opts.apiToken}`).toString('base64')}`;
  const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    const json = (status: number, value: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (req.headers.authorization !== expectedAuth) return json(401, { errorMessages: ['Unauthorized'] });
    if (req.method === 'POST' && req.url === '/rest/api/3/search/jql') {
      const { jql } = JSON.parse(body) as { jql: string };
      const label = /labels\s*=\s*"?([\w-]+)"?/.exec(jql)?.[1];
      const found = issues.filter((i) => label && i.fields.labels?.includes(label));
      return json(200, {
        issues: found.map((i) => ({ id: i.id, key: i.key, fields: { summary: i.fields.summary } })),
        isLast: true,
      });
    }
    if (req.method === 'GET' && req.url?.startsWith('/rest/api/3/issue/')) {
      const idOrKey = req.url.split('/')[5]!.split('?')[0];
      const issue = issues.find((i) => i.id === idOrKey || i.key === idOrKey);
      return issue
        ? json(200, { id: issue.id, key: issue.key, fields: issue.fields })
        : json(404, { errorMessages: ['not found'] });
    }
    if (req.method === 'POST' && req.url === '/rest/api/3/issue') {
      const { fields } = JSON.parse(body);
      if (!fields?.project?.key || !fields.summary || !fields.issuetype)
        return json(400, { errors: { summary: 'required' } });
      if (fields.description && fields.description.type !== 'doc')
        return json(400, { errors: { description: 'Operation value must be an Atlassian Document' } });
      const id = String(10000 + issues.length);
      const issue = { id, key: `${fields.project.key}-${issues.length + 1}`, fields };
      issues.push(issue);
      if (opts.loseFirstCreateAnswer && !lost) {
        lost = true;
        return void req.socket.destroy();
      }
      return json(201, { id, key: issue.key, self: `http://127.0.0.1/rest/api/3/issue/${id}` });
    }
    json(404, { errorMessages: [`no route ${req.method} ${req.url}`] });
  });
  await listen(server);
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    issues,
    close: () =>
      new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}
