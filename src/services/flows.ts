import type { EntityManager } from '@mikro-orm/core';
import { FlowStatus, ApiKeyRole } from '../schema/enums';
import { Flow } from '../schema/Flow';
import { FlowVersion } from '../schema/FlowVersion';
import { WebhookTrigger } from '../schema/WebhookTrigger';
import { Workspace } from '../schema/Workspace';
import ipaddr from 'ipaddr.js';
import {
  NO_AUTH,
  stepsSchema,
  triggerSchema,
  type AuthInput,
  type StepDefinition,
  type StepInputDefinition,
  type StoredAuth,
  type TriggerDefinition,
} from '../schema/definitions';
import { WebhookAuthType } from '../schema/enums';
import { newToken, sha256, type SecretBox } from './crypto';
import { BadInputError, NotFoundError, zodIssues, type IssueDetail } from './errors';
import type { EventBus } from './events';
import { findOwned, requireRole, type Scope } from './scope';

/** What the flow service needs to know about plugins: which actions exist, at which versions. */
export interface PluginCatalog {
  hasAction(plugin: string, action: string, version: string): boolean;
  latestVersion(plugin: string): string | undefined;
  /** A disabled plugin, or a template-free input that violates the action's schema (paths relative to the step). */
  stepIssues?(plugin: string, action: string, version: string, input: unknown): IssueDetail[];
}

/** Save-time checks of the steps' credentials (exist in the workspace, match the action's type). */
export interface StepCredentialChecker {
  stepIssues(em: EntityManager, scope: Scope, steps: StepDefinition[]): Promise<IssueDetail[]>;
}

/** The longest time an old webhook URL may keep working after a rotation (7 days). */
export const MAX_TOKEN_GRACE_SECONDS = 7 * 24 * 3600;

export type FlowInput = { name?: string | null; trigger?: unknown; steps?: unknown };

export class FlowService {
  constructor(
    private readonly deps: {
      catalog: PluginCatalog;
      box: SecretBox;
      publicUrl: string;
      credentials?: StepCredentialChecker;
      /** Webhook routes are cached by every ingress process: each change of a flow is announced. */
      events: Pick<EventBus, 'announceChange'>;
    },
  ) {}

  async list(em: EntityManager, scope: Scope): Promise<Flow[]> {
    return em.find(Flow, { workspace: scope.workspaceId }, { orderBy: { createdAt: 'asc', id: 'asc' } });
  }

  get(em: EntityManager, scope: Scope, id: string): Promise<Flow> {
    return findOwned(em, Flow, id, scope, 'flow');
  }

  async create(em: EntityManager, scope: Scope, input: FlowInput): Promise<Flow> {
    requireRole(scope, ApiKeyRole.EDITOR);
    const name = this.parseName(input.name);
    const trigger = this.parseTrigger(input.trigger ?? { label: 'Webhook' });
    const steps = this.parseSteps(input.steps);
    await this.checkCredentials(em, scope, steps);
    const flow = em.create(Flow, { workspace: em.getReference(Workspace, scope.workspaceId), name });
    const token = newToken();
    em.create(WebhookTrigger, {
      flow,
      tokenHash: sha256(token),
      tokenEncrypted: this.deps.box.encrypt(token),
    });
    em.create(FlowVersion, { flow, version: 1, trigger, steps });
    await em.flush();
    return flow;
  }

  /** Every save is a new immutable version; the webhook URL stays the same. */
  async update(em: EntityManager, scope: Scope, id: string, input: FlowInput): Promise<Flow> {
    requireRole(scope, ApiKeyRole.EDITOR);
    const flow = await this.get(em, scope, id);
    const current = await this.currentVersion(em, flow);
    const name = input.name == null ? flow.name : this.parseName(input.name);
    const trigger =
      input.trigger == null ? current.trigger : this.parseTrigger(input.trigger, current.trigger.auth);
    const steps = input.steps == null ? current.steps : this.parseSteps(input.steps);
    if (input.steps != null) await this.checkCredentials(em, scope, steps);
    flow.name = name;
    flow.version = current.version + 1;
    em.create(FlowVersion, { flow, version: flow.version, trigger, steps });
    await em.flush();
    await this.deps.events.announceChange('triggers');
    return flow;
  }

  async delete(em: EntityManager, scope: Scope, id: string): Promise<boolean> {
    requireRole(scope, ApiKeyRole.EDITOR);
    const flow = await this.get(em, scope, id);
    await em.remove(flow).flush();
    await this.deps.events.announceChange('triggers');
    return true;
  }

  async setStatus(em: EntityManager, scope: Scope, id: string, status: FlowStatus): Promise<Flow> {
    requireRole(scope, ApiKeyRole.EDITOR);
    const flow = await this.get(em, scope, id);
    flow.status = status;
    await em.flush();
    await this.deps.events.announceChange('triggers');
    return flow;
  }

  /**
   * Issues a new webhook token. Without a grace period the old URL stops working at once; with one it keeps
   * working until the period ends (only the latest previous token is kept; rotating again replaces it).
   */
  async rotateToken(
    em: EntityManager,
    scope: Scope,
    id: string,
    gracePeriodSeconds?: number | null,
  ): Promise<Flow> {
    requireRole(scope, ApiKeyRole.EDITOR);
    const grace = gracePeriodSeconds ?? 0;
    if (!Number.isInteger(grace) || grace < 0 || grace > MAX_TOKEN_GRACE_SECONDS) {
      throw new BadInputError('invalid grace period', [
        {
          path: 'gracePeriodSeconds',
          message: `must be a whole number of seconds between 0 and ${MAX_TOKEN_GRACE_SECONDS}`,
        },
      ]);
    }
    const flow = await this.get(em, scope, id);
    const trigger = await em.findOneOrFail(WebhookTrigger, { flow });
    const now = new Date();
    trigger.previousTokenHash = grace > 0 ? trigger.tokenHash : undefined;
    trigger.previousTokenExpiresAt = grace > 0 ? new Date(now.getTime() + grace * 1000) : undefined;
    const token = newToken();
    trigger.tokenHash = sha256(token);
    trigger.tokenEncrypted = this.deps.box.encrypt(token);
    trigger.tokenCreatedAt = now;
    await em.flush();
    await this.deps.events.announceChange('triggers');
    return flow;
  }

  async currentVersion(em: EntityManager, flow: Flow): Promise<FlowVersion> {
    const version = await em.findOne(FlowVersion, { flow, version: flow.version });
    if (!version) throw new NotFoundError(`flow ${flow.id} has no version ${flow.version}`);
    return version;
  }

  async webhookUrl(em: EntityManager, flow: Flow): Promise<string> {
    const trigger = await em.findOneOrFail(WebhookTrigger, { flow });
    return `${this.deps.publicUrl}/api/webhook/${this.deps.box.decrypt(trigger.tokenEncrypted)}`;
  }

  private parseName(name: unknown): string {
    if (typeof name !== 'string' || !name.trim()) {
      throw new BadInputError('invalid flow', [{ path: 'name', message: 'must not be empty' }]);
    }
    return name.trim().slice(0, 200);
  }

  private parseTrigger(input: unknown, currentAuth: StoredAuth = NO_AUTH): TriggerDefinition {
    const parsed = triggerSchema.safeParse(input);
    if (!parsed.success)
      throw new BadInputError('invalid trigger', zodIssues(parsed.error.issues, 'trigger'));
    const issues: IssueDetail[] = parsed.data.ipAllowlist
      .filter((range) => !isIpOrCidr(range))
      .map((range) => ({
        path: 'trigger.ipAllowlist',
        message: `"${range}" is not an IP address or CIDR range`,
      }));
    const auth = parsed.data.auth ? this.sealAuth(parsed.data.auth, currentAuth, issues) : NO_AUTH;
    if (issues.length) throw new BadInputError('invalid trigger', issues);
    return { ...parsed.data, auth };
  }

  /**
   * Secrets are sealed before they are stored. A client cannot read them back, so an update that keeps the
   * same auth type without sending secrets keeps the stored ones.
   */
  private sealAuth(auth: AuthInput, current: StoredAuth, issues: IssueDetail[]): StoredAuth {
    const keep = auth.type === current.type;
    const sealedSecrets = auth.secrets?.length
      ? auth.secrets.map((s) => this.deps.box.encrypt(s))
      : keep
        ? current.sealedSecrets
        : [];
    const sealedPassword = auth.password
      ? this.deps.box.encrypt(auth.password)
      : keep
        ? current.sealedPassword
        : null;
    const needsSecret = auth.type !== WebhookAuthType.NONE && auth.type !== WebhookAuthType.BASIC;
    if (needsSecret && sealedSecrets.length === 0) {
      issues.push({ path: 'trigger.auth.secrets', message: `${auth.type} needs at least one secret` });
    }
    if (auth.type === WebhookAuthType.BASIC && !sealedPassword) {
      issues.push({ path: 'trigger.auth.password', message: 'is required for BASIC' });
    }
    return {
      type: auth.type,
      headerName: auth.headerName ?? null,
      username: auth.username ?? null,
      sealedSecrets,
      sealedPassword: sealedPassword ?? null,
      toleranceSeconds: auth.toleranceSeconds ?? 300,
    };
  }

  private parseSteps(input: unknown): StepDefinition[] {
    const parsed = stepsSchema.safeParse(input);
    if (!parsed.success) throw new BadInputError('invalid steps', zodIssues(parsed.error.issues, 'steps'));
    const issues: IssueDetail[] = [];
    const steps = parsed.data.map((step, i) => this.pinPlugin(step, i, issues));
    if (issues.length) throw new BadInputError('invalid steps', issues);
    return steps;
  }

  private pinPlugin(step: StepInputDefinition, index: number, issues: IssueDetail[]): StepDefinition {
    const [name, pinned] = step.plugin.split('@') as [string, string | undefined];
    const version = pinned ?? this.deps.catalog.latestVersion(name);
    if (!version) {
      issues.push({ path: `steps[${index}].plugin`, message: `plugin "${name}" is not installed` });
    } else if (!this.deps.catalog.hasAction(name, step.action, version)) {
      issues.push({
        path: `steps[${index}].action`,
        message: `plugin "${name}@${version}" has no action "${step.action}"`,
      });
    } else {
      for (const issue of this.deps.catalog.stepIssues?.(name, step.action, version, step.input) ?? []) {
        issues.push({ path: `steps[${index}].${issue.path}`, message: issue.message });
      }
    }
    return { ...step, plugin: name, pluginVersion: version ?? '' };
  }

  private async checkCredentials(em: EntityManager, scope: Scope, steps: StepDefinition[]): Promise<void> {
    const issues = (await this.deps.credentials?.stepIssues(em, scope, steps)) ?? [];
    if (issues.length) throw new BadInputError('invalid steps', issues);
  }
}

function isIpOrCidr(value: string): boolean {
  return value.includes('/') ? ipaddr.isValidCIDR(value) : ipaddr.isValid(value);
}
