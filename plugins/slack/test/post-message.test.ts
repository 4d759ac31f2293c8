import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PermanentError, isPermanentError, isRateLimitedError, testAction } from '@hookflow/sdk';
import { createEgressFetch, EgressBlockedError, type EgressFetch } from '../../../src/plugins-host/egress';
import { PluginRegistry } from '../../../src/plugins-host/registry';
import plugin, { SLACK_API_URL } from '../src';
import { BOT_TOKEN, startFakeSlack, type FakeSlack } from './fake-slack';

let slack: FakeSlack;
let egressFetch: EgressFetch;
let closedPort: number;

beforeAll(async () => {
  slack = await startFakeSlack();
  egressFetch = createEgressFetch({ allow: ['127.0.0.1'] });
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

afterAll(async () => {
  await egressFetch.close();
  await slack.close();
});

beforeEach(() => slack.reset());

const credential = () => ({ token: BOT_TOKEN, baseUrl: slack.baseUrl });

const post = (
  input: Record<string, unknown>,
  extra: { credential?: unknown; signal?: AbortSignal; fetch?: typeof fetch; logger?: any } = {},
) => testAction(plugin, 'postMessage', { input, credential: credential(), fetch: egressFetch, ...extra });

/** The error a call fails with (the test fails if it succeeds). */
async function failure(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

describe('slack plugin definition', () => {
  it('is the "slack" plugin with postMessage and a botToken credential, loadable by the host', async () => {
    expect(plugin.name).toBe('slack');
    expect(Object.keys(plugin.actions)).toEqual(['postMessage']);
    expect(Object.keys(plugin.credentials)).toEqual(['botToken']);
    expect(plugin.actions.postMessage.credential).toBe('botToken');

    const registry = await PluginRegistry.load({ packages: [{ name: '@hookflow/plugin-slack' }] });
    const [manifest] = registry.list();
    expect(manifest).toMatchObject({
      name: 'slack',
      packageName: '@hookflow/plugin-slack',
      source: 'BUILTIN',
    });
    expect(manifest!.actions[0]).toMatchObject({
      name: 'postMessage',
      credential: 'botToken',
      inputSchema: { type: 'object', required: ['channel'], additionalProperties: false },
      outputSchema: { type: 'object', required: ['ok', 'channel', 'ts', 'message'] },
    });
    // The base URL is not a secret, so the host does not redact it from step results.
    expect(manifest!.credentials[0]!.schema).toMatchObject({
      required: ['token'],
      properties: { baseUrl: { secret: false }, token: { format: 'password' } },
    });
  });

  it('defaults the base URL to https://slack.com/api', async () => {
    const urls: string[] = [];
    const recordingFetch = (async (url: string | URL) => {
      urls.push(String(url));
      return new Response(JSON.stringify({ ok: true, channel: 'C1', ts: '1.2', message: {} }), {
        headers: { 'content-type': 'application/json' },
      });
    }) as typeof fetch;
    await post({ channel: 'C1', text: 'hi' }, { credential: { token: BOT_TOKEN }, fetch: recordingFetch });
    expect(SLACK_API_URL).toBe('https://slack.com/api');
    expect(urls).toEqual(['https://slack.com/api/chat.postMessage']);
  });
});

describe('slack.postMessage requests', () => {
  it('POSTs JSON to chat.postMessage with the bot token and returns ok, channel, ts and message', async () => {
    const out = await post({ channel: 'C0123456789', text: 'New order *A-1*' });
    expect(slack.requests).toHaveLength(1);
    const req = slack.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/api/chat.postMessage');
    expect(req.headers.authorization).toBe(`Bearer ${BOT_TOKEN}`);
    expect(req.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(req.body)).toEqual({ channel: 'C0123456789', text: 'New order *A-1*' });
    expect(out).toEqual({
      ok: true,
      channel: 'C0123456789',
      ts: '1712345678.000001',
      message: expect.objectContaining({ type: 'message', text: 'New order *A-1*', ts: '1712345678.000001' }),
    });
    expect(slack.messages).toEqual([{ channel: 'C0123456789', ts: out.ts, text: 'New order *A-1*' }]);
  });

  it('sends blocks, thread and unfurl options, username and icon exactly as Slack names them', async () => {
    const blocks = [
      { type: 'header', text: { type: 'plain_text', text: 'Order A-1' } },
      { type: 'section', text: { type: 'mrkdwn', text: '*Total:* 12.50' }, accessory: { type: 'image' } },
    ];
    const out = await post({
      channel: '#general',
      text: 'Order A-1',
      blocks,
      thread_ts: '1712345678.000100',
      reply_broadcast: true,
      unfurl_links: false,
      unfurl_media: false,
      mrkdwn: true,
      username: 'Shop bot',
      icon_emoji: ':package:',
    });
    expect(JSON.parse(slack.requests[0]!.body)).toEqual({
      channel: '#general',
      text: 'Order A-1',
      blocks,
      thread_ts: '1712345678.000100',
      reply_broadcast: true,
      unfurl_links: false,
      unfurl_media: false,
      mrkdwn: true,
      username: 'Shop bot',
      icon_emoji: ':package:',
    });
    expect(out.channel).toBe('C0GENERAL01');
    expect(out.message).toMatchObject({ blocks, thread_ts: '1712345678.000100' });
  });

  it('posts blocks without text, and an icon_url', async () => {
    await post({
      channel: 'C0123456789',
      blocks: [{ type: 'divider' }],
      icon_url: 'https://example.com/icon.png',
    });
    expect(JSON.parse(slack.requests[0]!.body)).toEqual({
      channel: 'C0123456789',
      blocks: [{ type: 'divider' }],
      icon_url: 'https://example.com/icon.png',
    });
  });

  it('logs the warnings Slack sends with a successful answer', async () => {
    slack.script({
      json: {
        ok: true,
        channel: 'C1',
        ts: '1.2',
        message: {},
        warning: 'missing_charset',
        response_metadata: { warnings: ['missing_charset'] },
      },
    });
    const warn = jest.fn();
    await post({ channel: 'C1', text: 'x' }, { logger: { debug() {}, info() {}, warn, error() {} } });
    expect(warn).toHaveBeenCalledWith('Slack chat.postMessage answered with warnings', {
      warnings: ['missing_charset'],
    });
  });
});

describe('slack.postMessage refuses bad input before calling Slack', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['no channel', { text: 'x' }, /channel: /],
    ['a channel with spaces', { channel: 'my channel', text: 'x' }, /channel: must not contain spaces/],
    ['neither text nor blocks', { channel: 'C1' }, /text: give text, blocks or both/],
    ['blank text and no blocks', { channel: 'C1', text: '  ' }, /text: give text, blocks or both/],
    ['a block without type', { channel: 'C1', blocks: [{ text: 'x' }] }, /blocks\[0\]\.type: /],
    ['blocks that are not objects', { channel: 'C1', blocks: ['x'] }, /blocks\[0\]: /],
    ['an empty blocks array', { channel: 'C1', blocks: [] }, /blocks: give at least one block/],
    [
      'more than 50 blocks',
      { channel: 'C1', blocks: Array.from({ length: 51 }, () => ({ type: 'divider' })) },
      /blocks: Slack accepts at most 50 blocks/,
    ],
    [
      'a malformed thread_ts',
      { channel: 'C1', text: 'x', thread_ts: 'yesterday' },
      /thread_ts: must be a Slack/,
    ],
    [
      'reply_broadcast without thread',
      { channel: 'C1', text: 'x', reply_broadcast: true },
      /needs thread_ts/,
    ],
    [
      'both icons',
      { channel: 'C1', text: 'x', icon_emoji: ':a:', icon_url: 'https://example.com/a.png' },
      /icon_url: give icon_emoji or icon_url, not both/,
    ],
    [
      'a bad icon_emoji',
      { channel: 'C1', text: 'x', icon_emoji: 'rocket' },
      /icon_emoji: must be an emoji code/,
    ],
    ['an unknown option (typo)', { channel: 'C1', text: 'x', unfurl_link: false }, /unfurl_link/],
  ])('%s', async (_name, input, message) => {
    const err = await failure(post(input));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toMatch(/^invalid input for slack\.postMessage: /);
    expect(err.message).toMatch(message);
    expect(slack.requests).toHaveLength(0);
    expect(slack.messages).toHaveLength(0);
  });

  it.each<[string, unknown, RegExp]>([
    ['a user token', { token: 'xoxp-1-2-3' }, /token: must be a Slack bot token \(xoxb-…\)/],
    ['no token', { baseUrl: 'https://slack.com/api' }, /token: /],
    [
      'a plain-http base URL that is not local',
      { token: BOT_TOKEN, baseUrl: 'http://slack.example.com/api' },
      /baseUrl: must be an https:\/\/ URL/,
    ],
    [
      'a base URL with a query',
      { token: BOT_TOKEN, baseUrl: 'https://slack.com/api?x=1' },
      /baseUrl: must be an https:\/\/ URL/,
    ],
  ])('a credential with %s', async (_name, cred, message) => {
    const err = await failure(post({ channel: 'C1', text: 'x' }, { credential: cred }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toMatch(/invalid "botToken" credential for slack\.postMessage/);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('xoxp-1-2-3');
    expect(slack.requests).toHaveLength(0);
  });
});

describe('slack.postMessage errors', () => {
  it('an HTTP 429 is rate-limited with the Retry-After seconds', async () => {
    slack.script({
      status: 429,
      headers: { 'retry-after': '17' },
      json: { ok: false, error: 'ratelimited' },
    });
    const err = await failure(post({ channel: 'C0123456789', text: 'x' }));
    expect(isRateLimitedError(err)).toBe(true);
    expect(isPermanentError(err)).toBe(false);
    expect(err.retryAfterSeconds).toBe(17);
    expect(err.message).toBe('Slack chat.postMessage was rate limited (HTTP 429): ratelimited');
    expect(slack.messages).toHaveLength(0);
  });

  it('ok:false with ratelimited or rate_limited is rate-limited (Retry-After, else 60 s)', async () => {
    slack.script(
      { headers: { 'retry-after': '3' }, json: { ok: false, error: 'ratelimited' } },
      { json: { ok: false, error: 'rate_limited' } },
    );
    const first = await failure(post({ channel: 'C0123456789', text: 'x' }));
    expect(isRateLimitedError(first)).toBe(true);
    expect(first.retryAfterSeconds).toBe(3);
    expect(first.message).toBe('Slack chat.postMessage failed: ratelimited');
    const second = await failure(post({ channel: 'C0123456789', text: 'x' }));
    expect(isRateLimitedError(second)).toBe(true);
    expect(second.retryAfterSeconds).toBe(60);
  });

  it('a wrong token is invalid_auth, permanent, and the token is not in the message', async () => {
    const err = await failure(
      post(
        { channel: 'C0123456789', text: 'x' },
        { credential: { ...credential(), token: 'xoxb-wrong-token' } },
      ),
    );
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toBe(
      'Slack chat.postMessage failed: invalid_auth (the token is not valid; check the bot token of the credential)',
    );
    expect(err.message).not.toContain('xoxb-');
    expect(err.details).toMatchObject({ status: 200, error: 'invalid_auth' });
    expect(slack.requests).toHaveLength(1);
    expect(slack.messages).toHaveLength(0);
  });

  it('an unknown channel is channel_not_found, permanent', async () => {
    const err = await failure(post({ channel: 'C9999999999', text: 'x' }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toMatch(
      /^Slack chat\.postMessage failed: channel_not_found \(the channel does not exist/,
    );
    expect(slack.messages).toHaveLength(0);
  });

  it.each([
    'not_authed',
    'account_inactive',
    'token_revoked',
    'not_in_channel',
    'is_archived',
    'msg_too_long',
    'no_text',
    'invalid_blocks',
    'restricted_action',
    'some_future_error_code',
  ])('ok:false with %s is a permanent failure naming the code', async (code) => {
    slack.script({ json: { ok: false, error: code } });
    const err = await failure(post({ channel: 'C0123456789', text: 'x' }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(isRateLimitedError(err)).toBe(false);
    expect(err.message).toMatch(new RegExp(`^Slack chat\\.postMessage failed: ${code}\\b`));
    expect(slack.requests).toHaveLength(1);
    expect(slack.messages).toHaveLength(0);
  });

  it("includes Slack's explanations: response_metadata.messages and the needed scope", async () => {
    slack.script(
      {
        json: {
          ok: false,
          error: 'invalid_blocks',
          response_metadata: {
            messages: ['[ERROR] must be more than 0 characters [json-pointer:/blocks/0/text/text]'],
          },
        },
      },
      { json: { ok: false, error: 'missing_scope', needed: 'chat:write.customize', provided: 'chat:write' } },
    );
    const blocks = await failure(post({ channel: 'C0123456789', blocks: [{ type: 'section', text: {} }] }));
    expect(blocks.message).toBe(
      'Slack chat.postMessage failed: invalid_blocks (the blocks are not valid Block Kit); ' +
        '[ERROR] must be more than 0 characters [json-pointer:/blocks/0/text/text]',
    );
    const scope = await failure(post({ channel: 'C0123456789', text: 'x', username: 'Bot' }));
    expect(scope).toBeInstanceOf(PermanentError);
    expect(scope.message).toBe(
      'Slack chat.postMessage failed: missing_scope (the Slack app lacks a scope this call needs); ' +
        'needed scope: chat:write.customize; the token has: chat:write',
    );
  });

  it.each([500, 502, 503, 504])('an HTTP %i is a retryable failure', async (status) => {
    slack.script({ status, text: 'upstream trouble' });
    const err = await failure(post({ channel: 'C0123456789', text: 'x' }));
    expect(err).toBeInstanceOf(Error);
    expect(isPermanentError(err)).toBe(false);
    expect(isRateLimitedError(err)).toBe(false);
    expect(err.message).toBe(`Slack chat.postMessage answered HTTP ${status}: upstream trouble`);
  });

  it.each(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout'])(
    'ok:false with %s is a retryable failure',
    async (code) => {
      slack.script({ json: { ok: false, error: code } });
      const err = await failure(post({ channel: 'C0123456789', text: 'x' }));
      expect(isPermanentError(err)).toBe(false);
      expect(isRateLimitedError(err)).toBe(false);
      expect(err.message).toBe(`Slack chat.postMessage failed: ${code}`);
    },
  );

  it('an answer that is not a Slack envelope is permanent (wrong base URL)', async () => {
    slack.script({ status: 200, text: '<html>portal</html>' });
    const html = await failure(post({ channel: 'C0123456789', text: 'x' }));
    expect(html).toBeInstanceOf(PermanentError);
    expect(html.message).toBe(
      'Slack chat.postMessage answered HTTP 200 with something that is not a Slack Web API answer: <html>portal</html>',
    );
    const notFound = await failure(
      post(
        { channel: 'C0123456789', text: 'x' },
        { credential: { ...credential(), baseUrl: `${slack.baseUrl}/v2` } },
      ),
    );
    expect(notFound).toBeInstanceOf(PermanentError);
    expect(notFound.message).toContain('answered HTTP 404');
    expect(slack.requests.map((r) => r.url)).toEqual(['/api/chat.postMessage', '/api/v2/chat.postMessage']);
  });

  it('a redirect is not followed and fails permanently', async () => {
    slack.script({ status: 301, headers: { location: 'https://elsewhere.example/api/chat.postMessage' } });
    const err = await failure(post({ channel: 'C0123456789', text: 'x' }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toBe(
      'Slack chat.postMessage answered a redirect (301 to https://elsewhere.example/api/chat.postMessage); check the base URL of the credential',
    );
    expect(slack.requests).toHaveLength(1);
  });

  it('network errors are retryable', async () => {
    const err = await failure(
      post(
        { channel: 'C1', text: 'x' },
        { credential: { token: BOT_TOKEN, baseUrl: `http://127.0.0.1:${closedPort}/api` } },
      ),
    );
    expect(isPermanentError(err)).toBe(false);
    expect(err.message).toMatch(/^Slack chat\.postMessage failed: fetch failed: .*ECONNREFUSED/);
  });

  it('is at-least-once: a retry after a lost answer posts a second message (documented)', async () => {
    slack.script({ destroyAfterPosting: true });
    const err = await failure(post({ channel: 'C0123456789', text: 'Order A-1' }));
    expect(isPermanentError(err)).toBe(false);
    expect(err.message).toMatch(/^Slack chat\.postMessage failed: /);
    expect(slack.messages).toHaveLength(1);
    // The host retries the step; Slack has no idempotency key for chat.postMessage.
    await post({ channel: 'C0123456789', text: 'Order A-1' });
    expect(slack.messages.map((m) => m.text)).toEqual(['Order A-1', 'Order A-1']);
  });

  it('stops when the step is cancelled', async () => {
    const controller = new AbortController();
    controller.abort(new Error('step cancelled'));
    const err = await failure(post({ channel: 'C0123456789', text: 'x' }, { signal: controller.signal }));
    expect(err.message).toBe('step cancelled');
    expect(slack.messages).toHaveLength(0);
  });

  it('goes through ctx.fetch only, so the egress policy applies', async () => {
    const globalFetch = jest.spyOn(globalThis, 'fetch');
    const strict = createEgressFetch();
    try {
      const err = await failure(post({ channel: 'C0123456789', text: 'x' }, { fetch: strict }));
      expect(err).toBeInstanceOf(EgressBlockedError);
      expect(isPermanentError(err)).toBe(true);
      expect(slack.requests).toHaveLength(0);
      expect(globalFetch).not.toHaveBeenCalled();
    } finally {
      globalFetch.mockRestore();
      await strict.close();
    }
  });
});
