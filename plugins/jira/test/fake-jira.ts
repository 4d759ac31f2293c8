import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type JiraRequest = { method: string; url: string; headers: http.IncomingHttpHeaders; body: string };

export type Scripted = {
  status?: number;
  json?: unknown;
  text?: string;
  headers?: Record<string, string>;
  /** Create the issue, then destroy the socket without answering (the answer is lost). */
  createThenDestroy?: boolean;
};

export type StoredIssue = { id: string; key: string; fields: Record<string, any> };

export const EMAIL = 'ada@example.com';
export const API_TOKEN = 'ATATT3xFfGF0-test-token';
export const PROJECTS = ['OPS', 'SHOP'];
const ISSUE_TYPES = ['Task', 'Bug', 'Story', 'Epic', 'Sub-task'];
const PRIORITIES = ['Highest', 'High', 'Medium', 'Low', 'Lowest'];
const CUSTOM_FIELDS = ['customfield_10042', 'customfield_10043'];
const JQL = /^project = "([^"]+)" AND labels = "([^"]+)" ORDER BY created ASC$/;

/**
 * A local stand-in for the JIRA Cloud REST API v3 parts the plugin uses: create issue, the enhanced JQL
 * search and get issue, with Basic auth (email:API token) and JIRA's error bodies
 * (`{ errorMessages: [], errors: { field: message } }`). The deprecated /rest/api/3/search answers 410.
 */
export async function startFakeJira() {
  const requests: JiraRequest[] = [];
  const issues: StoredIssue[] = [];
  const scripted = new Map<string, Scripted[]>();
  const options = { searchReturnsIdsOnly: false };
  let base = '';
  let nextId = 10000;

  const selfOf = (id: string) => `${base}/rest/api/3/issue/${id}`;
  const invalid = (errors: Record<string, string>, errorMessages: string[] = []) => ({
    status: 400,
    json: { errorMessages, errors },
  });

  const create = (body: any): Scripted => {
    const fields = body?.fields;
    if (!fields || typeof fields !== 'object') return invalid({}, ['No fields given.']);
    const errors: Record<string, string> = {};
    const project = fields.project?.key;
    if (!PROJECTS.includes(project)) errors.project = 'valid project is required';
    if (!ISSUE_TYPES.includes(fields.issuetype?.name)) errors.issuetype = 'Specify a valid issue type';
    if (typeof fields.summary !== 'string' || fields.summary === '')
      errors.summary = 'You must specify a summary of the issue.';
    else if (/[\r\n]/.test(fields.summary))
      errors.summary = 'The summary is invalid because it contains newline characters.';
    if (
      fields.description !== undefined &&
      !(fields.description?.type === 'doc' && fields.description?.version === 1)
    ) {
      errors.description =
        'Operation value must be an Atlassian Document (see the Atlassian Document Format)';
    }
    if (fields.labels !== undefined) {
      const bad = (fields.labels as unknown[]).find((l) => typeof l !== 'string' || /\s/.test(l));
      if (bad !== undefined) errors.labels = `The label '${String(bad)}' contains spaces which is invalid.`;
    }
    if (fields.priority !== undefined && !PRIORITIES.includes(fields.priority?.name))
      errors.priority = `The priority selected is invalid.`;
    for (const key of Object.keys(fields)) {
      if (key.startsWith('customfield_') && !CUSTOM_FIELDS.includes(key)) {
        errors[key] = `Field '${key}' cannot be set. It is not on the appropriate screen, or unknown.`;
      }
    }
    if (Object.keys(errors).length) return invalid(errors);
    const id = String(nextId++);
    const key = `${project}-${issues.filter((i) => i.key.startsWith(`${project}-`)).length + 1}`;
    issues.push({ id, key, fields });
    return { status: 201, json: { id, key, self: selfOf(id) } };
  };

  const search = (body: any): Scripted => {
    const match = JQL.exec(body?.jql ?? '');
    if (!match) return invalid({}, ['The fake JIRA only understands the query the plugin sends.']);
    const [, project, label] = match;
    if (!PROJECTS.includes(project!)) {
      return invalid({}, [`The value '${project}' does not exist for the field 'project'.`]);
    }
    const found = issues
      .filter((i) => i.fields.project.key === project && (i.fields.labels ?? []).includes(label))
      .slice(0, body.maxResults ?? 50);
    return {
      status: 200,
      json: {
        issues: found.map((i) =>
          options.searchReturnsIdsOnly
            ? { id: i.id }
            : { id: i.id, key: i.key, self: selfOf(i.id), fields: { summary: i.fields.summary } },
        ),
        isLast: true,
      },
    };
  };

  const route = (req: JiraRequest): Scripted => {
    const expected = `Basic ${Buffer.from(`${EMAIL}:${API_TOKEN}`).toString('base64')}`;
    if (req.headers.authorization !== expected) {
      return { status: 401, text: 'Client must be authenticated to access this resource.' };
    }
    const url = new URL(req.url, 'http://jira');
    let body: unknown;
    if (req.method === 'POST') {
      if (req.headers['content-type'] !== 'application/json') {
        return { status: 415, json: { errorMessages: ['Unsupported media type'], errors: {} } };
      }
      try {
        body = JSON.parse(req.body);
      } catch {
        return invalid({}, ['Unexpected character in the JSON body.']);
      }
    }
    if (req.method === 'POST' && url.pathname === '/rest/api/3/issue') return create(body);
    if (req.method === 'POST' && url.pathname === '/rest/api/3/search/jql') return search(body);
    if (url.pathname === '/rest/api/3/search') {
      return { status: 410, json: { errorMessages: ['The requested API has been removed.'], errors: {} } };
    }
    const get = /^\/rest\/api\/3\/issue\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && get) {
      const issue = issues.find((i) => i.id === get[1] || i.key === get[1]);
      if (!issue) {
        return {
          status: 404,
          json: {
            errorMessages: ['Issue does not exist or you do not have permission to see it.'],
            errors: {},
          },
        };
      }
      return {
        status: 200,
        json: {
          id: issue.id,
          key: issue.key,
          self: selfOf(issue.id),
          fields: { summary: issue.fields.summary },
        },
      };
    }
    return { status: 404, text: '<html><body>Oops, you&#39;ve found a dead link.</body></html>' };
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const captured: JiraRequest = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(captured);
      const path = new URL(captured.url, 'http://jira').pathname;
      const next = scripted.get(path)?.shift();
      if (next?.createThenDestroy) {
        route(captured);
        return req.socket.destroy();
      }
      const answer = next ?? route(captured);
      const status = answer.status ?? 200;
      if (answer.json !== undefined) {
        res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', ...answer.headers });
        return res.end(JSON.stringify(answer.json));
      }
      res.writeHead(status, { 'content-type': 'text/html;charset=UTF-8', ...answer.headers });
      res.end(answer.text ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}`;

  return {
    siteUrl: base,
    port,
    requests,
    issues,
    options,
    /** Answers the next requests to `path` with these, in order, instead of behaving like JIRA. */
    script: (path: string, ...answers: Scripted[]) => {
      scripted.set(path, [...(scripted.get(path) ?? []), ...answers]);
    },
    reset: () => {
      requests.length = 0;
      issues.length = 0;
      scripted.clear();
      options.searchReturnsIdsOnly = false;
      nextId = 10000;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type FakeJira = Awaited<ReturnType<typeof startFakeJira>>;
