import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PermanentError, isPermanentError, isRateLimitedError, testAction } from '@hookflow/sdk';
import { createEgressFetch, EgressBlockedError, type EgressFetch } from '../../../src/plugins-host/egress';
import { PluginRegistry } from '../../../src/plugins-host/registry';
import plugin from '../src';

type Hit = { method: string; url: string; headers: http.IncomingHttpHeaders; body: string };
type Answer = { status?: number; text?: string; headers?: Record<string, string>; destroy?: boolean };

const HOOK_PATH = '/services/T0001/B0001/XXXXXXXXXXXXXXXXXXXXXXXX';
let server: http.Server;
let base: string;
let closedPort: number;
let egressFetch: EgressFetch;
const hits: Hit[] = [];
/** Messages the fake webhook accepted (posted to the channel). */
const posted: unknown[] = [];
const scripted: Answer[] = [];

/** Answers like Slack's incoming webhooks: `ok`, or 400 invalid_payload / no_text, 404 no_service. */
function slackAnswer(hit: Hit): Answer {
  if (hit.url !== HOOK_PATH) return { status: 404, text: 'no_service' };
  let message: { text?: unknown; blocks?: unknown };
  try {
    message = JSON.parse(hit.body);
  } catch {
    return { status: 400, text: 'invalid_payload' };
  }
  if (message.text === undefined && message.blocks === undefined) return { status: 400, text: 'no_text' };
  posted.push(message);
  return { status: 200, text: 'ok' };
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const hit = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      hits.push(hit);
      const next = scripted.shift();
      if (next?.destroy) {
        slackAnswer(hit);
        return req.socket.destroy();
      }
      const answer = next ?? slackAnswer(hit);
      res.writeHead(answer.status ?? 200, { 'content-type': 'text/html', ...answer.headers });
      res.end(answer.text ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  egressFetch = createEgressFetch({ allow: ['127.0.0.1'] });
});

afterAll(async () => {
  await egressFetch.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  hits.length = 0;
  posted.length = 0;
  scripted.length = 0;
});

const hook = () => `${base}${HOOK_PATH}`;
const send = (
  input: Record<string, unknown>,
  extra: { signal?: AbortSignal; fetch?: typeof fetch; logger?: any } = {},
) => testAction(plugin, 'slackWebhook', { input, fetch: egressFetch, ...extra });

async function failure(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

describe('http.slackWebhook', () => {
  it('is listed in the manifest without a credential', async () => {
    const registry = await PluginRegistry.load({ packages: [{ name: '@hookflow/plugin-http' }] });
    const action = registry.list()[0]!.actions.find((a) => a.name === 'slackWebhook');
    expect(action).toMatchObject({
      displayName: 'Post to a Slack incoming webhook',
      credential: null,
      inputSchema: { type: 'object', required: ['webhookUrl'], additionalProperties: false },
    });
  });

  it('POSTs the text and blocks as JSON and returns Slack\'s "ok"', async () => {
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*Order A-1*: 12.50' } }];
    const out = await send({ webhookUrl: hook(), text: 'Order A-1', blocks });
    expect(hits).toHaveLength(1);
    expect(hits[0]!.method).toBe('POST');
    expect(hits[0]!.url).toBe(HOOK_PATH);
    expect(hits[0]!.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(hits[0]!.headers.authorization).toBeUndefined();
    expect(JSON.parse(hits[0]!.body)).toEqual({ text: 'Order A-1', blocks });
    expect(out).toEqual({ ok: true, status: 200, body: 'ok' });
    expect(posted).toEqual([{ text: 'Order A-1', blocks }]);
  });

  it('sends only the fields given', async () => {
    await send({ webhookUrl: hook(), text: 'hi' });
    await send({ webhookUrl: hook(), blocks: [{ type: 'divider' }] });
    expect(hits.map((h) => JSON.parse(h.body))).toEqual([{ text: 'hi' }, { blocks: [{ type: 'divider' }] }]);
  });

  it('warns when the URL is not on hooks.slack.com (allowed for Slack-compatible services and tests)', async () => {
    const warn = jest.fn();
    await send({ webhookUrl: hook(), text: 'hi' }, { logger: { debug() {}, info() {}, warn, error() {} } });
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('not on hooks.slack.com'));
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['no URL', { text: 'x' }, /webhookUrl: /],
    [
      'a URL that is not http(s)',
      { webhookUrl: 'ftp://hooks.slack.com/x', text: 'x' },
      /webhookUrl: must be an absolute URL/,
    ],
    [
      'neither text nor blocks',
      { webhookUrl: 'https://hooks.slack.com/services/a', text: '' },
      /text: give text, blocks or both/,
    ],
    [
      'a block without type',
      { webhookUrl: 'https://hooks.slack.com/services/a', blocks: [{}] },
      /blocks\[0\]\.type: /,
    ],
    [
      'an unknown field',
      { webhookUrl: 'https://hooks.slack.com/services/a', text: 'x', channel: '#x' },
      /channel/,
    ],
  ])('refuses %s before sending', async (_name, input, message) => {
    const err = await failure(send(input));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toMatch(/^invalid input for http\.slackWebhook: /);
    expect(err.message).toMatch(message);
    expect(hits).toHaveLength(0);
  });

  it.each<[number, string, string]>([
    [400, 'invalid_payload', 'the message is not valid JSON or has no usable fields'],
    [400, 'no_text', 'the message needs text or blocks'],
    [403, 'action_prohibited', 'a workspace admin restricted posting to this channel'],
    [404, 'channel_not_found', 'the channel of the webhook no longer exists'],
    [404, 'no_service', 'the webhook was disabled, removed or is invalid; create a new one'],
    [410, 'channel_is_archived', 'the channel of the webhook is archived'],
  ])('a %i %s answer is permanent and names the code', async (status, code, hint) => {
    scripted.push({ status, text: code });
    const err = await failure(send({ webhookUrl: hook(), text: 'x' }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(isRateLimitedError(err)).toBe(false);
    expect(err.message).toBe(
      `the Slack incoming webhook at ${new URL(base).host} answered ${status}: ${code} (${hint})`,
    );
    expect(err.details).toEqual({ status, body: code });
    expect(posted).toHaveLength(0);
  });

  it('an unknown webhook is no_service, permanent, and the URL path (the secret) is never in the message', async () => {
    const err = await failure(send({ webhookUrl: `${base}/services/T0001/B0001/wrong`, text: 'x' }));
    expect(err.message).toContain('answered 404: no_service');
    expect(err.message).not.toContain('/services/');
  });

  it('a 429 is rate-limited with Retry-After (60 s without)', async () => {
    scripted.push(
      { status: 429, text: 'rate_limited', headers: { 'retry-after': '9' } },
      { status: 429, text: '' },
    );
    const first = await failure(send({ webhookUrl: hook(), text: 'x' }));
    expect(isRateLimitedError(first)).toBe(true);
    expect(isPermanentError(first)).toBe(false);
    expect(first.retryAfterSeconds).toBe(9);
    const second = await failure(send({ webhookUrl: hook(), text: 'x' }));
    expect(second.retryAfterSeconds).toBe(60);
    expect(posted).toHaveLength(0);
  });

  it.each([500, 502, 503])('a %i answer is retryable', async (status) => {
    scripted.push({ status, text: 'rollup_error' });
    const err = await failure(send({ webhookUrl: hook(), text: 'x' }));
    expect(isPermanentError(err)).toBe(false);
    expect(isRateLimitedError(err)).toBe(false);
    expect(err.message).toBe(
      `the Slack incoming webhook at ${new URL(base).host} answered ${status}: rollup_error`,
    );
  });

  it('a redirect is not followed and is permanent', async () => {
    scripted.push({ status: 302, headers: { location: 'https://example.com/' } });
    const err = await failure(send({ webhookUrl: hook(), text: 'x' }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain('answered a redirect (302); check the webhook URL');
    expect(hits).toHaveLength(1);
  });

  it('network errors are retryable; a lost answer means a retry posts again (at-least-once)', async () => {
    const refused = await failure(
      send({ webhookUrl: `http://127.0.0.1:${closedPort}/services/x`, text: 'x' }),
    );
    expect(isPermanentError(refused)).toBe(false);
    expect(refused.message).toMatch(
      /^posting to the Slack incoming webhook at 127\.0\.0\.1:\d+ failed: .*ECONNREFUSED/,
    );

    scripted.push({ destroy: true });
    const lost = await failure(send({ webhookUrl: hook(), text: 'once' }));
    expect(isPermanentError(lost)).toBe(false);
    await send({ webhookUrl: hook(), text: 'once' });
    expect(posted).toEqual([{ text: 'once' }, { text: 'once' }]);
  });

  it('stops when the step is cancelled', async () => {
    const controller = new AbortController();
    controller.abort(new Error('step cancelled'));
    const err = await failure(send({ webhookUrl: hook(), text: 'x' }, { signal: controller.signal }));
    expect(err.message).toBe('step cancelled');
    expect(posted).toHaveLength(0);
  });

  it('goes through ctx.fetch only, so the egress policy applies', async () => {
    const globalFetch = jest.spyOn(globalThis, 'fetch');
    const strict = createEgressFetch();
    try {
      const err = await failure(send({ webhookUrl: hook(), text: 'x' }, { fetch: strict }));
      expect(err).toBeInstanceOf(EgressBlockedError);
      expect(hits).toHaveLength(0);
      expect(globalFetch).not.toHaveBeenCalled();
    } finally {
      globalFetch.mockRestore();
      await strict.close();
    }
  });
});
