import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PermanentError, isPermanentError, isRateLimitedError, testAction } from '@hookflow/sdk';
import { createEgressFetch, EgressBlockedError, type EgressFetch } from '../../../src/plugins-host/egress';
import { PluginRegistry } from '../../../src/plugins-host/registry';
import plugin, { idempotencyLabel } from '../src';
import { API_TOKEN, EMAIL, startFakeJira, type FakeJira } from './fake-jira';

let jira: FakeJira;
let egressFetch: EgressFetch;
let closedPort: number;

beforeAll(async () => {
  jira = await startFakeJira();
  egressFetch = createEgressFetch({ allow: ['127.0.0.1'] });
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

afterAll(async () => {
  await egressFetch.close();
  await jira.close();
});

beforeEach(() => jira.reset());

const KEY = 'run-1:create-ticket';
const LABEL = idempotencyLabel(KEY);
const credential = () => ({ siteUrl: jira.siteUrl, email: EMAIL, apiToken: API_TOKEN });

type Extra = {
  credential?: unknown;
  signal?: AbortSignal;
  fetch?: typeof fetch;
  idempotencyKey?: string;
  attempt?: number;
  logger?: any;
};

const create = (input: Record<string, unknown>, extra: Extra = {}) =>
  testAction(plugin, 'createIssue', {
    input,
    credential: extra.credential ?? credential(),
    fetch: extra.fetch ?? egressFetch,
    idempotencyKey: extra.idempotencyKey ?? KEY,
    run: { attempt: extra.attempt ?? 1 },
    ...(extra.signal ? { signal: extra.signal } : {}),
    ...(extra.logger ? { logger: extra.logger } : {}),
  });

async function failure(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

const basic = `Basic ${Buffer.from(`${EMAIL}:${API_TOKEN}`).toString('base64')}`;
const minimal = { projectKey: 'OPS', summary: 'Ship order A-1' };

describe('jira plugin definition', () => {
  it('is the "jira" plugin with createIssue and an apiToken credential, loadable by the host', async () => {
    expect(plugin.name).toBe('jira');
    expect(Object.keys(plugin.actions)).toEqual(['createIssue']);
    expect(Object.keys(plugin.credentials)).toEqual(['apiToken']);
    const registry = await PluginRegistry.load({ packages: [{ name: '@hookflow/plugin-jira' }] });
    const [manifest] = registry.list();
    expect(manifest).toMatchObject({ name: 'jira', packageName: '@hookflow/plugin-jira', source: 'BUILTIN' });
    expect(manifest!.actions[0]).toMatchObject({
      name: 'createIssue',
      credential: 'apiToken',
      inputSchema: { type: 'object', required: ['projectKey', 'summary'], additionalProperties: false },
      outputSchema: { type: 'object', required: ['id', 'key', 'self', 'url', 'existing'] },
    });
    // Site URL and email are not secrets: the host leaves them in step results (the issue URL holds the site).
    expect(manifest!.credentials[0]!.schema).toMatchObject({
      required: ['siteUrl', 'email', 'apiToken'],
      properties: { siteUrl: { secret: false }, email: { secret: false }, apiToken: { format: 'password' } },
    });
  });

  it('derives the label from the idempotency key: hookflow- and 16 hex digits of sha256', () => {
    expect(idempotencyLabel('run-1:create-ticket')).toMatch(/^hookflow-[0-9a-f]{16}$/);
    expect(idempotencyLabel('a')).toBe('hookflow-ca978112ca1bbdca'); // sha256("a") = ca978112ca1bbdca…
    expect(idempotencyLabel('run-1:a')).not.toBe(idempotencyLabel('run-2:a'));
  });
});

describe('jira.createIssue requests', () => {
  it('searches for the label, then creates the issue with Basic auth and every field as JIRA names it', async () => {
    const out = await create({
      projectKey: 'ops',
      issueType: 'Bug',
      summary: 'Order A-1 failed',
      description: 'The order **A-1** failed.\n\n- check the payment\n- call _Ada_',
      labels: ['shop', 'urgent'],
      priority: 'High',
      assigneeAccountId: '557058:f58131cb-b67d-43c7-b30d-6b58d40bd077',
      customFields: { customfield_10042: 'A-1', customfield_10043: { value: 'EU' } },
    });

    expect(jira.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /rest/api/3/search/jql',
      'POST /rest/api/3/issue',
    ]);
    for (const req of jira.requests) {
      expect(req.headers.authorization).toBe(basic);
      expect(req.headers['content-type']).toBe('application/json');
      expect(req.headers.accept).toBe('application/json');
    }
    expect(JSON.parse(jira.requests[0]!.body)).toEqual({
      jql: `project = "OPS" AND labels = "${LABEL}" ORDER BY created ASC`,
      fields: ['summary'],
      maxResults: 1,
    });
    expect(JSON.parse(jira.requests[1]!.body)).toEqual({
      fields: {
        project: { key: 'OPS' },
        issuetype: { name: 'Bug' },
        summary: 'Order A-1 failed',
        description: {
          type: 'doc',
          version: 1,
          content: [
            {
              type: 'paragraph',
              content: [
                { type: 'text', text: 'The order ' },
                { type: 'text', text: 'A-1', marks: [{ type: 'strong' }] },
                { type: 'text', text: ' failed.' },
              ],
            },
            {
              type: 'bulletList',
              content: [
                {
                  type: 'listItem',
                  content: [{ type: 'paragraph', content: [{ type: 'text', text: 'check the payment' }] }],
                },
                {
                  type: 'listItem',
                  content: [
                    {
                      type: 'paragraph',
                      content: [
                        { type: 'text', text: 'call ' },
                        { type: 'text', text: 'Ada', marks: [{ type: 'em' }] },
                      ],
                    },
                  ],
                },
              ],
            },
          ],
        },
        labels: ['shop', 'urgent', LABEL],
        priority: { name: 'High' },
        assignee: { accountId: '557058:f58131cb-b67d-43c7-b30d-6b58d40bd077' },
        customfield_10042: 'A-1',
        customfield_10043: { value: 'EU' },
      },
    });
    expect(out).toEqual({
      id: '10000',
      key: 'OPS-1',
      self: `${jira.siteUrl}/rest/api/3/issue/10000`,
      url: `${jira.siteUrl}/browse/OPS-1`,
      existing: false,
    });
    expect(jira.issues).toHaveLength(1);
  });

  it('defaults the issue type to Task and sends no description or extra fields when none are given', async () => {
    await create(minimal);
    expect(JSON.parse(jira.requests[1]!.body)).toEqual({
      fields: {
        project: { key: 'OPS' },
        issuetype: { name: 'Task' },
        summary: 'Ship order A-1',
        labels: [LABEL],
      },
    });
  });

  it('sends an ADF document as it is, and a parent for sub-tasks', async () => {
    const doc = {
      type: 'doc',
      version: 1,
      content: [
        { type: 'panel', attrs: { panelType: 'info' }, content: [{ type: 'paragraph', content: [] }] },
      ],
    };
    await create({ ...minimal, issueType: 'Sub-task', description: doc, parentKey: 'ops-7' });
    const fields = JSON.parse(jira.requests[1]!.body).fields;
    expect(fields.description).toEqual(doc);
    expect(fields.parent).toEqual({ key: 'OPS-7' });
  });

  it('joins a multi-line summary into one line (JIRA refuses line breaks) and skips a blank description', async () => {
    await create({ ...minimal, summary: '  Order A-1\r\n  needs   attention \n', description: '  \n ' });
    const fields = JSON.parse(jira.requests[1]!.body).fields;
    expect(fields.summary).toBe('Order A-1 needs   attention');
    expect(fields).not.toHaveProperty('description');
  });

  it('uses only the origin of the site URL', async () => {
    const out = await create(minimal, {
      credential: { ...credential(), siteUrl: `${jira.siteUrl}/jira/your-work?x=1` },
    });
    expect(jira.requests[0]!.url).toBe('/rest/api/3/search/jql');
    expect(out.url).toBe(`${jira.siteUrl}/browse/OPS-1`);
  });

  it('with deduplicate: false, neither searches nor adds the label', async () => {
    await create({ ...minimal, labels: ['shop'], deduplicate: false });
    expect(jira.requests.map((r) => r.url)).toEqual(['/rest/api/3/issue']);
    expect(JSON.parse(jira.requests[0]!.body).fields.labels).toEqual(['shop']);
  });
});

describe('jira.createIssue never creates a duplicate on retry', () => {
  it('a retry after the create answer was lost finds the labelled issue: exactly one issue', async () => {
    jira.script('/rest/api/3/issue', { createThenDestroy: true });
    const first = await failure(create(minimal, { attempt: 1 }));
    expect(isPermanentError(first)).toBe(false);
    expect(isRateLimitedError(first)).toBe(false);
    expect(first.message).toMatch(/^JIRA POST \/rest\/api\/3\/issue failed: /);
    expect(jira.issues).toHaveLength(1);

    const info = jest.fn();
    const second = await create(minimal, { attempt: 2, logger: { debug() {}, info, warn() {}, error() {} } });
    expect(second).toEqual({
      id: '10000',
      key: 'OPS-1',
      self: `${jira.siteUrl}/rest/api/3/issue/10000`,
      url: `${jira.siteUrl}/browse/OPS-1`,
      existing: true,
    });
    expect(info).toHaveBeenCalledWith('an earlier attempt already created the issue; not creating another', {
      key: 'OPS-1',
      label: LABEL,
    });
    expect(jira.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /rest/api/3/search/jql',
      'POST /rest/api/3/issue',
      'POST /rest/api/3/search/jql',
    ]);
    expect(jira.issues).toHaveLength(1);
    expect(jira.issues[0]!.fields.labels).toEqual([LABEL]);
  });

  it('a third run of the same step still returns the same issue', async () => {
    const a = await create(minimal);
    const b = await create(minimal, { attempt: 2 });
    const c = await create(minimal, { attempt: 3 });
    expect([a.key, b.key, c.key]).toEqual(['OPS-1', 'OPS-1', 'OPS-1']);
    expect([a.existing, b.existing, c.existing]).toEqual([false, true, true]);
    expect(jira.issues).toHaveLength(1);
  });

  it('other steps or runs (other idempotency keys) create their own issues', async () => {
    await create(minimal, { idempotencyKey: 'run-1:a' });
    await create(minimal, { idempotencyKey: 'run-1:b' });
    await create(minimal, { idempotencyKey: 'run-2:a' });
    expect(jira.issues.map((i) => i.key)).toEqual(['OPS-1', 'OPS-2', 'OPS-3']);
  });

  it('reads the key when the search returns only issue IDs', async () => {
    await create(minimal);
    jira.options.searchReturnsIdsOnly = true;
    jira.requests.length = 0;
    const again = await create(minimal, { attempt: 2 });
    expect(again).toMatchObject({ id: '10000', key: 'OPS-1', existing: true });
    expect(jira.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /rest/api/3/search/jql',
      'GET /rest/api/3/issue/10000?fields=summary',
    ]);
    expect(jira.requests[1]!.headers.authorization).toBe(basic);
    expect(jira.requests[1]!.headers['content-type']).toBeUndefined();
    expect(jira.issues).toHaveLength(1);
  });
});

describe('jira.createIssue refuses bad input before calling JIRA', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['no summary', { projectKey: 'OPS' }, /summary: /],
    ['a blank summary', { projectKey: 'OPS', summary: '   ' }, /summary: must not be empty/],
    [
      'a summary over 255 characters',
      { projectKey: 'OPS', summary: 'x'.repeat(256) },
      /summary: JIRA accepts at most 255/,
    ],
    ['no project', { summary: 'x' }, /projectKey: /],
    [
      'a malformed project key',
      { projectKey: 'my project', summary: 'x' },
      /projectKey: must be a project key/,
    ],
    [
      'a label with a space',
      { ...minimal, labels: ['two words'] },
      /labels\[0\]: JIRA labels cannot contain spaces/,
    ],
    [
      'a custom field that is not customfield_<n>',
      { ...minimal, customFields: { duedate: '2025-01-01' } },
      /customFields\.duedate: custom fields are named customfield_<number>/,
    ],
    ['a malformed parent key', { ...minimal, parentKey: 'OPS' }, /parentKey: must be an issue key/],
    [
      'a description that is neither text nor ADF',
      { ...minimal, description: { type: 'paragraph' } },
      /description: /,
    ],
    ['an unknown option (typo)', { ...minimal, assignee: 'ada' }, /assignee/],
  ])('%s', async (_name, input, message) => {
    const err = await failure(create(input));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toMatch(/^invalid input for jira\.createIssue: /);
    expect(err.message).toMatch(message);
    expect(jira.requests).toHaveLength(0);
    expect(jira.issues).toHaveLength(0);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    [
      'a plain-http site that is not local',
      { siteUrl: 'http://acme.atlassian.net' },
      /siteUrl: must be an https:\/\//,
    ],
    [
      'a site URL with credentials',
      { siteUrl: 'https://u:p@acme.atlassian.net' },
      /siteUrl: must be an https:\/\//,
    ],
    ['a malformed email', { email: 'ada' }, /email: must be the email address/],
    ['an empty API token', { apiToken: ' ' }, /apiToken: must not be empty/],
  ])('a credential with %s', async (_name, change, message) => {
    const err = await failure(create(minimal, { credential: { ...credential(), ...change } }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toMatch(/invalid "apiToken" credential for jira\.createIssue/);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain(API_TOKEN);
    expect(jira.requests).toHaveLength(0);
  });
});

describe('jira.createIssue errors', () => {
  it('401 (wrong API token) is permanent, and the token is not in the message', async () => {
    const err = await failure(create(minimal, { credential: { ...credential(), apiToken: 'wrong-token' } }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toBe(
      'JIRA refused the credentials while looking for an issue created by an earlier attempt (401): ' +
        'Client must be authenticated to access this resource.; check the email and API token of the credential',
    );
    expect(err.message).not.toContain('wrong-token');
    expect(err.details).toMatchObject({ status: 401 });
    expect(jira.requests).toHaveLength(1);
    expect(jira.issues).toHaveLength(0);
  });

  it('403 is permanent with the JIRA messages', async () => {
    jira.script('/rest/api/3/issue', {
      status: 403,
      json: { errorMessages: ['You do not have permission to create issues in this project.'], errors: {} },
    });
    const err = await failure(create(minimal));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toBe(
      'JIRA denied access while creating the issue (403): You do not have permission to create issues in this project.; ' +
        'the account needs the Browse projects and Create issues permissions',
    );
    expect(jira.issues).toHaveLength(0);
  });

  it('400 with field errors is permanent and lists every field message', async () => {
    const err = await failure(
      create({
        ...minimal,
        issueType: 'Incident',
        priority: 'Urgent',
        customFields: { customfield_99999: 1 },
      }),
    );
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toBe(
      'JIRA refused creating the issue (400): issuetype: Specify a valid issue type; ' +
        'priority: The priority selected is invalid.; ' +
        "customfield_99999: Field 'customfield_99999' cannot be set. It is not on the appropriate screen, or unknown.",
    );
    expect(err.details).toEqual({
      status: 400,
      errorMessages: [],
      errors: {
        issuetype: 'Specify a valid issue type',
        priority: 'The priority selected is invalid.',
        customfield_99999:
          "Field 'customfield_99999' cannot be set. It is not on the appropriate screen, or unknown.",
      },
    });
    expect(jira.issues).toHaveLength(0);
  });

  it('an unknown project is permanent (the search refuses it before anything is created)', async () => {
    const err = await failure(create({ ...minimal, projectKey: 'NOPE' }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toBe(
      "JIRA refused looking for an issue created by an earlier attempt (400): The value 'NOPE' does not exist for the field 'project'.",
    );
    expect(jira.requests).toHaveLength(1);
    expect(jira.issues).toHaveLength(0);
  });

  it('404 is permanent and points at the site URL and project key', async () => {
    jira.script('/rest/api/3/issue', {
      status: 404,
      json: { errorMessages: ["No project could be found with key 'OPS'."], errors: {} },
    });
    const err = await failure(create(minimal));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toBe(
      "JIRA answered 404 while creating the issue: No project could be found with key 'OPS'.; check the site URL and the project key",
    );
    expect(jira.issues).toHaveLength(0);
  });

  it('429 is rate-limited with Retry-After, or X-RateLimit-Reset, or 60 s', async () => {
    jira.script(
      '/rest/api/3/search/jql',
      {
        status: 429,
        headers: { 'retry-after': '30' },
        json: { errorMessages: ['Rate limit exceeded.'], errors: {} },
      },
      {
        status: 429,
        headers: { 'x-ratelimit-reset': new Date(Date.now() + 90_000).toISOString() },
        text: '',
      },
      { status: 429, text: '' },
    );
    const first = await failure(create(minimal));
    expect(isRateLimitedError(first)).toBe(true);
    expect(isPermanentError(first)).toBe(false);
    expect(first.retryAfterSeconds).toBe(30);
    expect(first.message).toBe(
      'JIRA rate limit hit while looking for an issue created by an earlier attempt (429): Rate limit exceeded.',
    );
    const second = await failure(create(minimal));
    expect(second.retryAfterSeconds).toBeGreaterThan(80);
    expect(second.retryAfterSeconds).toBeLessThanOrEqual(90);
    const third = await failure(create(minimal));
    expect(third.retryAfterSeconds).toBe(60);
    expect(jira.issues).toHaveLength(0);
  });

  it('429 on create is rate-limited too, and nothing is created', async () => {
    jira.script('/rest/api/3/issue', { status: 429, headers: { 'retry-after': '5' }, text: '' });
    const err = await failure(create(minimal));
    expect(isRateLimitedError(err)).toBe(true);
    expect(err.retryAfterSeconds).toBe(5);
    expect(jira.issues).toHaveLength(0);
  });

  it.each([500, 502, 504])('%i is a retryable failure', async (status) => {
    jira.script('/rest/api/3/issue', { status, text: 'Bad gateway' });
    const err = await failure(create(minimal));
    expect(isPermanentError(err)).toBe(false);
    expect(isRateLimitedError(err)).toBe(false);
    expect(err.message).toBe(`JIRA answered ${status} while creating the issue: Bad gateway`);
    expect(jira.issues).toHaveLength(0);
  });

  it('503 with Retry-After waits as asked', async () => {
    jira.script('/rest/api/3/issue', { status: 503, headers: { 'retry-after': '12' }, text: 'busy' });
    const err = await failure(create(minimal));
    expect(isRateLimitedError(err)).toBe(true);
    expect(err.retryAfterSeconds).toBe(12);
    expect(err.message).toBe('JIRA answered 503 while creating the issue: busy');
  });

  it('a redirect is not followed and is permanent', async () => {
    jira.script('/rest/api/3/search/jql', {
      status: 302,
      headers: { location: 'https://id.atlassian.com/login' },
    });
    const err = await failure(create(minimal));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toBe(
      'JIRA answered a redirect (302 to https://id.atlassian.com/login) while looking for an issue created by an earlier attempt; check the site URL of the credential',
    );
    expect(jira.requests).toHaveLength(1);
  });

  it('a 2xx answer that is not JIRA JSON is permanent', async () => {
    jira.script('/rest/api/3/search/jql', { status: 200, text: '<html>login</html>' });
    const html = await failure(create(minimal));
    expect(html).toBeInstanceOf(PermanentError);
    expect(html.message).toBe(
      'JIRA answered 200 with something that is not JSON while looking for an issue created by an earlier attempt; check the site URL of the credential',
    );
    jira.script('/rest/api/3/search/jql', { status: 200, json: { values: [] } });
    const shape = await failure(create(minimal));
    expect(shape).toBeInstanceOf(PermanentError);
    expect(shape.message).toBe(
      'JIRA answered the search with an unexpected body; check the site URL of the credential',
    );
    expect(jira.issues).toHaveLength(0);
  });

  it('network errors are retryable', async () => {
    const err = await failure(
      create(minimal, { credential: { ...credential(), siteUrl: `http://127.0.0.1:${closedPort}` } }),
    );
    expect(isPermanentError(err)).toBe(false);
    expect(err.message).toMatch(
      /^JIRA POST \/rest\/api\/3\/search\/jql failed: fetch failed: .*ECONNREFUSED/,
    );
  });

  it('stops when the step is cancelled', async () => {
    const controller = new AbortController();
    controller.abort(new Error('step cancelled'));
    const err = await failure(create(minimal, { signal: controller.signal }));
    expect(err.message).toBe('step cancelled');
    expect(jira.issues).toHaveLength(0);
  });

  it('goes through ctx.fetch only, so the egress policy applies', async () => {
    const globalFetch = jest.spyOn(globalThis, 'fetch');
    const strict = createEgressFetch();
    try {
      const err = await failure(create(minimal, { fetch: strict }));
      expect(err).toBeInstanceOf(EgressBlockedError);
      expect(isPermanentError(err)).toBe(true);
      expect(jira.requests).toHaveLength(0);
      expect(globalFetch).not.toHaveBeenCalled();
    } finally {
      globalFetch.mockRestore();
      await strict.close();
    }
  });
});
