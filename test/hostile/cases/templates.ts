/**
 * Template injection: payload values that look like templates reach the step (and the SYNC answer) literally.
 * The template flow's step input is
 *   { note: '{{webhook.note}}', text: 'Note: {{webhook.note}}', meta: '{{webhook.meta}}',
 *     auth: '{{webhook.headers.authorization}}' }
 * and its SYNC answer is 200 with header X-Note and body { note } rendered from the same references.
 */
import { post, postJson, stepInput, storedFor, type HostileCase } from '../harness';

export const TEMPLATE_STEP_BODY = {
  note: '{{webhook.note}}',
  text: 'Note: {{webhook.note}}',
  meta: '{{webhook.meta}}',
  auth: '{{webhook.headers.authorization}}',
};
export const TEMPLATE_RESPONSE = {
  status: 200,
  headers: { 'X-Note': '{{webhook.note}}' },
  body: { note: '{{webhook.note}}' },
};

/** The step ran with `note` and `meta` exactly as sent, and the answer carried `note` as sent. */
const literal =
  (payload: { note?: string; meta?: unknown }): HostileCase['check'] =>
  async (reply, ctx, id) => {
    expect(reply.json).toEqual({ note: payload.note ?? null });
    const [row] = await storedFor(ctx, id);
    const input = await stepInput(ctx, row!.id);
    expect(input.body.note).toBe(payload.note ?? null);
    expect(input.body.text).toBe(`Note: ${payload.note ?? ''}`);
    if (payload.meta !== undefined) expect(input.body.meta).toEqual(payload.meta);
    expect(input.body.auth).toBe('[redacted]');
  };

const AUTH_HEADER = { authorization: 'Bearer sk_live_secret_that_must_not_leak' };
const ANSWERED: HostileCase['expect'] = { status: 200, stored: [['ACCEPTED']] };

const NOTES: [n: number, what: string, note: string][] = [
  [1, 'a reference to a step output', '{{steps.echo.output}}'],
  [2, 'a reference to the (redacted) Authorization header', '{{webhook.headers.authorization}}'],
  [3, 'a reference to the flow id', '{{flow.id}}'],
  [4, 'nested braces', '{{{{webhook.note}}}}'],
  [5, 'run and delivery ids', '{{run.id}} {{delivery.id}}'],
  [6, 'a JavaScript template literal reading the environment', '${process.env.HOOKFLOW_SECRET_KEY}'],
  [7, 'a constructor escape', "{{constructor.constructor('return process')()}}"],
  [8, 'a prototype path', '{{webhook.__proto__.polluted}}'],
  [9, 'Handlebars block syntax', '{{#each webhook}}{{this}}{{/each}}'],
  [10, 'ERB / EJS syntax', '<%= 7*7 %>'],
  [11, 'an arithmetic expression', '{{7*7}}'],
  [12, 'Ruby / Pug interpolation', '#{7*7}'],
  [13, 'a reference to itself', '{{webhook.note}}'],
  [14, 'a reference with spaces', '{{ webhook.body }}'],
  [15, 'unbalanced braces', '}}{{webhook.body'],
  [16, 'a reference to the idempotency headers', '{{webhook.headers.idempotency-key}}'],
  [17, '2000 opening braces', '{{'.repeat(1_000)],
];

export const templateCases: HostileCase[] = [
  ...NOTES.map(([n, what, note]): HostileCase => ({
    id: `H-TPL-${String(n).padStart(3, '0')}`,
    title: `a payload value with ${what} arrives literally`,
    send: (ctx, id) => postJson(ctx, ctx.flows.template, id, { note }, AUTH_HEADER),
    expect: ANSWERED,
    check: literal({ note }),
  })),
  {
    id: 'H-TPL-018',
    title: 'template keys and values inside an OBJECT variable arrive literally',
    send: (ctx, id) =>
      postJson(
        ctx,
        ctx.flows.template,
        id,
        { note: 'n', meta: { '{{flow.id}}': '{{run.id}}', list: ['{{webhook.body}}'] } },
        AUTH_HEADER,
      ),
    expect: ANSWERED,
    check: literal({ note: 'n', meta: { '{{flow.id}}': '{{run.id}}', list: ['{{webhook.body}}'] } }),
  },
  {
    id: 'H-TPL-019',
    title: 'a payload field named "headers" cannot stand in for the real (redacted) headers',
    send: (ctx, id) =>
      postJson(
        ctx,
        ctx.flows.template,
        id,
        { note: 'n', headers: { authorization: 'spoofed' } },
        AUTH_HEADER,
      ),
    expect: ANSWERED,
    check: literal({ note: 'n' }),
  },
  {
    id: 'H-TPL-020',
    title: 'a template sent form-encoded arrives literally',
    send: (ctx, id) =>
      post(ctx, ctx.flows.template, id, {
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...AUTH_HEADER },
        body: 'note=%7B%7Bflow.label%7D%7D',
      }),
    expect: ANSWERED,
    check: literal({ note: '{{flow.label}}' }),
  },
  {
    id: 'H-TPL-021',
    title: 'a CRLF in a value rendered into an answer header leaves that header out: no header injection',
    send: (ctx, id) =>
      postJson(ctx, ctx.flows.template, id, { note: 'a\r\nSet-Cookie: evil=1' }, AUTH_HEADER),
    expect: ANSWERED,
    check: async (reply, ctx, id) => {
      expect(reply.headers?.['set-cookie']).toBeUndefined();
      expect(reply.headers?.['x-note']).toBeUndefined();
      await literal({ note: 'a\r\nSet-Cookie: evil=1' })!(reply, ctx, id);
    },
  },
  {
    id: 'H-TPL-022',
    title: 'a plain value is rendered into the answer header',
    send: (ctx, id) => postJson(ctx, ctx.flows.template, id, { note: 'plain' }, AUTH_HEADER),
    expect: ANSWERED,
    check: async (reply, ctx, id) => {
      expect(reply.headers?.['x-note']).toBe('plain');
      await literal({ note: 'plain' })!(reply, ctx, id);
    },
  },
];
