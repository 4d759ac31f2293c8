import type { EntityManager } from '@mikro-orm/core';
import { Run } from '../schema/Run';
import { StepRun } from '../schema/StepRun';
import { findOwned, type Scope } from './scope';

export function getRun(em: EntityManager, scope: Scope, id: string): Promise<Run> {
  return findOwned(em, Run, id, scope, 'run');
}

export function stepRuns(em: EntityManager, run: Run): Promise<StepRun[]> {
  return em.find(StepRun, { run }, { orderBy: { position: 'asc' } });
}
