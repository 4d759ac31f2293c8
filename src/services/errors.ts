/** One error class per kind, each with a stable code; mapped to HTTP and GraphQL in one place (errorStatus / formatError). */

export type IssueDetail = { path: string; message: string };

export abstract class AppError extends Error {
  abstract readonly code: string;
  abstract readonly httpStatus: number;
}

export class BadInputError extends AppError {
  readonly code = 'BAD_USER_INPUT';
  readonly httpStatus = 400;
  constructor(
    message: string,
    readonly issues: IssueDetail[] = [],
  ) {
    super(issues.length ? `${message}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}` : message);
  }
}

export class NotFoundError extends AppError {
  readonly code = 'NOT_FOUND';
  readonly httpStatus = 404;
}

export class UnauthenticatedError extends AppError {
  readonly code = 'UNAUTHENTICATED';
  readonly httpStatus = 401;
  constructor(message = 'a valid API key is required (Authorization: Bearer <key>)') {
    super(message);
  }
}

export class ForbiddenError extends AppError {
  readonly code = 'FORBIDDEN';
  readonly httpStatus = 403;
}

export class UnavailableError extends AppError {
  readonly code = 'UNAVAILABLE';
  readonly httpStatus = 503;
}

/** zod issues → our {path, message} list, with paths like `steps[0].key`. */
export function zodIssues(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  prefix = '',
): IssueDetail[] {
  return issues.map((i) => ({
    path: formatPath([prefix, ...i.path].filter((p) => p !== '')),
    message: i.message,
  }));
}

export function formatPath(parts: readonly PropertyKey[]): string {
  return parts
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}
