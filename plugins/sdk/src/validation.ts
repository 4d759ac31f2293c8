import { PermanentError } from './errors';

/** One validation problem, with a dotted/bracketed path such as `items[0].sku`. */
export type ValidationIssue = { path: string; message: string };

/** The part of a zod 4 schema this module uses (works with schemas from another zod copy too). */
export type ParsableSchema = {
  safeParse(
    value: unknown,
  ): { success: true; data: unknown } | { success: false; error: { issues: ReadonlyArray<ZodLikeIssue> } };
};
type ZodLikeIssue = { path: ReadonlyArray<PropertyKey>; message: string };

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

export function toValidationIssues(issues: ReadonlyArray<ZodLikeIssue>): ValidationIssue[] {
  return issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
}

/** `path: message; path: message` (paths only, never the offending values). */
export function describeIssues(issues: ReadonlyArray<ValidationIssue>): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
}

/**
 * Parses `value` with `schema`; on failure throws a PermanentError whose message is
 * `<what>: <path>: <message>; …` and whose `details` is the list of issues.
 */
export function parseOrThrowPermanent<T = unknown>(schema: ParsableSchema, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data as T;
  const issues = toValidationIssues(result.error.issues);
  throw new PermanentError(`${what}: ${describeIssues(issues)}`, { details: issues });
}
