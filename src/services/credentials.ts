/**
 * Credentials: secret values for a plugin's credential type, validated with the plugin's zod schema, sealed
 * with the SecretBox (AES-256-GCM, HOOKFLOW_SECRET_KEY) and opened only inside the activity that runs a step.
 * The API returns metadata only. Every secret string of an opened credential is redacted from what the step
 * stores and logs (see Redactor).
 */
import type { EntityManager } from '@mikro-orm/core';
import { PermanentError } from '@hookflow/sdk';
import { z } from 'zod';
import { Credential } from '../schema/Credential';
import { ApiKeyRole } from '../schema/enums';
import type { StepDefinition } from '../schema/definitions';
import { Workspace } from '../schema/Workspace';
import type { JsonSchema, PluginRegistry } from '../plugins-host/registry';
import type { SecretBox } from './crypto';
import { BadInputError, zodIssues, type IssueDetail } from './errors';
import { findOwned, isUuid, ownedWhere, requireRole, type Scope } from './scope';

export const createCredentialSchema = z.object({
  name: z.string().trim().min(1, 'must not be empty').max(200),
  plugin: z.string().trim().min(1, 'must name a plugin'),
  type: z.string().trim().min(1, "must name one of the plugin's credential types"),
  data: z.record(z.string(), z.unknown(), 'must be a JSON object'),
});

export type CreateCredentialInput = z.input<typeof createCredentialSchema>;

export class CredentialService {
  constructor(private readonly deps: { box: SecretBox; registry: PluginRegistry }) {}

  /** Metadata of the workspace's credentials, oldest first (never the values). */
  list(em: EntityManager, scope: Scope): Promise<Credential[]> {
    return em.find(Credential, ownedWhere(scope), { orderBy: { createdAt: 'asc', id: 'asc' } });
  }

  async create(em: EntityManager, scope: Scope, input: unknown): Promise<Credential> {
    requireRole(scope, ApiKeyRole.EDITOR);
    const parsed = createCredentialSchema.safeParse(input);
    if (!parsed.success) throw new BadInputError('invalid credential', zodIssues(parsed.error.issues));
    const { name, plugin, type, data } = parsed.data;
    const schema = this.credentialSchema(plugin, type);
    const checked = schema.safeParse(data);
    if (!checked.success) {
      throw new BadInputError(
        `invalid "${type}" credential for ${plugin}`,
        zodIssues(checked.error.issues, 'data'),
      );
    }
    if (await em.count(Credential, { ...ownedWhere(scope), name })) {
      throw new BadInputError('invalid credential', [
        { path: 'name', message: `a credential named "${name}" already exists` },
      ]);
    }
    // The value as given (not the parsed output): it is parsed again, with the pinned version's schema, at run time.
    const credential = em.create(Credential, {
      workspace: em.getReference(Workspace, scope.workspaceId),
      name,
      plugin,
      type,
      dataEncrypted: this.deps.box.encrypt(JSON.stringify(data)),
    });
    await em.persist(credential).flush();
    return credential;
  }

  /**
   * Refused while the current version of one of the workspace's flows uses it, so deleting a credential
   * never silently breaks a flow. (Older versions still referencing it fail at run time if replayed.)
   */
  async delete(em: EntityManager, scope: Scope, id: string): Promise<boolean> {
    requireRole(scope, ApiKeyRole.EDITOR);
    const credential = await findOwned(em, Credential, id, scope, 'credential');
    const users = await em.getConnection().execute<{ name: string }[]>(
      `select f.name from flow f
         join flow_version v on v.flow_id = f.id and v.version = f.version
        where f.workspace_id = ? and v.steps @> ?::jsonb
        order by f.created_at`,
      [scope.workspaceId, JSON.stringify([{ credentialId: credential.id }])],
    );
    if (users.length) {
      throw new BadInputError(`credential "${credential.name}" is in use`, [
        {
          path: 'id',
          message: `used by ${users.map((u: { name: string }) => `"${u.name}"`).join(', ')}; remove it from their steps first`,
        },
      ]);
    }
    await em.remove(credential).flush();
    return true;
  }

  /**
   * Save-time checks of the steps' credentials: a step has a credential exactly when its action needs one,
   * and it exists in the workspace with the plugin and type the action needs.
   */
  async stepIssues(em: EntityManager, scope: Scope, steps: StepDefinition[]): Promise<IssueDetail[]> {
    const ids = [...new Set(steps.map((s) => s.credentialId).filter((id): id is string => !!id))];
    const valid = ids.filter(isUuid);
    const found = valid.length ? await em.find(Credential, { ...ownedWhere(scope), id: { $in: valid } }) : [];
    const byId = new Map(found.map((c) => [c.id, c]));
    const issues: IssueDetail[] = [];
    steps.forEach((step, i) => {
      const resolved = this.deps.registry.resolve(step.plugin, step.action, step.pluginVersion);
      if (!resolved) return; // reported by the plugin checks
      const path = `steps[${i}].credentialId`;
      const needs = resolved.action.credential;
      const label = `${step.plugin}.${step.action}`;
      if (!step.credentialId) {
        if (needs) issues.push({ path, message: `${label} needs a "${needs}" credential of ${step.plugin}` });
        return;
      }
      if (!needs) {
        issues.push({ path, message: `${label} does not use a credential` });
        return;
      }
      const credential = byId.get(step.credentialId);
      if (!credential) {
        issues.push({ path, message: `credential ${step.credentialId} not found` });
      } else if (credential.plugin !== step.plugin || credential.type !== needs) {
        issues.push({
          path,
          message: `credential "${credential.name}" is a ${credential.plugin} "${credential.type}" credential; ${label} needs a ${step.plugin} "${needs}" one`,
        });
      }
    });
    return issues;
  }

  /**
   * Opens a step's credential inside the activity. Returns the value and the strings to redact. Failures are
   * permanent: retrying cannot bring a deleted credential back.
   */
  async openForStep(
    em: EntityManager,
    workspaceId: string,
    step: StepDefinition,
  ): Promise<{ value: unknown; secrets: string[] } | undefined> {
    if (!step.credentialId) return undefined;
    const credential = isUuid(step.credentialId)
      ? await em.findOne(Credential, { id: step.credentialId, workspace: workspaceId })
      : null;
    if (!credential) throw new PermanentError(`credential ${step.credentialId} no longer exists`);
    const loaded = this.deps.registry.get(step.plugin, step.pluginVersion);
    const needs = this.deps.registry.resolve(step.plugin, step.action, step.pluginVersion)?.action.credential;
    if (needs && (credential.plugin !== step.plugin || credential.type !== needs)) {
      throw new PermanentError(
        `credential "${credential.name}" is a ${credential.plugin} "${credential.type}" credential; ${step.plugin}.${step.action} needs a ${step.plugin} "${needs}" one`,
      );
    }
    let value: unknown;
    try {
      value = JSON.parse(this.deps.box.decrypt(credential.dataEncrypted));
    } catch {
      throw new PermanentError(
        `credential "${credential.name}" cannot be decrypted (was HOOKFLOW_SECRET_KEY changed without running "npm run rekey"?)`,
      );
    }
    const schema = loaded?.manifest.credentials.find((c) => c.name === credential.type)?.schema;
    return { value, secrets: credentialSecrets(value, schema) };
  }

  private credentialSchema(plugin: string, type: string): z.ZodType {
    const versions = this.deps.registry.versions(plugin);
    if (versions.length === 0) {
      throw new BadInputError('invalid credential', [
        { path: 'plugin', message: `plugin "${plugin}" is not installed` },
      ]);
    }
    // The newest version that defines the type.
    for (const version of versions) {
      const schema = this.deps.registry.get(plugin, version)!.credentialSchemas.get(type);
      if (schema) return schema;
    }
    const known = this.deps.registry.get(plugin)!.manifest.credentials.map((c) => c.name);
    throw new BadInputError('invalid credential', [
      {
        path: 'type',
        message: `plugin "${plugin}" has no credential type "${type}"${known.length ? ` (it has: ${known.join(', ')})` : ' (it needs no credentials)'}`,
      },
    ]);
  }
}

/** Shorter values are too common to redact from text without mangling it (and too short to be real secrets). */
export const MIN_SECRET_LENGTH = 4;

/**
 * The string values of a credential to redact: every string, except values the credential's JSON Schema
 * marks as not secret — `.meta({ secret: false })` in zod (a site URL, a user name) — or restricts to a
 * fixed set (`enum`/`const`, such as a TLS mode).
 */
export function credentialSecrets(value: unknown, schema?: JsonSchema): string[] {
  const out = new Set<string>();
  const walk = (v: unknown, s: JsonSchema | undefined) => {
    if (s && (s.secret === false || 'enum' in s || 'const' in s)) return;
    if (typeof v === 'string') {
      if (v.length >= MIN_SECRET_LENGTH) out.add(v);
    } else if (Array.isArray(v)) {
      v.forEach((item) => walk(item, s?.items as JsonSchema | undefined));
    } else if (v && typeof v === 'object') {
      const properties = (s?.properties ?? {}) as Record<string, JsonSchema>;
      for (const [key, inner] of Object.entries(v)) {
        walk(inner, Object.prototype.hasOwnProperty.call(properties, key) ? properties[key] : undefined);
      }
    }
  };
  walk(value, schema);
  return [...out];
}

export const REDACTED = '[redacted]';

/** Replaces secrets (as they are, URL-encoded and JSON-escaped) in text and in every string of a value. */
export class Redactor {
  private readonly needles: string[];

  constructor(secrets: readonly string[]) {
    const variants = new Set<string>();
    for (const s of secrets) {
      if (s.length < MIN_SECRET_LENGTH) continue;
      variants.add(s);
      variants.add(encodeURIComponent(s));
      variants.add(JSON.stringify(s).slice(1, -1));
    }
    this.needles = [...variants].sort((a, b) => b.length - a.length);
  }

  text(value: string): string {
    let out = value;
    for (const needle of this.needles) if (out.includes(needle)) out = out.split(needle).join(REDACTED);
    return out;
  }

  value<T>(value: T): T {
    if (this.needles.length === 0) return value;
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') return this.text(v);
      if (Array.isArray(v)) return v.map(walk);
      if (v && typeof v === 'object' && !(v instanceof Date)) {
        const out: Record<string, unknown> = {};
        for (const [k, inner] of Object.entries(v)) out[this.text(k)] = walk(inner);
        return out;
      }
      return v;
    };
    return walk(value) as T;
  }
}

export const NO_REDACTION = new Redactor([]);
