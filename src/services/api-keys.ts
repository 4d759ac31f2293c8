import type { EntityManager } from '@mikro-orm/core';
import { ApiKey } from '../schema/ApiKey';
import { ApiKeyRole } from '../schema/enums';
import { Workspace } from '../schema/Workspace';
import { newToken, sha256 } from './crypto';
import { BadInputError } from './errors';
import { findOwned, requireInstallationAdmin, requireRole, type Scope } from './scope';

const KEY_PREFIX = 'hf_';

export type CreatedKey = { apiKey: ApiKey; key: string };

async function insertKey(
  em: EntityManager,
  workspace: Workspace,
  name: string,
  role: ApiKeyRole,
  key: string,
  installationAdmin = false,
) {
  const apiKey = em.create(ApiKey, {
    workspace,
    name,
    role,
    installationAdmin,
    keyHash: sha256(key),
    prefix: key.slice(0, 10),
  });
  await em.persist(apiKey).flush();
  return apiKey;
}

/**
 * On an empty database: creates the first workspace and its admin key, which also holds the installation-level
 * right. Returns the key only when it
 * was generated here (so it can be printed once); undefined when the database was not empty.
 */
export async function bootstrap(
  em: EntityManager,
  adminKey?: string,
): Promise<{ key: string; generated: boolean } | undefined> {
  if ((await em.count(Workspace, {})) > 0) return undefined;
  const workspace = em.create(Workspace, { name: 'Default' });
  const key = adminKey ?? KEY_PREFIX + newToken();
  await insertKey(em, workspace, 'bootstrap admin', ApiKeyRole.ADMIN, key, true);
  return { key, generated: adminKey === undefined };
}

/** Resolves a bearer key to its scope, or undefined when unknown or revoked. */
export async function authenticate(em: EntityManager, key: string | undefined): Promise<Scope | undefined> {
  if (!key) return undefined;
  const found = await em.findOne(ApiKey, { keyHash: sha256(key), revokedAt: null });
  if (!found) return undefined;
  return {
    workspaceId: found.workspace.id,
    role: found.role,
    apiKeyId: found.id,
    installationAdmin: found.installationAdmin,
  };
}

export async function createApiKey(
  em: EntityManager,
  scope: Scope,
  name: string,
  role: ApiKeyRole,
  installationAdmin = false,
): Promise<CreatedKey> {
  requireRole(scope, ApiKeyRole.ADMIN);
  // Only a holder can grant the installation-level right.
  if (installationAdmin) requireInstallationAdmin(scope);
  if (!name.trim())
    throw new BadInputError('invalid API key', [{ path: 'name', message: 'must not be empty' }]);
  const key = KEY_PREFIX + newToken();
  const workspace = em.getReference(Workspace, scope.workspaceId);
  return { apiKey: await insertKey(em, workspace, name.trim(), role, key, installationAdmin), key };
}

export async function revokeApiKey(em: EntityManager, scope: Scope, id: string): Promise<ApiKey> {
  requireRole(scope, ApiKeyRole.ADMIN);
  const apiKey = await findOwned(em, ApiKey, id, scope, 'API key');
  apiKey.revokedAt ??= new Date();
  await em.flush();
  return apiKey;
}

export async function listApiKeys(em: EntityManager, scope: Scope): Promise<ApiKey[]> {
  requireRole(scope, ApiKeyRole.ADMIN);
  return em.find(ApiKey, { workspace: scope.workspaceId }, { orderBy: { createdAt: 'asc' } });
}

/** For tests and multi-workspace setups: a new workspace with its own admin key. */
export async function createWorkspace(
  em: EntityManager,
  name: string,
): Promise<{ workspace: Workspace; key: string }> {
  const workspace = em.create(Workspace, { name });
  const key = KEY_PREFIX + newToken();
  await insertKey(em, workspace, 'admin', ApiKeyRole.ADMIN, key);
  return { workspace, key };
}
