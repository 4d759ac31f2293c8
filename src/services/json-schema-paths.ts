/**
 * Walks the JSON Schemas of plugin outputs (as zod's converter writes them) along reference paths: which
 * paths exist below `steps.<key>.output`, and what type each one has. Only the parts of JSON Schema that
 * describe shape are read ($ref, anyOf/oneOf/allOf, type, properties, additionalProperties,
 * patternProperties, items, prefixItems); anything else is taken as "could be anything".
 */

export type JsonSchema = Record<string, unknown> | boolean;

export enum ValueType {
  STRING = 'STRING',
  NUMBER = 'NUMBER',
  BOOLEAN = 'BOOLEAN',
  OBJECT = 'OBJECT',
  ARRAY = 'ARRAY',
  NULL = 'NULL',
  /** Unknown shape: any value, and any path below it. */
  ANY = 'ANY',
}

export type Segment = string | number;

/** Where one path segment leads: a known schema, an open shape, or nowhere (with why). */
export type Step =
  { kind: 'schema'; schema: JsonSchema } | { kind: 'open' } | { kind: 'missing'; message: string };

const MAX_REF_HOPS = 20;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** Follows local `$ref`s (`#/$defs/…`) to the schema they name. */
export function deref(root: JsonSchema, schema: JsonSchema): JsonSchema {
  let current = schema;
  for (let hops = 0; hops < MAX_REF_HOPS && isObject(current) && typeof current.$ref === 'string'; hops++) {
    const target = pointer(root, current.$ref);
    if (target === undefined) return true;
    current = target;
  }
  return current;
}

function pointer(root: JsonSchema, ref: string): JsonSchema | undefined {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObject(node) || !hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return typeof node === 'boolean' || isObject(node) ? node : undefined;
}

function typesOf(schema: Record<string, unknown>): string[] {
  if (typeof schema.type === 'string') return [schema.type];
  if (Array.isArray(schema.type)) return schema.type.filter((t): t is string => typeof t === 'string');
  if (isObject(schema.properties) || schema.additionalProperties !== undefined) return ['object'];
  if (schema.items !== undefined || Array.isArray(schema.prefixItems)) return ['array'];
  return [];
}

function branches(schema: Record<string, unknown>): JsonSchema[] | undefined {
  const list = schema.anyOf ?? schema.oneOf;
  return Array.isArray(list) ? (list as JsonSchema[]) : undefined;
}

const isNullOnly = (root: JsonSchema, s: JsonSchema) => {
  const d = deref(root, s);
  return isObject(d) && typesOf(d).length === 1 && typesOf(d)[0] === 'null';
};

export function valueType(root: JsonSchema, schema: JsonSchema): ValueType {
  const s = deref(root, schema);
  if (!isObject(s)) return ValueType.ANY;
  const alternatives = branches(s);
  if (alternatives) {
    const kinds = new Set(alternatives.filter((b) => !isNullOnly(root, b)).map((b) => valueType(root, b)));
    return kinds.size === 1 ? [...kinds][0]! : ValueType.ANY;
  }
  if (Array.isArray(s.allOf) && s.allOf.length) return valueType(root, s.allOf[0] as JsonSchema);
  const types = typesOf(s).filter((t) => t !== 'null');
  if (types.length !== 1) return typesOf(s).length === 1 ? ValueType.NULL : ValueType.ANY;
  switch (types[0]) {
    case 'string':
      return ValueType.STRING;
    case 'number':
    case 'integer':
      return ValueType.NUMBER;
    case 'boolean':
      return ValueType.BOOLEAN;
    case 'object':
      return ValueType.OBJECT;
    case 'array':
      return ValueType.ARRAY;
    default:
      return ValueType.ANY;
  }
}

export function descriptionOf(root: JsonSchema, schema: JsonSchema): string | undefined {
  if (isObject(schema) && typeof schema.description === 'string') return schema.description;
  const s = deref(root, schema);
  return isObject(s) && typeof s.description === 'string' ? s.description : undefined;
}

const isIndex = (seg: Segment) => typeof seg === 'number' || /^\d+$/.test(seg);

/** Where `segment` leads from `schema`. */
export function child(root: JsonSchema, schema: JsonSchema, segment: Segment): Step {
  const s = deref(root, schema);
  if (s === true) return { kind: 'open' };
  if (s === false) return { kind: 'missing', message: 'can never have a value' };
  const alternatives = branches(s) ?? (Array.isArray(s.allOf) ? (s.allOf as JsonSchema[]) : undefined);
  if (alternatives) {
    const found = alternatives.filter((b) => !isNullOnly(root, b)).map((b) => child(root, b, segment));
    if (found.some((f) => f.kind === 'open')) return { kind: 'open' };
    const schemas = found.flatMap((f) => (f.kind === 'schema' ? [f.schema] : []));
    if (schemas.length === 1) return { kind: 'schema', schema: schemas[0]! };
    if (schemas.length > 1) return { kind: 'schema', schema: { anyOf: schemas } };
    return found.find((f) => f.kind === 'missing') ?? { kind: 'open' };
  }
  const types = typesOf(s).filter((t) => t !== 'null');
  if (types.length === 0) return { kind: 'open' };
  if (types.includes('object') && typeof segment === 'string') return objectChild(s, segment);
  if (types.includes('array') && isIndex(segment)) return arrayChild(s, Number(segment));
  if (types.includes('array')) return { kind: 'missing', message: 'is a list; use an index such as [0]' };
  if (types.includes('object'))
    return { kind: 'missing', message: 'is an object; use a field name, not an index' };
  return { kind: 'missing', message: `is ${article(types[0]!)} and has no fields` };
}

function objectChild(s: Record<string, unknown>, name: string): Step {
  if (isObject(s.properties) && hasOwn(s.properties, name)) {
    return { kind: 'schema', schema: s.properties[name] as JsonSchema };
  }
  if (isObject(s.patternProperties)) {
    for (const [pattern, sub] of Object.entries(s.patternProperties)) {
      if (safeTest(pattern, name)) return { kind: 'schema', schema: sub as JsonSchema };
    }
  }
  const extra = s.additionalProperties;
  if (extra === false) {
    const known = isObject(s.properties) ? Object.keys(s.properties) : [];
    return {
      kind: 'missing',
      message: `has no field "${name}"${known.length ? ` (fields: ${known.join(', ')})` : ''}`,
    };
  }
  if (extra === undefined || extra === true) return { kind: 'open' };
  return { kind: 'schema', schema: extra as JsonSchema };
}

function arrayChild(s: Record<string, unknown>, index: number): Step {
  if (Array.isArray(s.prefixItems) && index < s.prefixItems.length) {
    return { kind: 'schema', schema: s.prefixItems[index] as JsonSchema };
  }
  if (s.items === undefined) return { kind: 'open' };
  if (s.items === false) return { kind: 'missing', message: `has no element [${index}]` };
  return { kind: 'schema', schema: s.items as JsonSchema };
}

function safeTest(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern, 'u').test(value);
  } catch {
    return false;
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/**
 * Follows `segments` from `schema`. Returns undefined when the path can exist, or the segment index that
 * cannot and why.
 */
export function checkPath(
  root: JsonSchema,
  segments: readonly Segment[],
): { at: number; message: string } | undefined {
  let current: JsonSchema = root;
  for (let i = 0; i < segments.length; i++) {
    const next = child(root, current, segments[i]!);
    if (next.kind === 'open') return undefined;
    if (next.kind === 'missing') return { at: i, message: next.message };
    current = next.schema;
  }
  return undefined;
}

export type SchemaPath = { segments: Segment[]; type: ValueType; description?: string };

/**
 * Every path the schema names below its root (object fields, `[0]` for list elements), depth first, up to
 * `maxDepth` segments and `limit` paths. Open shapes (records, unknown values) end a path.
 */
export function listPaths(root: JsonSchema, maxDepth = 4, limit = 200): SchemaPath[] {
  const out: SchemaPath[] = [];
  const seen = new Set<string>();
  const visit = (schema: JsonSchema, prefix: Segment[]) => {
    if (prefix.length >= maxDepth || out.length >= limit) return;
    for (const [segment, sub] of children(root, schema)) {
      if (out.length >= limit) return;
      const segments = [...prefix, segment];
      const key = JSON.stringify(segments);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ segments, type: valueType(root, sub), description: descriptionOf(root, sub) });
      visit(sub, segments);
    }
  };
  visit(root, []);
  return out;
}

function children(root: JsonSchema, schema: JsonSchema): [Segment, JsonSchema][] {
  const s = deref(root, schema);
  if (!isObject(s)) return [];
  const alternatives = branches(s) ?? (Array.isArray(s.allOf) ? (s.allOf as JsonSchema[]) : undefined);
  if (alternatives) return alternatives.filter((b) => !isNullOnly(root, b)).flatMap((b) => children(root, b));
  const types = typesOf(s);
  const out: [Segment, JsonSchema][] = [];
  if (types.includes('object') && isObject(s.properties)) {
    for (const [name, sub] of Object.entries(s.properties)) out.push([name, sub as JsonSchema]);
  }
  if (types.includes('array')) {
    const first = Array.isArray(s.prefixItems) && s.prefixItems.length ? s.prefixItems[0] : s.items;
    if (first !== undefined && first !== false) out.push([0, first as JsonSchema]);
  }
  return out;
}
