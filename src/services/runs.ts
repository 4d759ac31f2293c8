import { UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/core';
import { Delivery } from '../schema/Delivery';
import { RunStatus, StepRunStatus } from '../schema/enums';
import { FlowVersion } from '../schema/FlowVersion';
import { Run } from '../schema/Run';
import { StepRun } from '../schema/StepRun';
import type { TemplateScope } from '../templates';
import { findOwned, type Scope } from './scope';

/** Creates the run of a workflow once; a retried activity gets the same run back (created = false). */
export async function startRun(
  em: EntityManager,
  workflowId: string,
  deliveryId: string,
  flowVersion?: number,
): Promise<{ run: Run; created: boolean }> {
  const existing = await em.findOne(Run, { workflowId });
  if (existing) return { run: existing, created: false };
  const delivery = await em.findOneOrFail(Delivery, { id: deliveryId });
  const run = em.create(Run, {
    workflowId,
    delivery,
    workspace: delivery.workspace,
    flow: delivery.flow,
    flowVersion: flowVersion ?? delivery.flowVersion,
  });
  try {
    await em.persist(run).flush();
    return { run, created: true };
  } catch (err) {
    if (!(err instanceof UniqueConstraintViolationException)) throw err;
    return { run: await em.fork().findOneOrFail(Run, { workflowId }), created: false };
  }
}

export type RunContext = { run: Run; delivery: Delivery; version: FlowVersion; steps: StepRun[] };

export async function loadRunContext(em: EntityManager, runId: string): Promise<RunContext> {
  const run = await em.findOneOrFail(Run, { id: runId }, { populate: ['delivery', 'flow'] });
  const version = await em.findOneOrFail(FlowVersion, { flow: run.flow, version: run.flowVersion });
  const steps = await em.find(StepRun, { run }, { orderBy: { position: 'asc' } });
  return { run, delivery: run.delivery, version, steps };
}

/** Moves a running run to its final status once; changed = false when it had already finished. */
export async function finishRun(
  em: EntityManager,
  runId: string,
  status: RunStatus,
  error?: string,
): Promise<{ run: Run; changed: boolean }> {
  const run = await em.findOneOrFail(Run, { id: runId });
  const changed = run.status === RunStatus.RUNNING;
  if (changed) {
    run.status = status;
    run.error = error;
    run.finishedAt = new Date();
    await em.nativeUpdate(
      StepRun,
      { run, status: StepRunStatus.RUNNING },
      { status: StepRunStatus.FAILED, finishedAt: new Date(), error: error ?? 'the run ended' },
    );
    await em.flush();
  }
  return { run, changed };
}

export function getRun(em: EntityManager, scope: Scope, id: string): Promise<Run> {
  return findOwned(em, Run, id, scope, 'run');
}

export function stepRuns(em: EntityManager, run: Run): Promise<StepRun[]> {
  return em.find(StepRun, { run }, { orderBy: { position: 'asc' } });
}

/** What `{{…}}` references see for a run: the delivery, the outputs of steps that succeeded, and metadata. */
export function runTemplateScope(ctx: RunContext): TemplateScope {
  // fromEntries keeps a step key such as "__proto__" an ordinary own property.
  const steps = Object.fromEntries(
    ctx.steps
      .filter((s) => s.status === StepRunStatus.SUCCEEDED)
      .map((s) => [s.stepKey, { output: s.output }]),
  );
  return {
    webhook: { body: ctx.delivery.body, headers: ctx.delivery.headers, query: ctx.delivery.query },
    steps,
    flow: { id: ctx.run.flow.id, label: ctx.version.trigger.label },
    run: { id: ctx.run.id },
    delivery: { id: ctx.delivery.id, receivedAt: ctx.delivery.receivedAt.toISOString() },
  };
}
