import busboy from 'busboy';
import { FILE, buildFields, setOwn } from './fields';
import { WebhookRejection } from './rejections';

export const MAX_JSON_DEPTH = 32;

export type ParsedBody = {
  /** undefined for an empty body. */
  value: unknown;
  /** Form and multipart senders send only strings: the validator may coerce them (see coerce.ts). */
  stringsOnly: boolean;
};

type MediaType = { type: string; charset?: string; boundary?: boolean };

function mediaType(header: string | undefined): MediaType {
  // RFC 9110 §8.3: a body without a type may be treated as application/octet-stream.
  if (!header?.trim()) return { type: 'application/octet-stream' };
  const [type, ...params] = header.split(';');
  const charset = params
    .map((p) => p.trim().split('='))
    .find(([k]) => k?.toLowerCase() === 'charset')?.[1]
    ?.replace(/"/g, '')
    .trim();
  return { type: type!.trim().toLowerCase(), charset };
}

const isJson = (t: string) =>
  t === 'application/json' || (t.startsWith('application/') && t.endsWith('+json'));

/** Parses the raw bytes by content type; the bytes themselves stay untouched for signature checks. */
export async function parseBody(raw: Buffer, contentType: string | undefined): Promise<ParsedBody> {
  const media = mediaType(contentType);
  const { type } = media;
  if (isJson(type))
    return { value: raw.length ? parseJson(decode(raw, media)) : undefined, stringsOnly: false };
  if (type === 'application/x-www-form-urlencoded') {
    return { value: raw.length ? parseForm(decode(raw, media)) : undefined, stringsOnly: true };
  }
  if (type === 'multipart/form-data')
    return { value: await parseMultipart(raw, contentType!), stringsOnly: true };
  if (type.startsWith('text/'))
    return { value: raw.length ? decode(raw, media) : undefined, stringsOnly: false };
  if (type === 'application/octet-stream') {
    return {
      value: raw.length ? { contentType: type, base64: raw.toString('base64') } : undefined,
      stringsOnly: false,
    };
  }
  throw new WebhookRejection('UNSUPPORTED_MEDIA_TYPE', { detail: `content type "${type}"` });
}

function decode(raw: Buffer, media: MediaType): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(media.charset ?? 'utf-8');
  } catch {
    throw new WebhookRejection('UNSUPPORTED_MEDIA_TYPE', {
      message: `the charset "${media.charset}" is not supported`,
    });
  }
  return decoder.decode(raw); // also drops a UTF-8 byte order mark
}

/** JSON.parse keeps `__proto__` as an own property; the depth cap bounds every later walk over the value. */
export function parseJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new WebhookRejection('MALFORMED_BODY', { message: 'the body is not valid JSON' });
  }
  if (depthOf(value) > MAX_JSON_DEPTH) {
    throw new WebhookRejection('MALFORMED_BODY', {
      message: `the JSON body is nested deeper than ${MAX_JSON_DEPTH} levels`,
    });
  }
  return value;
}

/** Nesting depth of a JSON value (a scalar is 0), iteratively so a hostile value cannot overflow the stack. */
export function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > max) max = d + 1;
    if (max > MAX_JSON_DEPTH) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

export function parseForm(text: string): Record<string, unknown> {
  return buildFields(new URLSearchParams(text));
}

export type FileField = { filename: string; contentType: string; base64: string };

/** Fields and files of a multipart body; files become `{filename, contentType, base64}`. */
function parseMultipart(raw: Buffer, contentType: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const pairs: [string, unknown][] = [];
    const fail = (message: string) => reject(new WebhookRejection('MALFORMED_BODY', { message }));
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: { 'content-type': contentType },
        defParamCharset: 'utf8',
        limits: { fields: 1000, files: 50, parts: 1050, fieldSize: raw.length + 1, fileSize: raw.length + 1 },
      });
    } catch (err) {
      return fail(`the multipart body could not be read: ${(err as Error).message}`);
    }
    bb.on('field', (name, value, info) => {
      if (info.nameTruncated || info.valueTruncated) return fail('a multipart field is too long');
      pairs.push([name, value]);
    });
    bb.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      const slot = pairs.push([name, undefined]) - 1;
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const file: Record<string, unknown> = {};
        setOwn(file, 'filename', info.filename ?? '');
        setOwn(file, 'contentType', info.mimeType);
        setOwn(file, 'base64', Buffer.concat(chunks).toString('base64'));
        Object.defineProperty(file, FILE, { value: true, enumerable: false });
        pairs[slot] = [name, file];
      });
    });
    bb.on('partsLimit', () => fail('the multipart body has too many parts'));
    bb.on('filesLimit', () => fail('the multipart body has too many files'));
    bb.on('fieldsLimit', () => fail('the multipart body has too many fields'));
    bb.on('error', (err) => fail(`the multipart body could not be read: ${(err as Error).message}`));
    bb.on('close', () => {
      try {
        resolve(buildFields(pairs));
      } catch (err) {
        reject(err);
      }
    });
    bb.end(raw);
  });
}
