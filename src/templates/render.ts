import { getPath, parsePath } from './path';

/**
 * Logic-less `{{path}}` interpolation. A string that is exactly one reference keeps the value's type;
 * text around references renders as text (objects as JSON). Substituted values are never scanned again,
 * so a payload containing `{{…}}` cannot inject a template.
 */

export type TemplateScope = {
  webhook: { body: unknown; headers: Record<string, string>; query: Record<string, unknown> };
  steps: Record<string, { output: unknown }>;
  flow: { id: string; label: string };
  run: { id: string };
  delivery: { id: string; receivedAt: string };
};

export const TEMPLATE = /\{\{\s*([^{}]+?)\s*\}\}/g;
const SINGLE = /^\{\{\s*([^{}]+?)\s*\}\}$/;

export type RenderResult<T> = { value: T; missing: string[] };

/** Resolves one reference such as `webhook.items[0].sku`; `webhook.<name>` reads the body's field. */
export function resolveReference(ref: string, scope: TemplateScope): { found: boolean; value?: unknown } {
  const segments = parsePath(ref);
  if (!segments) return { found: false };
  const [root, ...rest] = segments;
  if (root === 'webhook') {
    const [first] = rest;
    if (first === 'body' || first === 'headers' || first === 'query') {
      const source = scope.webhook[first];
      if (first === 'headers' && rest.length > 1) {
        return getPath(source, [String(rest[1]).toLowerCase(), ...rest.slice(2)]);
      }
      return getPath(source, rest.slice(1));
    }
    return getPath(scope.webhook.body, rest);
  }
  if (root === 'steps' || root === 'flow' || root === 'run' || root === 'delivery') {
    return getPath(scope[root], rest);
  }
  return { found: false };
}

/** How a value reads inside text: empty for nothing, JSON for objects. */
export function toText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function renderString(template: string, scope: TemplateScope, missing: string[] = []): unknown {
  const single = SINGLE.exec(template);
  if (single) {
    const r = resolveReference(single[1]!, scope);
    if (!r.found) missing.push(single[1]!);
    return r.found ? r.value : '';
  }
  return template.replace(TEMPLATE, (_, ref: string) => {
    const r = resolveReference(ref, scope);
    if (!r.found) missing.push(ref);
    return toText(r.value);
  });
}

/** Renders every string inside a JSON-like value (keys are left as they are). */
export function renderValue<T>(value: T, scope: TemplateScope): RenderResult<unknown> {
  const missing: string[] = [];
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return renderString(v, scope, missing);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, inner] of Object.entries(v)) out[k] = walk(inner);
      return out;
    }
    return v;
  };
  return { value: walk(value), missing };
}

/** Every `{{reference}}` used inside a value, for save-time checks and autocomplete. */
export function listReferences(value: unknown): string[] {
  const refs: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'string') for (const m of v.matchAll(TEMPLATE)) refs.push(m[1]!.trim());
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(value);
  return refs;
}
