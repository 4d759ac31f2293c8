import net, { type AddressInfo } from 'node:net';
import { z } from 'zod';
import {
  HOOKFLOW_API_VERSION,
  PermanentError,
  PluginDefinitionError,
  RateLimitedError,
  defineAction,
  defineCredential,
  definePlugin,
  isPermanentError,
  isPluginDefinition,
  isRateLimitedError,
  parseRetryAfter,
  testAction,
  type ActionContext,
  type ConnectFunction,
  type CredentialValue,
} from '@hookflow/sdk';

describe('SDK errors', () => {
  it('PermanentError has a stable name and code and keeps details and cause', () => {
    const cause = new Error('root');
    const err = new PermanentError('bad input', { details: [{ path: 'a', message: 'x' }], cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('PermanentError');
    expect(err.code).toBe('PERMANENT');
    expect(err.details).toEqual([{ path: 'a', message: 'x' }]);
    expect(err.cause).toBe(cause);
    expect(isPermanentError(err)).toBe(true);
    expect(isRateLimitedError(err)).toBe(false);
  });

  it('RateLimitedError carries retryAfterSeconds, rounded up; nonsense falls back to 60', () => {
    const err = new RateLimitedError('slow down', 2.2);
    expect(err.code).toBe('RATE_LIMITED');
    expect(err.name).toBe('RateLimitedError');
    expect(err.retryAfterSeconds).toBe(3);
    expect(isRateLimitedError(err)).toBe(true);
    expect(isPermanentError(err)).toBe(false);
    expect(new RateLimitedError('x', Number.NaN).retryAfterSeconds).toBe(60);
    expect(new RateLimitedError('x', -5).retryAfterSeconds).toBe(60);
    expect(new RateLimitedError('x').retryAfterSeconds).toBe(60);
  });

  it('the helpers recognise errors from another copy of the SDK (no instanceof)', () => {
    class ForeignPermanent extends Error {
      code = 'PERMANENT';
    }
    const foreignRateLimited = Object.assign(new Error('429'), {
      name: 'RateLimitedError',
      code: 'RATE_LIMITED',
      retryAfterSeconds: 7,
    });
    expect(isPermanentError(new ForeignPermanent('x'))).toBe(true);
    expect(isPermanentError(Object.assign(new Error('x'), { name: 'PermanentError' }))).toBe(true);
    expect(isRateLimitedError(foreignRateLimited)).toBe(true);
  });

  it.each([
    undefined,
    null,
    'PERMANENT',
    42,
    new Error('plain'),
    { code: 'RATE_LIMITED' },
    new TypeError('fetch failed'),
  ])('the helpers reject %p', (value) => {
    expect(isPermanentError(value)).toBe(false);
    expect(isRateLimitedError(value)).toBe(false);
  });

  it.each([
    ['120', 120],
    [' 5 ', 5],
    ['0', 0],
    ['1.5', 2],
    ['Wed, 21 Oct 2015 07:28:30 GMT', 30],
    ['Wed, 21 Oct 2015 07:27:00 GMT', 0],
    ['soon', undefined],
    ['', undefined],
    [null, undefined],
  ])('parseRetryAfter(%p) = %p', (value, expected) => {
    expect(parseRetryAfter(value, Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(expected);
  });
});

const account = defineCredential({
  displayName: 'Account',
  schema: z.object({ token: z.string().min(4) }),
});

const greet = defineAction({
  displayName: 'Greet',
  description: 'Says hello',
  credential: 'account',
  input: z.object({ name: z.string(), excited: z.boolean().default(false) }),
  output: z.object({ greeting: z.string(), tokenLength: z.number() }),
  retry: { maximumAttempts: 3 },
  async run(ctx: ActionContext<CredentialValue<typeof account>>, input) {
    ctx.logger.info('greeting', { name: input.name });
    // @ts-expect-error input is inferred from the input schema: there is no "age"
    expect(input.age).toBeUndefined();
    const greeting = `Hello ${input.name}${input.excited ? '!' : '.'}`;
    return { greeting, tokenLength: ctx.credential?.token.length ?? 0 };
  },
});

const fetchThing = defineAction({
  displayName: 'Fetch thing',
  description: 'Uses ctx.fetch',
  input: z.object({ id: z.string() }),
  output: z.object({ status: z.number() }),
  async run(ctx, input) {
    const res = await ctx.fetch(`https://api.example.test/things/${input.id}`, { signal: ctx.signal });
    return { status: res.status };
  },
});

const greetSocket = defineAction({
  displayName: 'Greet a socket',
  description: 'Uses ctx.connect: reads the first line a TCP service writes',
  input: z.object({ host: z.string(), port: z.number() }),
  output: z.object({ line: z.string() }),
  async run(ctx, input) {
    const socket = await ctx.connect(input.host, input.port, { signal: ctx.signal });
    const line = await new Promise<string>((resolve) => socket.once('data', (data) => resolve(String(data))));
    socket.destroy();
    return { line: line.trim() };
  },
});

const broken = defineAction({
  displayName: 'Broken',
  description: 'Returns the wrong shape',
  input: z.object({}),
  output: z.object({ n: z.number() }),
  run: () => ({ n: 'not a number' }) as unknown as { n: number },
});

const plugin = definePlugin({
  name: 'greeter',
  displayName: 'Greeter',
  description: 'Test plugin',
  credentials: { account },
  actions: { greet, fetchThing, greetSocket, broken },
});

describe('definePlugin / defineAction', () => {
  it('returns a branded, frozen definition with the API version', () => {
    expect(plugin.kind).toBe('hookflow.plugin');
    expect(plugin.apiVersion).toBe(HOOKFLOW_API_VERSION);
    expect(HOOKFLOW_API_VERSION).toBe(1);
    expect(Object.isFrozen(plugin)).toBe(true);
    expect(isPluginDefinition(plugin)).toBe(true);
    expect(Object.keys(plugin.actions)).toEqual(['greet', 'fetchThing', 'greetSocket', 'broken']);
  });

  it('refuses a malformed plugin, naming every problem', () => {
    expect(() =>
      definePlugin({
        name: 'Bad Name',
        displayName: '',
        description: 'x',
        actions: { greet },
      }),
    ).toThrow(PluginDefinitionError);
    try {
      definePlugin({ name: 'Bad Name', displayName: '', description: 'x', actions: { greet } });
    } catch (err) {
      const message = (err as Error).message;
      expect(message).toContain('name must match');
      expect(message).toContain('displayName is required');
      expect(message).toContain('needs credential "account", which the plugin does not define');
    }
    expect(() => definePlugin({ name: 'empty', displayName: 'Empty', description: '', actions: {} })).toThrow(
      /at least one action/,
    );
  });

  it('refuses an action without schemas or run', () => {
    expect(() => defineAction({ displayName: 'x', description: 'y' } as never)).toThrow(
      /input.*output.*run/s,
    );
    expect(() =>
      defineAction({
        displayName: 'x',
        description: 'y',
        input: z.object({}),
        output: z.object({}),
        retry: { backoffCoefficient: 0.5 },
        run: () => ({}),
      }),
    ).toThrow(/backoffCoefficient/);
  });
});

describe('testAction', () => {
  it('validates input (applying defaults), passes the credential and validates the output', async () => {
    const out = await testAction(plugin, 'greet', {
      input: { name: 'Ada' },
      credential: { token: 'abcdef' },
    });
    // Type inference: the result is the output schema's type.
    const greeting: string = out.greeting;
    // @ts-expect-error the output type is inferred from the schema, so greeting is not a number
    const notANumber: number = out.greeting;
    expect(typeof notANumber).toBe('string');
    expect(greeting).toBe('Hello Ada.');
    expect(out).toEqual({ greeting: 'Hello Ada.', tokenLength: 6 });
  });

  it('rejects bad input with a PermanentError listing paths and messages', async () => {
    const err = await testAction(plugin, 'greet', {
      input: { name: 5 },
      credential: { token: 'abcdef' },
    }).catch((e) => e);
    expect(isPermanentError(err)).toBe(true);
    expect(err.message).toMatch(/^invalid input for greeter\.greet: name: /);
    expect(err.details).toEqual([{ path: 'name', message: expect.any(String) }]);
  });

  it('requires and validates the credential the action declares', async () => {
    await expect(testAction(plugin, 'greet', { input: { name: 'Ada' } })).rejects.toThrow(
      'greeter.greet needs a "account" credential, but none was given',
    );
    const err = await testAction(plugin, 'greet', {
      input: { name: 'Ada' },
      credential: { token: 'x' },
    }).catch((e) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain('invalid "account" credential for greeter.greet: token:');
    expect(err.message).not.toContain('"x"');
  });

  it('uses the fetch it is given', async () => {
    const calls: string[] = [];
    const fakeFetch = (async (url: string | URL | Request) => {
      calls.push(String(url));
      return new Response('{}', { status: 202 });
    }) as typeof fetch;
    await expect(
      testAction(plugin, 'fetchThing', { input: { id: '42' }, fetch: fakeFetch }),
    ).resolves.toEqual({ status: 202 });
    expect(calls).toEqual(['https://api.example.test/things/42']);
  });

  describe('ctx.connect', () => {
    let service: net.Server;
    let port: number;
    beforeAll(async () => {
      service = net.createServer((socket) => socket.end('hello from tcp\n'));
      await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
      port = (service.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((resolve) => service.close(() => resolve())));

    it('connects with plain TCP by default (no egress checks in the harness)', async () => {
      await expect(
        testAction(plugin, 'greetSocket', { input: { host: '127.0.0.1', port } }),
      ).resolves.toEqual({ line: 'hello from tcp' });
    });

    it('uses the connect it is given (the host passes its egress-checked one)', async () => {
      const calls: string[] = [];
      const refusing: ConnectFunction = async (host, p) => {
        calls.push(`${host}:${p}`);
        throw new PermanentError(`egress blocked: ${host} — loopback address`);
      };
      const err = await testAction(plugin, 'greetSocket', {
        input: { host: '127.0.0.1', port },
        connect: refusing,
      }).catch((e) => e);
      expect(err).toBeInstanceOf(PermanentError);
      expect(err.message).toBe('egress blocked: 127.0.0.1 — loopback address');
      expect(calls).toEqual([`127.0.0.1:${port}`]);
    });

    it('rejects when nothing listens, and honours an aborted signal', async () => {
      const closed = net.createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const freePort = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      await expect(
        testAction(plugin, 'greetSocket', { input: { host: '127.0.0.1', port: freePort } }),
      ).rejects.toThrow(/ECONNREFUSED/);
      await expect(
        testAction(plugin, 'greetSocket', {
          input: { host: '127.0.0.1', port },
          signal: AbortSignal.abort(),
        }),
      ).rejects.toThrow(/aborted/);
    });
  });

  it('rejects an output that does not match the output schema', async () => {
    await expect(testAction(plugin, 'broken', { input: {} })).rejects.toThrow(
      /greeter\.broken returned an invalid output: n: /,
    );
  });

  it('rejects an unknown action', async () => {
    await expect(testAction(plugin, 'nope' as 'greet', { input: {} })).rejects.toThrow(
      'plugin "greeter" has no action "nope"',
    );
  });
});
