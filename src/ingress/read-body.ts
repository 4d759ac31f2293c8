import type { IncomingMessage } from 'node:http';
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';
import { WebhookRejection } from './rejections';

/**
 * How long a sender has for the whole body once its headers arrived. Webhook senders give up after 5–30 s
 * themselves (Shopify 5 s, GitHub 10 s), so a body still incomplete after this comes from a stalled or
 * trickling (slowloris) client: it is answered 408 and its connection is closed.
 */
export const BODY_TIMEOUT_MS = 10_000;

export type BodyLimits = { maxBytes: number; timeoutMs: number };

/** The decompressors express.raw offers (body-parser's list). */
const DECODERS: Record<string, () => Transform> = {
  gzip: zlib.createGunzip,
  deflate: zlib.createInflate,
  br: zlib.createBrotliDecompress,
  zstd: zlib.createZstdDecompress,
};

/**
 * Reads the raw body, inflating it per Content-Encoding. A Content-Length over `maxBytes` is refused before
 * anything is read; a chunked or compressed body is refused as soon as it passes `maxBytes` (on the wire or
 * inflated), so an endless body cannot keep the request open.
 */
export function readBody(req: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  const announced = Number(req.headers['content-length']);
  if (announced > limits.maxBytes) {
    return Promise.reject(
      tooLarge(`Content-Length ${announced} is over the limit of ${limits.maxBytes} bytes`),
    );
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && !DECODERS[encoding]) {
    return Promise.reject(
      new WebhookRejection('UNSUPPORTED_MEDIA_TYPE', {
        message: 'the content encoding is not supported',
        detail: `Content-Encoding "${encoding}"`,
      }),
    );
  }
  return collect(req, DECODERS[encoding]?.(), limits);
}

function tooLarge(detail: string, sizeBytes?: number): WebhookRejection {
  return new WebhookRejection('PAYLOAD_TOO_LARGE', { detail, sizeBytes });
}

function collect(req: IncomingMessage, decoder: Transform | undefined, limits: BodyLimits): Promise<Buffer> {
  const { maxBytes } = limits;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let wireBytes = 0;
    let bodyBytes = 0;
    let settled = false;

    const settle = (error?: WebhookRejection) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off('data', onWire);
      if (!error) return resolve(Buffer.concat(chunks));
      // Stop reading: the answer goes out with Connection: close (see send() in the router).
      req.pause();
      decoder?.destroy();
      reject(error);
    };
    const timer = setTimeout(
      () =>
        settle(
          new WebhookRejection('REQUEST_TIMEOUT', {
            detail: `${wireBytes} bytes of the body arrived in ${limits.timeoutMs} ms`,
            sizeBytes: wireBytes,
          }),
        ),
      limits.timeoutMs,
    );
    const onBody = (chunk: Buffer) => {
      bodyBytes += chunk.length;
      if (bodyBytes > maxBytes) {
        return settle(tooLarge(`the inflated body passed the limit of ${maxBytes} bytes`, bodyBytes));
      }
      chunks.push(chunk);
    };
    const onWire = (chunk: Buffer) => {
      wireBytes += chunk.length;
      if (wireBytes > maxBytes) {
        return settle(tooLarge(`the body passed the limit of ${maxBytes} bytes`, wireBytes));
      }
      if (decoder) decoder.write(chunk);
      else onBody(chunk);
    };
    const unreadable = (detail: string) =>
      settle(new WebhookRejection('MALFORMED_BODY', { message: 'the body could not be read', detail }));

    req.on('data', onWire);
    req.on('error', (err) => unreadable(err.message));
    // 'close' before the end (or the decoder's end): the client went away mid-body.
    req.on('close', () => {
      if (!req.complete) unreadable('the client closed the connection before the body was complete');
    });
    if (decoder) {
      decoder.on('data', onBody);
      decoder.on('end', () => settle());
      decoder.on('error', () =>
        settle(new WebhookRejection('MALFORMED_BODY', { message: 'the body could not be decompressed' })),
      );
      req.on('end', () => decoder.end());
    } else {
      req.on('end', () => settle());
    }
    if (req.destroyed) unreadable('the client closed the connection before the body was read');
  });
}
