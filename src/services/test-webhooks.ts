import type { EntityManager } from '@mikro-orm/core';
import { Delivery, type ValidationIssue } from '../schema/Delivery';
import { ApiKeyRole, DeliveryStatus, ValidationMode } from '../schema/enums';
import { Flow } from '../schema/Flow';
import type { Services } from '.';
import { triggerOfFlow, type ActiveTrigger } from './active-triggers';
import { markDispatched, recordDelivery } from './deliveries';
import { BadInputError, NotFoundError } from './errors';
import { findOwned, requireRole, type Scope } from './scope';
import { findUnstorableText } from './unstorable-text';

/** The trigger's payload check, as the ingress runs it (injected: services do not import the ingress). */
export type PayloadCheck = (active: ActiveTrigger, body: unknown) => ValidationIssue[];

/** Headers a test delivery is recorded with, so it can be told apart in the delivery list. */
export const TEST_HEADERS = { 'content-type': 'application/json', 'user-agent': 'Hookflow-Test-Webhook' };

/**
 * Records a delivery marked `isTest` with `payload` as its JSON body and starts its run, like the ingress
 * would for a request: same validation (STRICT refuses with the same issues, LENIENT records them), same
 * size limit, same commit-then-start order. The trigger's auth and IP allowlist do not apply: the caller's
 * API key (EDITOR) is the authentication. Paused flows can be tested too.
 *
 * Without a run starter in this process, or while Temporal is unreachable, the delivery stays pending and
 * the ingress relay starts its run, exactly as for a webhook request.
 */
export async function sendTestWebhook(
  em: EntityManager,
  scope: Scope,
  services: Pick<Services, 'starter' | 'events' | 'db'>,
  check: PayloadCheck,
  flowId: string,
  payload: unknown,
): Promise<Delivery> {
  requireRole(scope, ApiKeyRole.EDITOR);
  const flow = await findOwned(em, Flow, flowId, scope, 'flow');
  const startedAt = performance.now();
  const active = await triggerOfFlow(services.db, flow.id);
  if (!active) throw new NotFoundError(`flow ${flow.id} has no webhook trigger`);
  const { trigger } = active;

  const text = JSON.stringify(payload ?? null);
  const sizeBytes = Buffer.byteLength(text, 'utf8');
  if (sizeBytes > trigger.maxBodyBytes) {
    throw new BadInputError('the test payload is too large', [
      {
        path: 'payload',
        message: `is ${sizeBytes} bytes; the trigger accepts at most ${trigger.maxBodyBytes}`,
      },
    ]);
  }
  const body: unknown = JSON.parse(text);
  const unstorable = findUnstorableText(body, ['payload']);
  if (unstorable)
    throw new BadInputError('the test payload contains text that cannot be stored', [unstorable]);
  const issues = check(active, body);
  if (issues.length && trigger.validation !== ValidationMode.LENIENT) {
    throw new BadInputError(
      'the payload does not match the trigger variables',
      issues.map((i) => ({ path: i.path ? `payload.${i.path}` : 'payload', message: i.message })),
    );
  }

  const { deliveryId } = await recordDelivery(services.db, active, {
    status: DeliveryStatus.ACCEPTED,
    method: 'POST',
    headers: { ...TEST_HEADERS, 'content-length': String(sizeBytes) },
    query: {},
    body,
    contentType: TEST_HEADERS['content-type'],
    sizeBytes,
    validationErrors: issues,
    isTest: true,
    startedAt,
  });
  await services.events.publish({
    type: 'DELIVERY_RECEIVED',
    workspaceId: scope.workspaceId,
    flowId: flow.id,
    deliveryId,
    status: DeliveryStatus.ACCEPTED,
  });
  if (services.starter) {
    try {
      await services.starter.start(deliveryId);
      await markDispatched(services.db, [deliveryId]);
    } catch {
      // Left pending: the relay starts it once the engine answers (the same rule as for webhook requests).
    }
  }
  return em.findOneOrFail(Delivery, deliveryId);
}
