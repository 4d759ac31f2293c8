import { WebhookRejection } from './rejections';

/**
 * Builds a nested value from flat `name=value` pairs the way PHP, Zapier and Make name form fields:
 * `a[b][c]=1` → `{a: {b: {c: "1"}}}`, `items[0][sku]=x` → `{items: [{sku: "x"}]}`, `tags[]=a` appends,
 * and a repeated name collects its values into an array. Bounded: at most MAX_FIELDS pairs, MAX_DEPTH
 * bracket levels; indexes above MAX_INDEX become object keys (no huge sparse arrays).
 * Keys such as `__proto__` become ordinary own properties and never reach a prototype.
 */
export const FORM_LIMITS = { MAX_FIELDS: 1000, MAX_DEPTH: 8, MAX_INDEX: 1000 };

type Container = Record<string, unknown> | unknown[];

/** Sets an own, enumerable data property even for `__proto__`. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

function splitName(name: string): string[] {
  const open = name.indexOf('[');
  if (open <= 0 || !name.endsWith(']')) return [name];
  const segments = [name.slice(0, open)];
  const re = /\[([^[\]]*)\]/g;
  re.lastIndex = open;
  let consumed = open;
  let m: RegExpExecArray | null;
  while ((m = re.exec(name)) && m.index === consumed) {
    segments.push(m[1]!);
    consumed = re.lastIndex;
  }
  // Anything unbalanced (`a[b`, `a[b]c]`) is a literal name, as PHP and qs treat it.
  return consumed === name.length ? segments : [name];
}

const isIndex = (s: string) => /^\d{1,9}$/.test(s) && Number(s) <= FORM_LIMITS.MAX_INDEX;

function toObject(list: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  list.forEach((v, i) => setOwn(out, String(i), v));
  return out;
}

function read(container: Container, key: string): unknown {
  if (Array.isArray(container)) return container[Number(key)];
  return hasOwn(container, key) ? container[key] : undefined;
}

function write(container: Container, key: string, value: unknown): void {
  if (Array.isArray(container)) {
    const i = key === '' ? container.length : Number(key);
    while (container.length < i) container.push(null);
    container[i] = value;
  } else {
    setOwn(container, key === '' ? String(Object.keys(container).length) : key, value);
  }
}

/** An array container must become an object when a key is not a small index. */
function fits(container: Container, key: string): boolean {
  return !Array.isArray(container) || key === '' || isIndex(key);
}

function isContainer(v: unknown): v is Container {
  return v !== null && typeof v === 'object' && !isFileValue(v);
}

function isFileValue(v: unknown): boolean {
  return v !== null && typeof v === 'object' && (v as { [FILE]?: true })[FILE] === true;
}

/** Multipart files are marked so they are treated as leaves, not containers. */
export const FILE = Symbol('file');

export function buildFields(pairs: Iterable<[string, unknown]>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let count = 0;
  for (const [name, value] of pairs) {
    if (++count > FORM_LIMITS.MAX_FIELDS) {
      throw new WebhookRejection('MALFORMED_BODY', {
        message: `the request has more than ${FORM_LIMITS.MAX_FIELDS} fields`,
      });
    }
    const segments = splitName(name);
    if (segments.length - 1 > FORM_LIMITS.MAX_DEPTH) {
      throw new WebhookRejection('MALFORMED_BODY', {
        message: `a field name is nested deeper than ${FORM_LIMITS.MAX_DEPTH} levels`,
      });
    }
    assign(root, segments, value);
  }
  return root;
}

function assign(root: Record<string, unknown>, segments: string[], value: unknown): void {
  let parent: Container = root;
  let parentOf: { container: Container; key: string } | undefined;
  for (let i = 0; i < segments.length - 1; i++) {
    let key = segments[i]!;
    if (!fits(parent, key)) parent = replace(parentOf, toObject(parent as unknown[]));
    if (key === '') key = String(Array.isArray(parent) ? parent.length : Object.keys(parent).length);
    let child = read(parent, key);
    if (!isContainer(child)) {
      const next = segments[i + 1]!;
      child = next === '' || isIndex(next) ? [] : {};
      write(parent, key, child);
    }
    parentOf = { container: parent, key };
    parent = child as Container;
  }
  const leaf = segments[segments.length - 1]!;
  if (!fits(parent, leaf)) parent = replace(parentOf, toObject(parent as unknown[]));
  const existing = leaf === '' ? undefined : read(parent, leaf);
  if (existing === undefined || (isContainer(existing) && !Array.isArray(existing)))
    write(parent, leaf, value);
  else if (Array.isArray(existing)) existing.push(value);
  else write(parent, leaf, [existing, value]);
}

function replace(at: { container: Container; key: string } | undefined, value: Container): Container {
  if (at) write(at.container, at.key, value);
  return value;
}
