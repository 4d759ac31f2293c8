import { AppError } from '../services/errors';
import type { ValidationIssue } from '../schema/Delivery';

/** Why a request was refused; stored as the delivery's rejectReason and counted in the usage statistics. */
export type RejectReason =
  | 'AUTH'
  | 'SIGNATURE'
  | 'TIMESTAMP'
  | 'IP_NOT_ALLOWED'
  | 'VALIDATION'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'MALFORMED_BODY'
  | 'UNSUPPORTED_TEXT'
  | 'REQUEST_TIMEOUT'
  | 'METHOD_NOT_ALLOWED'
  | 'RATE_LIMITED';

type Answer = { status: number; error: string; message: string };

const UNAUTHORIZED: Answer = { status: 401, error: 'unauthorized', message: 'authentication failed' };

/**
 * What the sender sees. Auth failures share one answer so a sender cannot tell a wrong secret from a
 * stale timestamp or a missing header; the precise reason is only recorded for the flow's owner.
 */
const ANSWERS: Record<RejectReason, Answer> = {
  AUTH: UNAUTHORIZED,
  SIGNATURE: UNAUTHORIZED,
  TIMESTAMP: UNAUTHORIZED,
  IP_NOT_ALLOWED: { status: 403, error: 'forbidden', message: 'requests from this address are not allowed' },
  VALIDATION: {
    status: 422,
    error: 'validation_failed',
    message: 'the payload does not match the trigger variables',
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    error: 'payload_too_large',
    message: 'the body is larger than this webhook accepts',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    error: 'unsupported_media_type',
    message:
      'send JSON, application/x-www-form-urlencoded, multipart/form-data, text/* or application/octet-stream',
  },
  MALFORMED_BODY: { status: 400, error: 'bad_request', message: 'the body could not be parsed' },
  UNSUPPORTED_TEXT: {
    status: 422,
    error: 'unsupported_text',
    message: 'the payload contains U+0000 (NUL) or an unpaired UTF-16 surrogate, which cannot be stored',
  },
  REQUEST_TIMEOUT: {
    status: 408,
    error: 'request_timeout',
    message: 'the body did not arrive in time',
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    error: 'method_not_allowed',
    message: 'this webhook does not accept this method',
  },
  RATE_LIMITED: { status: 429, error: 'rate_limited', message: 'too many requests; retry later' },
};

/** A refused webhook request. `message` overrides the default only where it describes the payload. */
export class WebhookRejection extends AppError {
  readonly code: RejectReason;
  readonly httpStatus: number;
  readonly error: string;

  constructor(
    reason: RejectReason,
    readonly opts: {
      message?: string;
      issues?: ValidationIssue[];
      headers?: Record<string, string>;
      /** Recorded with the rejection for the flow's owner (never sent). */
      detail?: string;
      /** Bytes received before the refusal, recorded instead of the announced Content-Length. */
      sizeBytes?: number;
    } = {},
  ) {
    const answer = ANSWERS[reason];
    super(opts.message ?? answer.message);
    this.code = reason;
    this.httpStatus = answer.status;
    this.error = answer.error;
  }

  get body(): { error: string; message: string; issues?: ValidationIssue[] } {
    return {
      error: this.error,
      message: this.message,
      ...(this.opts.issues ? { issues: this.opts.issues } : {}),
    };
  }
}
