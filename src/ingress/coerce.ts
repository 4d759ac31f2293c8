import type { ItemDefinition, VariableDefinition } from '../schema/definitions';
import { VariableType } from '../schema/enums';
import { depthOf, MAX_JSON_DEPTH } from './body';
import { setOwn } from './fields';

/**
 * Form-encoded and multipart senders (Zapier, Make, HTML forms) can only send strings. Before validation,
 * a string is converted only where the declared type asks for it:
 * - NUMBER:  "12.5", "-3", "1e3" → number (decimal notation only; "0x10", "12abc" stay strings and fail);
 * - BOOLEAN: "true" / "false" (any letter case) → boolean;
 * - OBJECT / ARRAY: JSON text ("{…}" / "[…]") → the parsed value, when it has that type;
 * - an empty string for a NUMBER, BOOLEAN, OBJECT or ARRAY counts as absent (blank form fields);
 * - STRING values and undeclared fields are kept as sent.
 * Nested declared fields (`properties`, `items`) are converted the same way. JSON bodies are never coerced.
 */
export function coerceStrings(body: unknown, variables: readonly VariableDefinition[]): unknown {
  return isPlainObject(body) ? coerceObject(body, variables) : body;
}

const NUMBER_TEXT = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

function coerceObject(obj: Record<string, unknown>, properties: readonly VariableDefinition[]) {
  if (!properties.length) return obj;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) setOwn(out, key, value);
  for (const def of properties) {
    if (!Object.prototype.hasOwnProperty.call(out, def.name)) continue;
    const value = coerceValue(out[def.name], def);
    if (value === undefined) delete out[def.name];
    else setOwn(out, def.name, value);
  }
  return out;
}

function coerceValue(value: unknown, def: ItemDefinition & { items?: ItemDefinition | null }): unknown {
  let v = value;
  if (typeof v === 'string') {
    const text = v.trim();
    if (def.type !== VariableType.STRING && text === '') return undefined;
    if (def.type === VariableType.NUMBER && NUMBER_TEXT.test(text)) v = Number(text);
    else if (def.type === VariableType.BOOLEAN && /^(true|false)$/i.test(text))
      v = text.toLowerCase() === 'true';
    else if (def.type === VariableType.OBJECT && text.startsWith('{')) v = jsonOf(text, isPlainObject) ?? v;
    else if (def.type === VariableType.ARRAY && text.startsWith('[')) v = jsonOf(text, Array.isArray) ?? v;
  }
  if (def.type === VariableType.OBJECT && isPlainObject(v) && def.properties?.length) {
    return coerceObject(v, def.properties);
  }
  if (def.type === VariableType.ARRAY && Array.isArray(v) && def.items) {
    const items = def.items;
    return v.map((el) => coerceValue(el, items) ?? null);
  }
  return v;
}

function jsonOf(text: string, accept: (v: unknown) => boolean): unknown {
  try {
    const parsed: unknown = JSON.parse(text);
    return accept(parsed) && depthOf(parsed) <= MAX_JSON_DEPTH ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
