import { z } from 'zod';
import { MAX_RECIPIENTS, addressListSchema, headerTextProblem, senderSchema } from './addresses';

/** RFC 5322 §2.1.1: a header line may not exceed 998 characters. */
export const MAX_HEADER_TEXT = 998;
export const MAX_CUSTOM_HEADERS = 20;

const headerText = (description: string) =>
  z
    .string()
    .max(MAX_HEADER_TEXT)
    .superRefine((value, ctx) => {
      const problem = headerTextProblem(value);
      if (problem) ctx.issues.push({ code: 'custom', message: problem, input: value });
    })
    .meta({ description });

const CUSTOM_HEADER_NAME = /^X-[A-Za-z0-9][A-Za-z0-9-]{0,74}$/i;

// Custom headers are limited to X- names so they cannot replace the ones that route or authenticate mail.
const customHeaders = z.record(z.string(), headerText('Header value')).superRefine((value, ctx) => {
  const names = Object.keys(value);
  for (const name of names) {
    if (CUSTOM_HEADER_NAME.test(name)) continue;
    ctx.issues.push({
      code: 'custom',
      message: 'custom headers must be named X-… (letters, digits and dashes)',
      // A name with control characters is not repeated in the message.
      path: headerTextProblem(name) ? [] : [name],
      input: value,
    });
  }
  if (names.length > MAX_CUSTOM_HEADERS) {
    ctx.issues.push({
      code: 'custom',
      message: `at most ${MAX_CUSTOM_HEADERS} custom headers`,
      input: value,
    });
  }
});

const recipients = (description: string) =>
  addressListSchema({ required: false }).optional().meta({ description });

export const sendInput = z
  .object({
    to: addressListSchema({ required: true }).meta({
      description:
        'Recipients: an address, a comma-separated list or an array ("Name <a@example.com>" works)',
    }),
    cc: recipients('Carbon-copy recipients (same forms as "to")'),
    bcc: recipients('Blind-copy recipients: in the envelope only, never in the headers'),
    replyTo: recipients('Reply-To addresses'),
    from: senderSchema.optional().meta({ description: "Sender, instead of the credential's default sender" }),
    subject: headerText('Subject line'),
    text: z.string().optional().meta({ description: 'Plain-text body' }),
    html: z.string().optional().meta({ description: 'HTML body (sent with the text body as alternatives)' }),
    headers: customHeaders
      .optional()
      .meta({ description: 'Extra X- headers, such as {"X-Campaign": "welcome"}' }),
  })
  .superRefine((value, ctx) => {
    if (!value.text && !value.html) {
      ctx.issues.push({
        code: 'custom',
        message: 'needs a body: give "text", "html" or both',
        path: ['text'],
        input: value,
      });
    }
    const count = value.to.length + (value.cc?.length ?? 0) + (value.bcc?.length ?? 0);
    if (count > MAX_RECIPIENTS) {
      ctx.issues.push({
        code: 'custom',
        message: `at most ${MAX_RECIPIENTS} recipients in to, cc and bcc together (got ${count})`,
        path: ['to'],
        input: value,
      });
    }
  });

export const sendOutput = z.object({
  messageId: z.string().meta({ description: 'Message-ID header, the same on every retry of the step' }),
  accepted: z.array(z.string()).meta({ description: 'Recipients the server accepted' }),
  rejected: z
    .array(z.string())
    .meta({ description: 'Recipients the server refused while accepting the others' }),
  response: z.string().meta({ description: "The server's final answer, such as 250 OK: queued as …" }),
});

export type SendInput = z.input<typeof sendInput>;
export type ParsedSendInput = z.output<typeof sendInput>;
export type SendOutput = z.output<typeof sendOutput>;
