import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { PermanentError, isPermanentError, isRateLimitedError } from '@hookflow/sdk';
import { RunStatus, StepRunStatus } from '../schema/enums';
import type { StepDefinition } from '../schema/definitions';
import type { Services } from '../services';
import type { FlowEvent } from '../services/events';
import { NO_REDACTION, Redactor } from '../services/credentials';
import { Metrics } from '../services/metrics';
import {
  FlowVersionCache,
  beginRun,
  claimStep,
  endRun,
  findRunRef,
  loadStepScope,
  settleStep,
  type ClaimedStep,
  type PinnedVersion,
  type RunRef,
} from '../services/run-store';
import { egressConnectOf } from '../plugins-host/egress';
import { executeAction } from '../plugins-host/execute';
import type { PluginRegistry } from '../plugins-host/registry';
import type { PluginSandbox } from '../plugins-host/sandbox';
import { renderString, renderValue } from '../templates';
import type {
  FlowActivities,
  FlowActivitiesV1,
  RetryPlan,
  RunStepResult,
  StepFailureDetails,
  StepPlan,
} from '../workflows/types';

export type ActivityDeps = {
  services: Services;
  registry: PluginRegistry;
  /** Where installed plugins' actions run (first-party ones run in this process). */
  sandbox: PluginSandbox;
  fetch: typeof fetch;
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** Records run and step durations and step failures. */
  metrics?: Metrics;
};

const DEFAULT_RETRY: RetryPlan = {
  maximumAttempts: 5,
  initialIntervalMs: 1000,
  backoffCoefficient: 2,
  maximumIntervalMs: 60_000,
};
const DEFAULT_TIMEOUT_MS = 60_000;
/** Heartbeats keep a long step alive; the workflow's heartbeat timeout notices a worker that died. */
const HEARTBEAT_EVERY_MS = 2_000;
/** How long a step's output is retried against an unavailable database before the attempt is given up. */
const STORE_PATIENCE_MS = 10_000;

export function createActivities(deps: ActivityDeps): FlowActivities & FlowActivitiesV1 {
  const { services, registry } = deps;
  const { db } = services;
  const versions = new FlowVersionCache(db);

  /** Events never fail a step: they are live notifications, the tables are the record. */
  const publish = (
    run: RunRef,
    e: Omit<FlowEvent, 'at' | 'workspaceId' | 'flowId' | 'runId' | 'deliveryId'>,
  ) =>
    services.events
      .publish({
        ...e,
        workspaceId: run.workspaceId,
        flowId: run.flowId,
        runId: run.runId,
        deliveryId: run.deliveryId,
      })
      .catch((err: Error) =>
        deps.log.warn(
          { err, type: e.type, runId: run.runId, stepKey: e.stepKey },
          'could not publish an event',
        ),
      );

  const pinned = async (run: RunRef): Promise<PinnedVersion> => {
    const version = await versions.get(run.flowId, run.flowVersion);
    if (!version) {
      throw ApplicationFailure.nonRetryable(
        `flow ${run.flowId} has no version ${run.flowVersion} (deleted?)`,
      );
    }
    return version;
  };

  const planOf = (step: StepDefinition): StepPlan => {
    const action = registry.resolve(step.plugin, step.action, step.pluginVersion)?.action;
    const taskQueue = registry.taskQueue(step.plugin);
    return {
      key: step.key,
      timeoutMs: action?.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      retry: { ...DEFAULT_RETRY, ...action?.retry },
      ...(taskQueue ? { taskQueue } : {}),
    };
  };

  /** Ends the run once; only the call that changed it publishes. */
  const finish = async (run: RunRef, status: RunStatus.COMPLETED | RunStatus.FAILED, error?: string) => {
    const keepsNoPayload = (await pinned(run)).trigger.storePayload === false; // cached: no query
    const startedAt = await endRun(db, run.runId, status, error, keepsNoPayload);
    if (startedAt) {
      deps.metrics?.runDuration.observe({ status }, Metrics.since(startedAt));
      await publish(run, { type: 'RUN_FINISHED', status, message: error });
    }
  };

  const activities: FlowActivities = {
    async executeStep(input) {
      let run = input.start ? undefined : input.run;
      let plan: StepPlan[] | undefined;
      if (input.start) {
        const { deliveryId, workflowId, flowVersion } = input.start;
        const begun = await beginRun(db, workflowId, deliveryId, flowVersion);
        if (!begun) throw ApplicationFailure.nonRetryable(`delivery ${deliveryId} no longer exists`);
        run = begun.ref;
        if (begun.created) await publish(run, { type: 'RUN_STARTED', status: RunStatus.RUNNING });
        if (begun.status !== RunStatus.RUNNING) {
          return {
            run,
            status: 'SUCCEEDED',
            finished: begun.status === RunStatus.FAILED ? 'FAILED' : 'COMPLETED',
          };
        }
        plan = (await pinned(run)).steps.map(planOf);
        if (plan.length === 0) {
          await finish(run, RunStatus.COMPLETED);
          return { run, plan, status: 'SUCCEEDED', finished: 'COMPLETED' };
        }
        if (plan[0]!.taskQueue) return { run, plan, status: 'ROUTED' };
      }
      const version = await pinned(run!);
      const step = version.steps[input.index];
      if (!step)
        throw ApplicationFailure.nonRetryable(`flow version ${run!.flowVersion} has no step ${input.index}`);
      const last = input.index === version.steps.length - 1;
      const { status } = await runOneStep(run!, step, input.index, version.trigger.label, planOf(step), last);
      return {
        run: run!,
        ...(plan ? { plan } : {}),
        status,
        ...(last ? { finished: 'COMPLETED' as const } : {}),
      };
    },
  };

  /**
   * One attempt of a step. Until the attempt is recorded (claimStep), a failure is the database's and is retried
   * by the engine without counting; from then on it is the plugin's attempt, counted in step_run.attempts. The
   * run ends here too: after its last step, or when a step fails for good.
   */
  async function runOneStep(
    run: RunRef,
    step: StepDefinition,
    position: number,
    flowLabel: string,
    plan: StepPlan,
    last: boolean,
  ): Promise<RunStepResult> {
    const scope = await loadStepScope(db, run, flowLabel);
    if (!scope) throw ApplicationFailure.nonRetryable(`delivery ${run.deliveryId} no longer exists`);
    const ended = async (result: RunStepResult) => {
      if (last) await finish(run, RunStatus.COMPLETED);
      return result;
    };

    if (step.when && !renderString(step.when, scope)) {
      const skipped = await claimStep(db, run.runId, step, position, {
        status: StepRunStatus.SKIPPED,
        warnings: [],
      });
      if ('settled' in skipped) return ended(await settledResult(run, step, skipped.settled));
      await publish(run, { type: 'STEP_SKIPPED', stepKey: step.key, status: StepRunStatus.SKIPPED });
      return ended({ status: 'SKIPPED' });
    }

    const rendered = renderValue(step.input, scope);
    const warnings = rendered.missing.map((ref) => `reference {{${ref}}} had no value and rendered empty`);

    // The plugin is checked (and loaded, in a worker that has not loaded it yet) and the credential opened before
    // anything is stored, so that nothing of the credential reaches the stored input, output, error or logs.
    let redact = NO_REDACTION;
    let credential: unknown;
    let failure: unknown;
    try {
      const em = db.em();
      const problem = await services.plugins?.runProblem(em, step.plugin, step.pluginVersion);
      if (problem) throw problem.permanent ? new PermanentError(problem.message) : new Error(problem.message);
      const opened = await services.credentials?.openForStep(em, run.workspaceId, step);
      if (opened) {
        credential = opened.value;
        redact = new Redactor(opened.secrets);
      }
    } catch (err) {
      failure = err;
    }

    const claim = await claimStep(db, run.runId, step, position, {
      status: StepRunStatus.RUNNING,
      input: redact.value(rendered.value),
      warnings: redact.value(warnings),
    });
    if ('settled' in claim) return ended(await settledResult(run, step, claim.settled));
    const { claimed } = claim;
    if (claimed.attempts === 1) {
      await publish(run, { type: 'STEP_STARTED', stepKey: step.key, status: StepRunStatus.RUNNING });
    }

    const activity = Context.current();
    const beat = setInterval(() => activity.heartbeat(), HEARTBEAT_EVERY_MS);
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new StepTimeout(plan.timeoutMs)), plan.timeoutMs);
    const attemptStart = performance.now();
    try {
      if (failure) throw failure;
      if (step.strictReferences && rendered.missing.length) {
        const refs = rendered.missing.map((ref) => `{{${ref}}}`).join(', ');
        throw new PermanentError(`strict references: ${refs} had no value`);
      }
      const signal = AbortSignal.any([activity.cancellationSignal, timeout.signal]);
      const output = await untilAborted(
        signal,
        executeAction({
          registry,
          sandbox: deps.sandbox,
          plugin: step.plugin,
          version: step.pluginVersion,
          action: step.action,
          input: rendered.value,
          credential,
          context: actionContext(deps, run, step.key, claimed.attempts, redact, signal),
        }),
      );
      await storeOutput(claimed, redact.value(output));
      deps.metrics?.stepDuration.observe(
        { plugin: step.plugin, status: 'SUCCEEDED' },
        Metrics.since(attemptStart),
      );
      await publish(run, { type: 'STEP_SUCCEEDED', stepKey: step.key, status: StepRunStatus.SUCCEEDED });
      return ended({ status: 'SUCCEEDED' });
    } catch (err) {
      if (err instanceof StoreFailure) throw err.cause;
      deps.metrics?.stepDuration.observe(
        { plugin: step.plugin, status: 'FAILED' },
        Metrics.since(attemptStart),
      );
      throw await failedAttempt(run, step, claimed, plan.retry, redact, err);
    } finally {
      clearTimeout(timer);
      clearInterval(beat);
    }
  }

  /** Records a failed attempt and turns it into the failure the engine acts on; the last one fails the run. */
  async function failedAttempt(
    run: RunRef,
    step: StepDefinition,
    claimed: ClaimedStep,
    retry: RetryPlan,
    redact: Redactor,
    err: unknown,
  ): Promise<ApplicationFailure> {
    const message = redact.text(err instanceof Error ? err.message : String(err));
    const permanent = isPermanentError(err);
    const last = permanent || claimed.attempts >= retry.maximumAttempts;
    deps.metrics?.stepFailures.inc({ plugin: step.plugin, final: String(last) });
    // Not retried here: if the database is away, the engine retries the whole step once it is back.
    await settleStep(db, claimed, {
      status: last ? StepRunStatus.FAILED : StepRunStatus.RUNNING,
      error: message,
    });
    if (last) {
      await publish(run, { type: 'STEP_FAILED', stepKey: step.key, status: StepRunStatus.FAILED, message });
      return failRun(run, step, message, permanent ? 'PermanentError' : 'RetriesExhausted');
    }
    const backoff = Math.min(
      retry.maximumIntervalMs,
      retry.initialIntervalMs * retry.backoffCoefficient ** (claimed.attempts - 1),
    );
    const delay = isRateLimitedError(err) ? Math.max(1, err.retryAfterSeconds) * 1000 : backoff;
    return ApplicationFailure.create({ message, type: 'StepError', nextRetryDelay: delay });
  }

  /** Ends the run as FAILED; the failure carries the run id for the workflow's answer. */
  async function failRun(run: RunRef, step: StepDefinition, message: string, type: string) {
    await finish(run, RunStatus.FAILED, `step "${step.key}" failed: ${message}`);
    const details: StepFailureDetails = { runId: run.runId };
    return ApplicationFailure.create({ message, type, nonRetryable: true, details: [details] });
  }

  /** A step that had already ended (its workflow was started again): its outcome, without running it. */
  async function settledResult(
    run: RunRef,
    step: StepDefinition,
    settled: { status: StepRunStatus; error?: string },
  ): Promise<RunStepResult> {
    if (settled.status === StepRunStatus.SUCCEEDED || settled.status === StepRunStatus.SKIPPED) {
      return { status: settled.status };
    }
    throw await failRun(run, step, settled.error ?? 'the step failed', 'RetriesExhausted');
  }

  /**
   * Stores a step's output, retrying for a while if the database is briefly away: an output that was not stored
   * means the plugin runs again on the next attempt.
   */
  async function storeOutput(claimed: ClaimedStep, output: unknown): Promise<void> {
    const outcome = { status: StepRunStatus.SUCCEEDED, output };
    const giveUpAt = Date.now() + STORE_PATIENCE_MS;
    for (let wait = 250; ; wait = Math.min(wait * 2, 2_000)) {
      try {
        return await settleStep(db, claimed, outcome);
      } catch (err) {
        if (Date.now() + wait > giveUpAt) throw new StoreFailure(err);
        await sleep(wait);
      }
    }
  }

  // The first version's activities, for workflows started before bookkeeping moved into the steps.
  const v1: FlowActivitiesV1 = {
    async prepareRun(input) {
      const { run, plan = [], finished } = await activities.executeStep({ start: input, index: 0 });
      // ROUTED is the only way the first call returns without running step 0 or finishing.
      return { runId: run.runId, finished: finished !== undefined, steps: plan };
    },
    async runStep({ runId, stepKey, maximumAttempts }) {
      const run = await findRunRef(db, runId);
      if (!run) throw ApplicationFailure.nonRetryable(`run ${runId} no longer exists`);
      const version = await pinned(run);
      const position = version.steps.findIndex((s) => s.key === stepKey);
      const step = version.steps[position];
      if (!step) {
        throw ApplicationFailure.nonRetryable(`step "${stepKey}" is not in flow version ${run.flowVersion}`);
      }
      const plan = planOf(step);
      return runOneStep(
        run,
        step,
        position,
        version.trigger.label,
        { ...plan, retry: { ...plan.retry, maximumAttempts } },
        false,
      );
    },
    async finishRun({ runId, status, error }) {
      const run = await findRunRef(db, runId);
      if (run) await finish(run, status === 'COMPLETED' ? RunStatus.COMPLETED : RunStatus.FAILED, error);
    },
  };

  return { ...activities, ...v1 };
}

/** A database failure while storing an outcome: retried by the engine like any database failure. */
class StoreFailure extends Error {
  constructor(override readonly cause: unknown) {
    super('storing the step outcome failed');
  }
}

class StepTimeout extends Error {
  constructor(ms: number) {
    super(`the step did not finish within its ${ms} ms time limit`);
  }
}

/** The action's result, or the abort reason as soon as the signal fires (a plugin may ignore its signal). */
function untilAborted<T>(signal: AbortSignal, work: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () =>
      reject(signal.reason instanceof Error ? signal.reason : new Error('the step was cancelled'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Stable across attempts and workers, so a receiver can drop a repeated call. */
function idempotencyKeyOf(run: RunRef, stepKey: string): string {
  return `${run.runId}:${stepKey}`;
}

function actionContext(
  deps: ActivityDeps,
  run: RunRef,
  stepKey: string,
  attempt: number,
  redact: Redactor,
  signal: AbortSignal,
) {
  const activity = Context.current();
  const base = { runId: run.runId, stepKey };
  const log =
    (level: 'info' | 'warn') =>
    (msg: string, data?: Record<string, unknown>): void =>
      deps.log[level](redact.value({ ...base, ...data }), redact.text(msg));
  return {
    fetch: deps.fetch,
    connect: egressConnectOf(deps.fetch),
    signal,
    heartbeat: (details?: unknown) => activity.heartbeat(redact.value(details)),
    idempotencyKey: idempotencyKeyOf(run, stepKey),
    logger: { debug: log('info'), info: log('info'), warn: log('warn'), error: log('warn') },
    run: {
      workspaceId: run.workspaceId,
      flowId: run.flowId,
      flowVersion: run.flowVersion,
      runId: run.runId,
      deliveryId: run.deliveryId,
      stepKey,
      attempt,
    },
  };
}
