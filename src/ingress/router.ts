import express, { type Request, type Response } from 'express';
import { DeliveryStatus } from '../schema/enums';
import type { ValidationIssue } from '../schema/Delivery';
import type { Services } from '../services';
import {
  findActiveTrigger,
  recordDelivery,
  type ActiveTrigger,
  type IncomingDelivery,
} from '../services/deliveries';
import type { Dispatcher } from '../services/dispatcher';
import {
  MalformedBody,
  UnsupportedMediaType,
  idempotencyKeyFrom,
  parseBody,
  queryOf,
  redactHeaders,
} from './request';
import { validatorFor } from './validator';

type Log = { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };

type Rejection = {
  status: number;
  error: string;
  message: string;
  issues?: ValidationIssue[];
  headers?: Record<string, string>;
};

const NOT_FOUND: Rejection = {
  status: 404,
  error: 'not_found',
  message: 'no webhook is registered at this URL',
};
const UNAVAILABLE: Rejection = {
  status: 503,
  error: 'unavailable',
  message: 'the delivery could not be stored; retry later',
  headers: { 'Retry-After': '5' },
};

function send(res: Response, r: Rejection) {
  for (const [k, v] of Object.entries(r.headers ?? {})) res.setHeader(k, v);
  res
    .status(r.status)
    .json({ error: r.error, message: r.message, ...(r.issues ? { issues: r.issues } : {}) });
}

/** Reads the raw body up to the trigger's limit (413 past it). */
function readRaw(req: Request, res: Response, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    express.raw({ type: () => true, limit })(req, res, (err?: unknown) => {
      if (err) {
        const tooLarge = (err as { type?: string }).type === 'entity.too.large';
        send(
          res,
          tooLarge
            ? { status: 413, error: 'payload_too_large', message: `the body is larger than ${limit} bytes` }
            : { status: 400, error: 'bad_request', message: 'the body could not be read' },
        );
        return resolve(undefined);
      }
      resolve(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
    });
  });
}

/**
 * POST /api/webhook/:token — checks, then commits the delivery in one transaction, answers 202, and only
 * then asks the dispatcher to start the run.
 */
export function webhookRouter(services: Services, dispatcher: Dispatcher, log: Log): express.Router {
  const router = express.Router();

  router.all('/api/webhook/:token', async (req: Request, res: Response) => {
    let active: ActiveTrigger | undefined;
    try {
      active = await findActiveTrigger(services.db.em(), String(req.params.token));
    } catch (err) {
      log.error({ err: (err as Error).message }, 'trigger lookup failed');
      return send(res, UNAVAILABLE);
    }
    if (!active) return send(res, NOT_FOUND);

    const trigger = active.version.trigger;
    if (!trigger.methods.includes(req.method as never)) {
      return send(res, {
        status: 405,
        error: 'method_not_allowed',
        message: `this webhook accepts ${trigger.methods.join(', ')}`,
        headers: { Allow: trigger.methods.join(', ') },
      });
    }

    const raw = await readRaw(req, res, trigger.maxBodyBytes);
    if (!raw) return;

    let body: unknown;
    try {
      body = parseBody(raw, req.headers['content-type']);
    } catch (err) {
      if (err instanceof UnsupportedMediaType) {
        return send(res, { status: 415, error: 'unsupported_media_type', message: err.message });
      }
      if (err instanceof MalformedBody)
        return send(res, { status: 400, error: 'bad_request', message: err.message });
      throw err;
    }

    const incoming: IncomingDelivery = {
      status: DeliveryStatus.ACCEPTED,
      method: req.method,
      headers: redactHeaders(req.headers),
      query: queryOf(req),
      body: body ?? null,
      contentType: req.headers['content-type'],
      sizeBytes: raw.length,
      idempotencyKey: idempotencyKeyFrom(req.headers),
    };

    const issues = validatorFor(active.version.id, trigger.variables)(body ?? {});
    if (issues.length) {
      const rejection: Rejection = {
        status: 422,
        error: 'validation_failed',
        message: 'the payload does not match the trigger variables',
        issues,
      };
      await record(active, {
        ...incoming,
        status: DeliveryStatus.REJECTED,
        rejectReason: 'VALIDATION',
        validationErrors: issues,
      });
      return send(res, rejection);
    }

    let result;
    try {
      result = await recordDelivery(services.db.em(), active, incoming);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'storing the delivery failed');
      return send(res, UNAVAILABLE);
    }
    const { delivery, duplicate } = result;
    const event = {
      workspaceId: active.trigger.flow.workspace.id,
      flowId: active.trigger.flow.id,
      deliveryId: delivery.id,
    };
    if (duplicate) {
      res.status(200).json({ deliveryId: delivery.id, status: 'duplicate' });
      await services.events.publish({ ...event, type: 'DELIVERY_DUPLICATE' });
      return;
    }
    res.status(202).json({ deliveryId: delivery.id, status: 'accepted' });
    await services.events.publish({ ...event, type: 'DELIVERY_RECEIVED', status: DeliveryStatus.ACCEPTED });
    await dispatcher.dispatch(delivery.id);
  });

  /** Rejected deliveries are kept for the flow's owner; a failure to store one never changes the answer. */
  async function record(active: ActiveTrigger, incoming: IncomingDelivery) {
    try {
      const { delivery } = await recordDelivery(services.db.em(), active, incoming);
      await services.events.publish({
        type: 'DELIVERY_REJECTED',
        workspaceId: active.trigger.flow.workspace.id,
        flowId: active.trigger.flow.id,
        deliveryId: delivery.id,
        status: DeliveryStatus.REJECTED,
        message: incoming.rejectReason,
      });
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not record a rejected delivery');
    }
  }

  return router;
}
