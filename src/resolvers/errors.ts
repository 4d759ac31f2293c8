import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { AppError, BadInputError } from '../services/errors';

/** The part of a pino logger the GraphQL layer uses. */
export type GraphqlLogger = {
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
};

const INTERNAL = 'INTERNAL_SERVER_ERROR';

/** The error and everything it wraps (GraphQLError.originalError, Error.cause), outermost first. */
function chain(error: unknown): unknown[] {
  const out: unknown[] = [];
  let current: unknown = error;
  while (current && out.length < 8 && !out.includes(current)) {
    out.push(current);
    const next: unknown =
      current instanceof GraphQLError
        ? current.originalError
        : current instanceof Error
          ? current.cause
          : undefined;
    current = next;
  }
  return out;
}

export function findAppError(error: unknown): AppError | undefined {
  return chain(error).find((e): e is AppError => e instanceof AppError);
}

/**
 * The one mapping of errors to GraphQL responses (Apollo's formatError, also used for WebSocket operations):
 * - an AppError anywhere in the chain → its message and stable `extensions.code` (+ `issues` for bad input);
 * - errors GraphQL or Apollo produced themselves (parse, validation, variable coercion, …) keep their code;
 * - anything else is a bug or an outage: logged, and answered with a generic INTERNAL_SERVER_ERROR.
 */
export function createFormatError(log: GraphqlLogger) {
  return function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
    const where = {
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      ...(formatted.path ? { path: formatted.path } : {}),
    };
    const app = findAppError(error);
    if (app) {
      return {
        message: app.message,
        ...where,
        extensions: { code: app.code, ...(app instanceof BadInputError ? { issues: app.issues } : {}) },
      };
    }
    const {
      stacktrace: _stack,
      http: _http,
      ...extensions
    } = (formatted.extensions ?? {}) as Record<string, unknown>;
    const code = typeof extensions.code === 'string' ? extensions.code : undefined;
    const innermost = chain(error).at(-1);
    const unexpected = innermost !== undefined && !(innermost instanceof GraphQLError);
    if ((code === undefined || code === INTERNAL) && (unexpected || innermost === undefined)) {
      log.error({ err: innermost ?? error, path: formatted.path }, 'unexpected error in a GraphQL operation');
      return { message: 'Internal server error', ...where, extensions: { code: INTERNAL } };
    }
    return { ...formatted, extensions: { ...extensions, code: code ?? INTERNAL } };
  };
}

export type FormatError = ReturnType<typeof createFormatError>;

/** Formats GraphQLErrors outside Apollo (graphql-ws), the way Apollo would hand them to formatError. */
export function formatErrors(format: FormatError, errors: readonly GraphQLError[]): GraphQLFormattedError[] {
  return errors.map((e) => {
    const json = e.toJSON();
    return format({ ...json, extensions: { ...json.extensions } }, e);
  });
}
