import { z } from 'zod';
import { templateFreeInputIssues } from '../../src/plugins-host/registry';
import { REDACTED, Redactor, credentialSecrets } from '../../src/services/credentials';

describe('credentialSecrets', () => {
  const schema = z.toJSONSchema(
    z.object({
      site: z.url().meta({ secret: false }),
      token: z.string(),
      mode: z.enum(['TLS', 'STARTTLS']),
      kind: z.literal('bearer'),
      port: z.number(),
      nested: z.object({ password: z.string(), user: z.string().meta({ secret: false }) }),
      keys: z.array(z.string()),
    }),
    { io: 'input' },
  ) as Record<string, unknown>;

  it('takes every string but those marked secret: false, enums and constants, and very short ones', () => {
    const secrets = credentialSecrets(
      {
        site: 'https://acme.atlassian.net',
        token: 'tok-123456',
        mode: 'STARTTLS',
        kind: 'bearer',
        port: 587,
        nested: { password: 'pa55word', user: 'ada@example.com' },
        keys: ['key-one', 'abc'],
        extra: 'not-in-schema',
      },
      schema,
    );
    expect(secrets.sort()).toEqual(['key-one', 'not-in-schema', 'pa55word', 'tok-123456']);
  });

  it('takes every string when the schema is unknown', () => {
    expect(credentialSecrets({ a: 'abcd', b: { c: ['efgh'] }, n: 1 }).sort()).toEqual(['abcd', 'efgh']);
  });
});

describe('Redactor', () => {
  const r = new Redactor(['s3cr3t/value', 's3cr3t', 'quo"te', 'abc']);

  it('replaces secrets in text: as they are, URL-encoded and JSON-escaped, longest first', () => {
    expect(r.text('a s3cr3t/value and s3cr3t')).toBe(`a ${REDACTED} and ${REDACTED}`);
    expect(r.text('?k=s3cr3t%2Fvalue')).toBe(`?k=${REDACTED}`);
    expect(r.text('{"v":"quo\\"te"}')).toBe(`{"v":"${REDACTED}"}`);
    // Values shorter than 4 characters are not secrets worth mangling text for.
    expect(r.text('abc')).toBe('abc');
  });

  it('replaces them in every string and key of a value, leaving other types alone', () => {
    const at = new Date(0);
    expect(r.value({ s3cr3t: ['x s3cr3t', 1, null, true, { deep: 'quo"te' }], at })).toEqual({
      [REDACTED]: [`x ${REDACTED}`, 1, null, true, { deep: REDACTED }],
      at,
    });
    expect(new Redactor([]).value('s3cr3t')).toBe('s3cr3t');
  });
});

describe('templateFreeInputIssues', () => {
  const schema = z
    .object({
      url: z.url(),
      count: z.number().int(),
      tags: z.array(z.string()).default([]),
      body: z.object({ id: z.string() }).optional(),
    })
    .strict();

  it.each([
    ['a valid input', { url: 'https://x.test', count: 1 }, []],
    ['a missing field', { count: 1 }, ['input.url']],
    ['a wrong type', { url: 'https://x.test', count: 'one' }, ['input.count']],
    ['a template where a number is expected', { url: 'https://x.test', count: '{{webhook.n}}' }, []],
    ['a template for a whole object', { url: 'https://x.test', count: 1, body: '{{webhook.body}}' }, []],
    ['a template inside an object', { url: 'https://x.test', count: 1, body: { id: '{{webhook.id}}' } }, []],
    ['an array item', { url: 'https://x.test', count: 1, tags: ['a', 2] }, ['input.tags[1]']],
    [
      'an unknown key, even next to templates',
      { url: '{{webhook.url}}', count: 1, colour: 'red' },
      ['input'],
    ],
    ['text around a template', { url: 'https://x.test/{{webhook.id}}', count: 1.5 }, ['input.count']],
  ])('%s', (_what, input, paths) => {
    expect(templateFreeInputIssues(schema, input).map((i) => i.path)).toEqual(paths);
  });
});
