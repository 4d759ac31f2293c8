import type { EntityManager } from '@mikro-orm/core';
import { ApiKeyRole } from '../schema/enums';
import { ForbiddenError, NotFoundError } from './errors';

/** Who is asking: every service call that reads or changes workspace data takes one. */
export type Scope = {
  workspaceId: string;
  role: ApiKeyRole;
  apiKeyId: string;
  /** The installation-level right (plugins are code shared by every workspace), separate from workspace roles. */
  installationAdmin: boolean;
};

const rank: Record<ApiKeyRole, number> = { VIEWER: 0, EDITOR: 1, ADMIN: 2 };

export function requireRole(scope: Scope, role: ApiKeyRole): void {
  if (rank[scope.role] < rank[role]) {
    throw new ForbiddenError(`this operation needs the ${role} role; the key has ${scope.role}`);
  }
}

/** Installation-wide operations: a workspace ADMIN without the installation-level right is refused. */
export function requireInstallationAdmin(scope: Scope): void {
  if (!scope.installationAdmin) {
    throw new ForbiddenError(
      'this operation changes the whole installation and needs an installation admin key; workspace roles do not grant it',
    );
  }
}

type Owned = { workspace: unknown };

/**
 * The one place workspace isolation is applied: loads an entity only if it belongs to the scope's
 * workspace, and answers NOT_FOUND otherwise (never FORBIDDEN, so ids of other workspaces leak nothing).
 */
export async function findOwned<T extends object & Owned>(
  em: EntityManager,
  entity: new (...args: never[]) => T,
  id: string,
  scope: Scope,
  what: string,
): Promise<T> {
  const found = isUuid(id) ? await em.findOne(entity, { id, workspace: scope.workspaceId } as never) : null;
  if (!found) throw new NotFoundError(`${what} ${id} not found`);
  return found as T;
}

export function ownedWhere(scope: Scope): { workspace: string } {
  return { workspace: scope.workspaceId };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(id: string): boolean {
  return UUID.test(id);
}
