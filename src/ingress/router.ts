import express, { type Request, type Response } from 'express';
import type { ValidationIssue } from '../schema/Delivery';
import type { TriggerDefinition } from '../schema/definitions';
import { DeliveryStatus, ResponseMode, ValidationMode, WebhookAuthType } from '../schema/enums';
import type { Services } from '../services';
import type { FlowEvent } from '../services/events';
import { ActiveTriggers, type ActiveTrigger } from '../services/active-triggers';
import { isDatabaseUnavailable } from '../services/database';
import { recordDelivery, type IncomingDelivery } from '../services/deliveries';
import type { Dispatcher } from '../services/dispatcher';
import { Metrics } from '../services/metrics';
import { findUnstorableText } from '../services/unstorable-text';
import { credentialHeaders, unsealAuth, verifyAuth } from './auth';
import { parseBody, type ParsedBody } from './body';
import { allowlistFor, clientAddress } from './ip-allowlist';
import { TriggerRateLimits } from './rate-limit';
import { BODY_TIMEOUT_MS, readBody } from './read-body';
import { WebhookRejection } from './rejections';
import { idempotencyKeyOf, queryOf, redactHeaders, redactQuery } from './request';
import { accepted, syncAnswer, type Answer, type RunWaiter } from './sync';
import { validatorFor } from './validator';

type Log = { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };

export type WebhookRouterOptions = {
  /** Lets SYNC triggers wait for their run; without it they answer 202 like ASYNC ones. */
  waiter?: RunWaiter;
  /** Records deliveries, accept latency and dispatch lag. */
  metrics?: Metrics;
};

/** One body for every 404, so unknown, rotated and paused URLs cannot be told apart. */
const NOT_FOUND: Answer = {
  status: 404,
  headers: {},
  body: { error: 'not_found', message: 'no webhook is registered at this URL' },
};
const UNAVAILABLE: Answer = {
  status: 503,
  headers: { 'Retry-After': '5' },
  body: { error: 'unavailable', message: 'the delivery could not be stored; retry later' },
};
/** Anything else that fails is a bug: logged, and not presented as "retry later". */
const INTERNAL_ERROR: Answer = {
  status: 500,
  headers: {},
  body: { error: 'internal_error', message: 'the delivery could not be processed' },
};

function send(res: Response, answer: Answer): void {
  for (const [name, value] of Object.entries(answer.headers)) {
    try {
      res.setHeader(name, value);
    } catch {
      // A rendered header value with characters HTTP forbids is left out rather than failing the answer.
    }
  }
  // A body left unread (refused early, cut off, timed out) would have to be read to the end to reuse the connection.
  if (!res.req.complete) res.setHeader('Connection', 'close');
  res.status(answer.status);
  if (typeof answer.body === 'string') {
    if (!res.getHeader('content-type')) res.type('text/plain');
    res.send(answer.body);
  } else {
    res.json(answer.body ?? null);
  }
}

const rejectionAnswer = (r: WebhookRejection): Answer => ({
  status: r.httpStatus,
  headers: r.opts.headers ?? {},
  body: r.body,
});

/** Text PostgreSQL cannot store is refused before the insert, so that it never becomes a storage failure. */
function refuseUnstorableText(value: unknown, root: string[] = []): void {
  const found = findUnstorableText(value, root);
  if (found) throw new WebhookRejection('UNSUPPORTED_TEXT', { issues: [found] });
}

/**
 * /api/webhook/:token — token → method → IP allowlist → body size → auth/signature (on the raw bytes) →
 * rate limit → parse → validate → one transaction that claims the idempotency key and commits the
 * delivery → answer (202, or in SYNC mode the run's response) → start the run. Every refusal after the
 * token lookup is recorded as a REJECTED delivery with its reason.
 */
export function webhookRouter(
  services: Services,
  dispatcher: Dispatcher,
  log: Log,
  options: WebhookRouterOptions = {},
): express.Router {
  const router = express.Router();
  const rateLimits = new TriggerRateLimits();
  const triggers = new ActiveTriggers(services.db, services.events);
  const { metrics } = options;
  /** Starts the delivery's run; the lag from receipt is recorded when this process started it. */
  const dispatch = (deliveryId: string, receivedAt: Date) =>
    dispatcher.dispatch(deliveryId).then((started) => {
      if (started) metrics?.dispatchLag.observe(Metrics.since(receivedAt));
      return started;
    });

  /** Events never change an answer: once a delivery is committed, its sender gets its 2xx. */
  const publish = (event: Omit<FlowEvent, 'at'>) =>
    services.events
      .publish(event)
      .catch((err: Error) =>
        log.warn({ err, type: event.type, deliveryId: event.deliveryId }, 'could not publish an event'),
      );

  router.all('/api/webhook/:token', async (req: Request, res: Response) => {
    const startedAt = performance.now();
    const receivedAt = new Date();
    let active: ActiveTrigger | undefined;
    try {
      active = await triggers.find(String(req.params.token), receivedAt);
    } catch (err) {
      return failed(res, err, 'the trigger lookup failed');
    }
    if (!active) return send(res, NOT_FOUND);

    const { trigger } = active;
    const incoming: IncomingDelivery = {
      status: DeliveryStatus.ACCEPTED,
      method: req.method,
      headers: redactHeaders(req.headers, [
        ...credentialHeaders(trigger.auth),
        ...(trigger.redact?.headers ?? []),
      ]),
      query: {},
      body: null,
      contentType: req.headers['content-type'],
      sizeBytes: 0,
      sourceIp: clientAddress(req.socket.remoteAddress),
      receivedAt,
      startedAt,
    };
    try {
      await accept(req, res, active, incoming);
    } catch (err) {
      if (err instanceof WebhookRejection) {
        // Recorded before answering, so what the sender saw is already visible to the flow's owner.
        await recordRejection(active, incoming, err);
        metrics?.deliveries.inc({ status: DeliveryStatus.REJECTED, reason: err.code });
        return send(res, rejectionAnswer(err));
      }
      failed(res, err, 'accepting the delivery failed');
    }
  });

  /** 503 with Retry-After only when the database is unavailable; any other failure is a bug (500). */
  function failed(res: Response, err: unknown, what: string) {
    if (isDatabaseUnavailable(err)) {
      log.error({ err }, `${what}: the database is unavailable`);
      if (!res.headersSent) send(res, UNAVAILABLE);
    } else {
      log.error({ err }, what);
      if (!res.headersSent) send(res, INTERNAL_ERROR);
    }
  }

  async function accept(req: Request, res: Response, active: ActiveTrigger, incoming: IncomingDelivery) {
    const { trigger } = active;

    if (!trigger.methods.includes(req.method as never)) {
      throw new WebhookRejection('METHOD_NOT_ALLOWED', {
        message: `this webhook accepts ${trigger.methods.join(', ')}`,
        headers: { Allow: trigger.methods.join(', ') },
      });
    }
    if (!allowlistFor(active.versionId, trigger.ipAllowlist)(incoming.sourceIp)) {
      throw new WebhookRejection('IP_NOT_ALLOWED', { detail: `client address ${incoming.sourceIp}` });
    }

    // What the sender announced, so a refused oversized body still shows its size; then what was read.
    incoming.sizeBytes = Math.min(Number(req.headers['content-length']) || 0, 2 ** 31 - 1);
    const raw = await readBody(req, { maxBytes: trigger.maxBodyBytes, timeoutMs: BODY_TIMEOUT_MS });
    incoming.sizeBytes = raw.length;

    if (trigger.auth.type !== WebhookAuthType.NONE) {
      const result = verifyAuth(
        trigger.auth.type,
        { raw, headers: req.headers, nowMs: Date.now() },
        unsealAuth(trigger.auth, services.box),
      );
      if (!result.ok) {
        throw new WebhookRejection(result.reason, {
          detail: result.detail,
          headers:
            trigger.auth.type === WebhookAuthType.BASIC
              ? { 'WWW-Authenticate': 'Basic realm="webhook"' }
              : {},
        });
      }
    }

    if (trigger.rateLimit) {
      const retryAfter = await rateLimits.consume(active.triggerId, trigger.rateLimit);
      if (retryAfter !== undefined) {
        throw new WebhookRejection('RATE_LIMITED', { headers: { 'Retry-After': String(retryAfter) } });
      }
    }

    // A GET has no body: its query parameters are the payload the variables describe.
    const isGet = req.method === 'GET';
    const query = queryOf(req.originalUrl);
    refuseUnstorableText(query, isGet ? [] : ['query']);
    incoming.query = redactQuery(query, trigger.redact?.query);
    const parsed: ParsedBody = isGet
      ? { value: query, stringsOnly: true }
      : await parseBody(raw, req.headers['content-type']);
    if (!isGet) refuseUnstorableText(parsed.value);
    const { value, issues } = validatorFor(active.versionId, trigger.variables).validate(parsed.value, {
      stringsOnly: parsed.stringsOnly,
    });
    // On a GET the payload is the query string: redacted like it, except the variables the trigger declares.
    incoming.body = isGet
      ? redactQuery(
          value ?? null,
          trigger.redact?.query,
          trigger.variables.map((v) => v.name),
        )
      : (value ?? null);
    incoming.validationErrors = issues;
    if (issues.length && trigger.validation !== ValidationMode.LENIENT) {
      throw new WebhookRejection('VALIDATION', { issues });
    }

    incoming.idempotencyKey = idempotencyKeyOf(
      trigger.idempotencyKey,
      { body: incoming.body, headers: incoming.headers, query: incoming.query },
      req.headers,
    );
    const { deliveryId, duplicate, duplicateRowId } = await recordDelivery(services.db, active, incoming);
    const event = { workspaceId: active.workspaceId, flowId: active.flowId, deliveryId };
    if (duplicate) {
      metrics?.deliveries.inc({ status: DeliveryStatus.DUPLICATE, reason: '' });
      send(res, { status: 200, headers: {}, body: { deliveryId, status: 'duplicate' } });
      // The event names the DUPLICATE row (its duplicateOf is the original, which the sender was given).
      await publish({
        ...event,
        deliveryId: duplicateRowId ?? deliveryId,
        type: 'DELIVERY_DUPLICATE',
        status: DeliveryStatus.DUPLICATE,
        message: `duplicate of ${deliveryId}`,
      });
      return;
    }

    metrics?.deliveries.inc({ status: DeliveryStatus.ACCEPTED, reason: '' });
    if (trigger.responseMode !== ResponseMode.SYNC || !options.waiter) {
      send(res, accepted(deliveryId));
      metrics?.acceptLatency.observe(Metrics.since(incoming.startedAt!));
      // Published before the run can start, so subscribers see the delivery before its run.
      await publish({ ...event, type: 'DELIVERY_RECEIVED', status: DeliveryStatus.ACCEPTED });
      void dispatch(deliveryId, incoming.receivedAt!);
      return;
    }
    await publish({ ...event, type: 'DELIVERY_RECEIVED', status: DeliveryStatus.ACCEPTED });
    const answer = await waitForRun(deliveryId, trigger, incoming);
    send(res, answer);
    metrics?.acceptLatency.observe(Metrics.since(incoming.startedAt!));
  }

  /** SYNC mode: the run's answer if it ends before the deadline, else 202 (the run goes on). */
  async function waitForRun(
    deliveryId: string,
    trigger: TriggerDefinition,
    incoming: IncomingDelivery,
  ): Promise<Answer> {
    const deadline = incoming.startedAt! + trigger.syncTimeoutMs;
    try {
      if (!(await dispatch(deliveryId, incoming.receivedAt!))) return accepted(deliveryId);
      const outcome = await options.waiter!.waitForResult(deliveryId, deadline - performance.now());
      return outcome ? await syncAnswer(services.db, deliveryId, trigger, outcome) : accepted(deliveryId);
    } catch (err) {
      log.warn({ deliveryId, err }, 'could not wait for the run');
      return accepted(deliveryId);
    }
  }

  /** Rejections are kept for the flow's owner; a failure to store one never changes the answer. */
  async function recordRejection(
    active: ActiveTrigger,
    incoming: IncomingDelivery,
    rejection: WebhookRejection,
  ) {
    // Only a payload that passed auth and parsing is kept; without issues one entry explains the refusal.
    const validation = rejection.code === 'VALIDATION';
    const explanation: ValidationIssue[] = [
      { path: '', message: rejection.opts.detail ?? rejection.message },
    ];
    const record: IncomingDelivery = {
      ...incoming,
      status: DeliveryStatus.REJECTED,
      rejectReason: rejection.code,
      body: validation ? incoming.body : null,
      sizeBytes: rejection.opts.sizeBytes ?? incoming.sizeBytes,
      validationErrors: rejection.opts.issues ?? explanation,
      idempotencyKey: undefined,
    };
    try {
      const { deliveryId } = await recordDelivery(services.db, active, record);
      await publish({
        type: 'DELIVERY_REJECTED',
        workspaceId: active.workspaceId,
        flowId: active.flowId,
        deliveryId,
        status: DeliveryStatus.REJECTED,
        message: rejection.code,
      });
    } catch (err) {
      log.warn({ err }, 'could not record a rejected delivery');
    }
  }

  return router;
}
