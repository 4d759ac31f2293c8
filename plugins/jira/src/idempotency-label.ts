import { createHash } from 'node:crypto';

export const LABEL_PREFIX = 'hookflow-';

/**
 * The label that marks the issue a step creates: `hookflow-` and the first 16 hex digits of
 * sha256(idempotency key). The key is stable across retries of the step, so a retry finds the issue an
 * earlier attempt created; a replay of the delivery is a new run and creates a new issue.
 */
export function idempotencyLabel(idempotencyKey: string): string {
  return LABEL_PREFIX + createHash('sha256').update(idempotencyKey, 'utf8').digest('hex').slice(0, 16);
}
