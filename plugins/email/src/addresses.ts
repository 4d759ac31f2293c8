import { z } from 'zod';
import addressparser from 'nodemailer/lib/addressparser';

/** RFC 5321 §4.5.3.1.8: servers must accept at least 100 recipients per message, more is not portable. */
export const MAX_RECIPIENTS = 100;

/** A parsed mailbox, the shape nodemailer encodes safely into address headers. */
export type Mailbox = { name: string; address: string };

type Issue = { message: string; path: PropertyKey[] };

const emailAddress = z.email();
const LINE_BREAK = /[\r\n]/;

// Line breaks would start a new header (header injection); other control characters have no place in a header.
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return true;
  }
  return false;
}

/** Why `text` cannot go into a header line, or undefined when it can. */
export function headerTextProblem(text: string): string | undefined {
  if (LINE_BREAK.test(text)) return 'must not contain line breaks';
  if (hasControlCharacter(text)) return 'must not contain control characters';
  return undefined;
}

/**
 * Parses one address field (`a@x.org`, `Name <a@x.org>`, `a@x.org, "Doe, Jane" <j@x.org>`) with
 * nodemailer's RFC 5322 address parser; groups are flattened to their members.
 */
function parseField(text: string, path: PropertyKey[], issues: Issue[]): Mailbox[] {
  const problem = headerTextProblem(text);
  if (problem) {
    issues.push({ message: problem, path });
    return [];
  }
  const parsed = addressparser(text, { flatten: true });
  const mailboxes: Mailbox[] = [];
  parsed.forEach(({ name, address }, index) => {
    // Values are not echoed (they may be personal data); the position tells which one is wrong.
    const which = parsed.length > 1 ? `address ${index + 1} of ${parsed.length}` : 'address';
    if (!emailAddress.safeParse(address).success) {
      issues.push({ message: `${which} is not a valid email address`, path });
    } else if (name?.includes('@')) {
      // `a@x.org b@x.org` parses as one mailbox named "b@x.org": a recipient would be lost silently.
      issues.push({
        message: `${which} has an "@" in its display name (separate addresses with commas)`,
        path,
      });
    } else mailboxes.push({ name: name ?? '', address });
  });
  return mailboxes;
}

/** Parses a field or a list of fields into mailboxes; `issues` collects what is wrong. */
export function parseAddresses(value: string | string[], issues: Issue[]): Mailbox[] {
  if (typeof value === 'string') return parseField(value, [], issues);
  return value.flatMap((item, index) => parseField(item, [index], issues));
}

/** One mailbox (`a@x.org` or `Name <a@x.org>`), or a human-readable problem. */
export function parseSingleMailbox(text: string): { mailbox: Mailbox } | { problem: string } {
  const issues: Issue[] = [];
  const mailboxes = parseField(text, [], issues);
  if (issues.length) return { problem: issues[0]!.message };
  if (mailboxes.length !== 1) return { problem: 'must be exactly one email address' };
  return { mailbox: mailboxes[0]! };
}

const rawAddressList = z.union([z.string(), z.array(z.string())], {
  error: 'must be an email address, a comma-separated list of them or an array of them',
});

/**
 * An address list: a string (comma-separated addresses allowed) or an array of them, parsed to
 * mailboxes. With `required`, at least one address must be left after parsing.
 */
export function addressListSchema(options: { required: boolean }) {
  return rawAddressList.transform((value, ctx): Mailbox[] => {
    if (Array.isArray(value) && value.length > MAX_RECIPIENTS) {
      ctx.issues.push({ code: 'custom', message: `at most ${MAX_RECIPIENTS} addresses`, input: value });
      return z.NEVER;
    }
    const issues: Issue[] = [];
    const mailboxes = parseAddresses(value, issues);
    if (options.required && issues.length === 0 && mailboxes.length === 0) {
      issues.push({ message: 'needs at least one email address', path: [] });
    }
    for (const issue of issues) ctx.issues.push({ code: 'custom', input: value, ...issue });
    return issues.length ? z.NEVER : mailboxes;
  });
}

/** A single sender mailbox, kept as the string it was given (it is parsed again when sending). */
export const senderSchema = z.string().superRefine((value, ctx) => {
  const parsed = parseSingleMailbox(value);
  if ('problem' in parsed) ctx.issues.push({ code: 'custom', message: parsed.problem, input: value });
});

/** The domain of an address, lower-cased (`Jane@Example.ORG` → `example.org`). */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}
