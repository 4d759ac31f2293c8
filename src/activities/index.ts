import { ApplicationFailure, Context } from '@temporalio/activity';
import { PermanentError, isPermanentError, isRateLimitedError } from '@hookflow/sdk';
import type { EntityManager } from '@mikro-orm/core';
import { RunStatus, StepRunStatus } from '../schema/enums';
import { StepRun } from '../schema/StepRun';
import type { StepDefinition } from '../schema/definitions';
import type { Services } from '../services';
import { finishRun, loadRunContext, runTemplateScope, startRun, type RunContext } from '../services/runs';
import type { FlowEvent } from '../services/events';
import { NO_REDACTION, Redactor } from '../services/credentials';
import { executeAction } from '../plugins-host/execute';
import type { PluginRegistry } from '../plugins-host/registry';
import { renderString, renderValue } from '../templates';
import type { FlowActivities, StepPlan } from '../workflows/types';

export type ActivityDeps = {
  services: Services;
  registry: PluginRegistry;
  fetch: typeof fetch;
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
};

const DEFAULT_RETRY: StepPlan['retry'] = {
  maximumAttempts: 5,
  initialIntervalMs: 1000,
  backoffCoefficient: 2,
  maximumIntervalMs: 60_000,
};
const DEFAULT_TIMEOUT_MS = 60_000;

export function createActivities(deps: ActivityDeps): FlowActivities {
  const { services, registry } = deps;
  const publish = (
    ctx: RunContext,
    e: Omit<FlowEvent, 'at' | 'workspaceId' | 'flowId' | 'runId' | 'deliveryId'>,
  ) =>
    services.events.publish({
      ...e,
      workspaceId: ctx.run.workspace.id,
      flowId: ctx.run.flow.id,
      runId: ctx.run.id,
      deliveryId: ctx.delivery.id,
    });

  return {
    async prepareRun({ deliveryId, workflowId, flowVersion }) {
      const em = services.db.em();
      const { run, created } = await startRun(em, workflowId, deliveryId, flowVersion);
      const ctx = await loadRunContext(em, run.id);
      if (created) await publish(ctx, { type: 'RUN_STARTED', status: RunStatus.RUNNING });
      const queues =
        (await services.plugins?.taskQueues(
          em,
          ctx.version.steps.map((s) => s.plugin),
        )) ?? new Map<string, string>();
      const steps = ctx.version.steps.map((step): StepPlan => {
        const action = registry.resolve(step.plugin, step.action, step.pluginVersion)?.action;
        const taskQueue = queues.get(step.plugin);
        return {
          key: step.key,
          timeoutMs: action?.timeoutMs ?? DEFAULT_TIMEOUT_MS,
          retry: { ...DEFAULT_RETRY, ...action?.retry },
          ...(taskQueue ? { taskQueue } : {}),
        };
      });
      return { runId: run.id, finished: run.status !== RunStatus.RUNNING, steps };
    },

    async runStep({ runId, stepKey, maximumAttempts }) {
      const em = services.db.em();
      const ctx = await loadRunContext(em, runId);
      const position = ctx.version.steps.findIndex((s) => s.key === stepKey);
      const step = ctx.version.steps[position];
      if (!step)
        throw ApplicationFailure.nonRetryable(
          `step "${stepKey}" is not in flow version ${ctx.version.version}`,
        );
      const done = ctx.steps.find((s) => s.stepKey === stepKey);
      if (done?.status === StepRunStatus.SUCCEEDED || done?.status === StepRunStatus.SKIPPED) {
        return { status: done.status };
      }
      const scope = runTemplateScope(ctx);
      const { attempt } = Context.current().info;

      if (step.when && !renderString(step.when, scope)) {
        await saveStep(em, ctx, step, position, {
          status: StepRunStatus.SKIPPED,
          attempts: attempt,
          finishedAt: new Date(),
        });
        await publish(ctx, { type: 'STEP_SKIPPED', stepKey, status: StepRunStatus.SKIPPED });
        return { status: 'SKIPPED' };
      }

      const rendered = renderValue(step.input, scope);
      const warnings = rendered.missing.map((ref) => `reference {{${ref}}} had no value and rendered empty`);

      // The plugin is checked (and loaded, in a worker that has not loaded it yet) and the credential opened
      // before anything is stored, so that nothing of the credential reaches the stored input, output, error or logs.
      let redact = NO_REDACTION;
      let credential: unknown;
      let failure: unknown;
      try {
        const problem = await services.plugins?.runProblem(em, step.plugin, step.pluginVersion);
        if (problem)
          throw problem.permanent ? new PermanentError(problem.message) : new Error(problem.message);
        const opened = await services.credentials?.openForStep(em, ctx.run.workspace.id, step);
        if (opened) {
          credential = opened.value;
          redact = new Redactor(opened.secrets);
        }
      } catch (err) {
        failure = err;
      }

      const stepRun = await saveStep(em, ctx, step, position, {
        status: StepRunStatus.RUNNING,
        attempts: attempt,
        input: redact.value(rendered.value),
        warnings: redact.value(warnings),
      });
      if (attempt === 1) await publish(ctx, { type: 'STEP_STARTED', stepKey, status: StepRunStatus.RUNNING });

      try {
        if (failure) throw failure;
        if (step.strictReferences && rendered.missing.length) {
          const refs = rendered.missing.map((ref) => `{{${ref}}}`).join(', ');
          throw new PermanentError(`strict references: ${refs} had no value`);
        }
        const output = await executeAction({
          registry,
          plugin: step.plugin,
          version: step.pluginVersion,
          action: step.action,
          input: rendered.value,
          credential,
          context: actionContext(deps, ctx, stepKey, attempt, redact),
        });
        stepRun.status = StepRunStatus.SUCCEEDED;
        stepRun.output = redact.value(output);
        stepRun.error = undefined;
        finishTiming(stepRun);
        await em.flush();
        await publish(ctx, { type: 'STEP_SUCCEEDED', stepKey, status: StepRunStatus.SUCCEEDED });
        return { status: 'SUCCEEDED' };
      } catch (err) {
        const message = redact.text(err instanceof Error ? err.message : String(err));
        const permanent = isPermanentError(err);
        stepRun.error = message;
        if (permanent || attempt >= maximumAttempts) {
          stepRun.status = StepRunStatus.FAILED;
          finishTiming(stepRun);
        }
        await em.flush();
        if (stepRun.status === StepRunStatus.FAILED) {
          await publish(ctx, { type: 'STEP_FAILED', stepKey, status: StepRunStatus.FAILED, message });
        }
        if (permanent) throw ApplicationFailure.nonRetryable(message, 'PermanentError');
        if (isRateLimitedError(err)) {
          throw ApplicationFailure.create({
            message,
            type: 'RateLimited',
            nextRetryDelay: Math.max(1, err.retryAfterSeconds) * 1000,
          });
        }
        throw ApplicationFailure.retryable(message, 'StepError');
      }
    },

    async finishRun({ runId, status, error }) {
      const em = services.db.em();
      const { run, changed } = await finishRun(
        em,
        runId,
        status === 'COMPLETED' ? RunStatus.COMPLETED : RunStatus.FAILED,
        error,
      );
      if (!changed) return;
      const ctx = await loadRunContext(em, run.id);
      await publish(ctx, { type: 'RUN_FINISHED', status: run.status, message: error });
    },
  };
}

async function saveStep(
  em: EntityManager,
  ctx: RunContext,
  step: StepDefinition,
  position: number,
  values: Partial<StepRun>,
): Promise<StepRun> {
  let stepRun = ctx.steps.find((s) => s.stepKey === step.key);
  if (!stepRun) {
    stepRun = em.create(StepRun, {
      run: ctx.run,
      stepKey: step.key,
      position,
      plugin: `${step.plugin}@${step.pluginVersion}`,
      action: step.action,
    });
  }
  Object.assign(stepRun, values);
  await em.persist(stepRun).flush();
  return stepRun;
}

function finishTiming(stepRun: StepRun) {
  stepRun.finishedAt = new Date();
  stepRun.durationMs = stepRun.finishedAt.getTime() - stepRun.startedAt.getTime();
}

function actionContext(
  deps: ActivityDeps,
  ctx: RunContext,
  stepKey: string,
  attempt: number,
  redact: Redactor,
) {
  const activity = Context.current();
  const base = { runId: ctx.run.id, stepKey };
  const log =
    (level: 'info' | 'warn') =>
    (msg: string, data?: Record<string, unknown>): void =>
      deps.log[level](redact.value({ ...base, ...data }), redact.text(msg));
  return {
    fetch: deps.fetch,
    signal: activity.cancellationSignal,
    heartbeat: (details?: unknown) => activity.heartbeat(redact.value(details)),
    idempotencyKey: `${ctx.run.id}:${stepKey}`,
    logger: { debug: log('info'), info: log('info'), warn: log('warn'), error: log('warn') },
    run: {
      workspaceId: ctx.run.workspace.id,
      flowId: ctx.run.flow.id,
      flowVersion: ctx.version.version,
      runId: ctx.run.id,
      deliveryId: ctx.delivery.id,
      stepKey,
      attempt,
    },
  };
}
