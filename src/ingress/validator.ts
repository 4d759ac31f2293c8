import { z } from 'zod';
import type { ItemDefinition, VariableDefinition } from '../schema/definitions';
import type { ValidationIssue } from '../schema/Delivery';
import { VariableType } from '../schema/enums';
import { formatPath } from '../services/errors';
import { coerceStrings } from './coerce';
import { setOwn } from './fields';

const typeNames: Record<VariableType, string> = {
  STRING: 'a string',
  NUMBER: 'a number',
  BOOLEAN: 'a boolean',
  OBJECT: 'an object',
  ARRAY: 'an array',
};

/** At most this many issues are listed; a last one says how many more there were. */
export const MAX_ISSUES = 100;

/** `required` decides how a missing or null value is reported. */
function message(type: VariableType, required: boolean) {
  return (issue: { input?: unknown }) =>
    issue.input == null && required ? 'is required' : `must be ${typeNames[type]}`;
}

function schemaOf(def: ItemDefinition & { items?: ItemDefinition | null }, required: boolean): z.ZodType {
  const error = message(def.type, required);
  switch (def.type) {
    case VariableType.STRING:
      return z.string({ error });
    case VariableType.NUMBER:
      return z.number({ error });
    case VariableType.BOOLEAN:
      return z.boolean({ error });
    case VariableType.OBJECT:
      return def.properties?.length
        ? objectOf(def.properties, error)
        : z.custom<Record<string, unknown>>((v) => v !== null && typeof v === 'object' && !Array.isArray(v), {
            error,
          });
    case VariableType.ARRAY:
      return z.array(def.items ? schemaOf(def.items, true) : z.unknown(), { error });
  }
}

/** Undeclared fields pass through untouched. */
function objectOf(properties: readonly VariableDefinition[], error: (i: { input?: unknown }) => string) {
  const shape: Record<string, z.ZodType> = {};
  for (const v of properties) {
    const schema = schemaOf(v, v.required).meta({ description: v.description ?? undefined });
    setOwn(shape, v.name, v.required ? schema : schema.nullish());
  }
  return z.looseObject(shape, { error });
}

export type ValidationResult = {
  /** The payload after coercion (the same value when nothing was coerced). */
  value: unknown;
  issues: ValidationIssue[];
};

/** A trigger's variables compiled into a zod schema. Calling it checks a JSON payload as it is. */
export type PayloadValidator = ((body: unknown) => ValidationIssue[]) & {
  /** With stringsOnly (form, multipart, query), strings are first coerced to the declared types. */
  validate(body: unknown, opts?: { stringsOnly?: boolean }): ValidationResult;
};

export function buildValidator(variables: readonly VariableDefinition[]): PayloadValidator {
  const schema = variables.length
    ? objectOf(variables, () => 'the body must be an object with the declared variables')
    : undefined;
  const validate = (body: unknown, opts: { stringsOnly?: boolean } = {}): ValidationResult => {
    const value = opts.stringsOnly ? coerceStrings(body, variables) : body;
    if (!schema) return { value, issues: [] };
    const result = schema.safeParse(value ?? {});
    if (result.success) return { value, issues: [] };
    const issues = result.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
    if (issues.length > MAX_ISSUES) {
      const more = issues.length - MAX_ISSUES;
      issues.splice(MAX_ISSUES, more, { path: '', message: `and ${more} more problems` });
    }
    return { value, issues };
  };
  return Object.assign((body: unknown) => validate(body).issues, { validate });
}

const cache = new Map<string, PayloadValidator>();

/** Validators are compiled once per flow version (versions are immutable). */
export function validatorFor(versionId: string, variables: readonly VariableDefinition[]): PayloadValidator {
  let v = cache.get(versionId);
  if (!v) {
    if (cache.size >= 5000) cache.clear();
    v = buildValidator(variables);
    cache.set(versionId, v);
  }
  return v;
}
