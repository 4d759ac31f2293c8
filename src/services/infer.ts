import { VARIABLE_NAME, type VariableDefinition } from '../schema/definitions';
import { VariableType } from '../schema/enums';
import { BadInputError } from './errors';

/**
 * Proposes trigger variables from a sample payload. Every proposal is optional (`required: false`): one
 * sample cannot tell which fields a sender always sends, and a STRICT trigger would refuse payloads that
 * lack a field marked required. Fields that cannot become variables are skipped and reported:
 * names that are not valid variable names (they stay reachable as `webhook.body["odd-name"]`), null
 * values (no type to propose), and prototype-related names.
 */

/** Same limits the trigger schema enforces, so a proposal can be saved as it is. */
const MAX_DEPTH = 5;
const MAX_VARIABLES = 200;
const UNSAFE_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

export type SkippedField = { path: string; reason: string };
export type Inference = { variables: VariableDefinition[]; skipped: SkippedField[] };

export function inferVariables(
  sample: unknown,
  notAnObject = { path: 'sample', message: 'must be a JSON object (the fields of a webhook payload)' },
): Inference {
  if (!isPlainObject(sample)) throw new BadInputError('cannot infer variables', [notAnObject]);
  const skipped: SkippedField[] = [];
  return { variables: fieldsOf([sample], 1, '', skipped), skipped };
}

/** The fields of one object, or the union of the fields of several (the elements of a list). */
function fieldsOf(
  objects: Record<string, unknown>[],
  depth: number,
  prefix: string,
  skipped: SkippedField[],
): VariableDefinition[] {
  // A Map, so a "__proto__" key is an ordinary entry.
  const fields = new Map<string, unknown[]>();
  for (const o of objects) {
    for (const [name, value] of Object.entries(o)) {
      const values = fields.get(name) ?? [];
      if (value !== null && value !== undefined) values.push(value);
      fields.set(name, values);
    }
  }
  const out: VariableDefinition[] = [];
  for (const [name, values] of fields) {
    const path = prefix ? `${prefix}.${name}` : name;
    const type = commonType(values);
    if (UNSAFE_NAMES.has(name)) {
      skipped.push({ path, reason: 'a reserved JavaScript name' });
    } else if (!VARIABLE_NAME.test(name)) {
      skipped.push({
        path,
        reason: 'not a valid variable name (letters, digits and _, not starting with a digit)',
      });
    } else if (values.length === 0) {
      skipped.push({ path, reason: 'null in the sample, so its type is unknown' });
    } else if (!type) {
      skipped.push({ path, reason: 'has values of different types' });
    } else if (out.length >= MAX_VARIABLES) {
      skipped.push({ path, reason: `more than ${MAX_VARIABLES} fields` });
    } else {
      out.push({ name, required: false, ...shapeOf(type, values, depth, path, skipped) });
    }
  }
  return out;
}

type Shape = Pick<VariableDefinition, 'type' | 'properties' | 'items'>;

/** The shape of `values`, which all have `type` (one value, or a field of every element of a list). */
function shapeOf(
  type: VariableType,
  values: unknown[],
  depth: number,
  path: string,
  skipped: SkippedField[],
): Shape {
  if (depth >= MAX_DEPTH) return { type };
  if (type === VariableType.OBJECT) {
    const properties = fieldsOf(values as Record<string, unknown>[], depth + 1, path, skipped);
    return properties.length ? { type, properties } : { type };
  }
  if (type === VariableType.ARRAY) {
    const elements = (values as unknown[][]).flat().filter((e) => e !== null && e !== undefined);
    if (!elements.length) return { type };
    const itemType = commonType(elements);
    if (!itemType) {
      skipped.push({ path: `${path}[]`, reason: 'the elements have different types' });
      return { type };
    }
    const element = shapeOf(itemType, elements, depth, `${path}[]`, skipped);
    // An element's own list shape cannot be declared (items has no items).
    return {
      type,
      items: element.properties ? { type: itemType, properties: element.properties } : { type: itemType },
    };
  }
  return { type };
}

function commonType(values: unknown[]): VariableType | undefined {
  const types = new Set(values.map(typeOf));
  return types.size === 1 ? [...types][0] : undefined;
}

function typeOf(value: unknown): VariableType {
  if (typeof value === 'number') return VariableType.NUMBER;
  if (typeof value === 'boolean') return VariableType.BOOLEAN;
  if (Array.isArray(value)) return VariableType.ARRAY;
  if (isPlainObject(value)) return VariableType.OBJECT;
  return VariableType.STRING;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
