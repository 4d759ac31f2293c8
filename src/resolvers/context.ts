import type { IncomingMessage } from 'node:http';
import type { EntityManager } from '@mikro-orm/core';
import { GraphQLError } from 'graphql';
import { authenticate } from '../services/api-keys';
import { UnauthenticatedError } from '../services/errors';
import type { Services } from '../services';
import type { Scope } from '../services/scope';

/** What every resolver gets: who is asking, a fresh EntityManager for this request, and the services. */
export type GraphqlContext = {
  scope: Scope;
  em: EntityManager;
  services: Services;
  /** Per-request memo (e.g. a flow's current version, read by several field resolvers). */
  cache: Map<string, Promise<unknown>>;
};

/** Memoizes `load` under `key` for the lifetime of one request's context. */
export function memo<T>(ctx: GraphqlContext, key: string, load: () => Promise<T>): Promise<T> {
  let hit = ctx.cache.get(key) as Promise<T> | undefined;
  if (!hit) {
    hit = load();
    ctx.cache.set(key, hit);
    // A failed load is not cached, so a later field resolver may try again.
    hit.catch(() => ctx.cache.delete(key));
  }
  return hit;
}

/** `Bearer <key>` → key. With `allowBare`, a value without a scheme is taken as the key itself. */
export function parseAuthorization(value: unknown, allowBare = false): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  const m = /^Bearer\s+(\S+)$/i.exec(trimmed);
  if (m) return m[1];
  if (allowBare && trimmed && !/\s/.test(trimmed)) return trimmed;
  return undefined;
}

/** The key of an HTTP request (`Authorization: Bearer <key>`). */
export function keyFromRequest(req: Pick<IncomingMessage, 'headers'>): string | undefined {
  return parseAuthorization(req.headers.authorization);
}

/**
 * The key of a WebSocket connection: `connectionParams.authorization` / `Authorization` (`Bearer <key>` or
 * the bare key); falls back to the upgrade request's Authorization header (non-browser clients).
 */
export function keyFromConnection(
  connectionParams: Readonly<Record<string, unknown>> | undefined,
  request?: Pick<IncomingMessage, 'headers'>,
): string | undefined {
  const value = connectionParams?.authorization ?? connectionParams?.Authorization;
  if (value !== undefined) return parseAuthorization(value, true);
  return request ? keyFromRequest(request) : undefined;
}

export function unauthenticated(): GraphQLError {
  const original = new UnauthenticatedError();
  return new GraphQLError(original.message, {
    originalError: original,
    extensions: { code: original.code, http: { status: 401 } },
  });
}

/** Resolves a key to a context; throws an UNAUTHENTICATED GraphQLError for a missing, unknown or revoked key. */
export async function createContext(services: Services, key: string | undefined): Promise<GraphqlContext> {
  const em = services.db.em();
  const scope = key ? await authenticate(em, key) : undefined;
  if (!scope) throw unauthenticated();
  return { scope, em, services, cache: new Map() };
}
