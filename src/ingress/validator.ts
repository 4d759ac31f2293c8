import { z } from 'zod';
import { VariableType } from '../schema/enums';
import type { VariableDefinition } from '../schema/definitions';
import type { ValidationIssue } from '../schema/Delivery';
import { formatPath } from '../services/errors';

const typeSchemas: Record<VariableType, z.ZodType> = {
  [VariableType.STRING]: z.string(),
  [VariableType.NUMBER]: z.number(),
  [VariableType.BOOLEAN]: z.boolean(),
  [VariableType.OBJECT]: z.record(z.string(), z.unknown()),
  [VariableType.ARRAY]: z.array(z.unknown()),
};

const typeNames: Record<VariableType, string> = {
  STRING: 'a string',
  NUMBER: 'a number',
  BOOLEAN: 'a boolean',
  OBJECT: 'an object',
  ARRAY: 'an array',
};

export type PayloadValidator = (body: unknown) => ValidationIssue[];

/** A zod schema built from the trigger's variables; undeclared fields pass through untouched. */
export function buildValidator(variables: readonly VariableDefinition[]): PayloadValidator {
  const shape: Record<string, z.ZodType> = {};
  for (const v of variables) {
    const base = typeSchemas[v.type].meta({ description: v.description ?? undefined });
    const typed = z.any().superRefine((value, ctx) => {
      if (value === undefined) {
        if (v.required) ctx.addIssue({ code: 'custom', message: 'is required' });
        return;
      }
      if (!base.safeParse(value).success)
        ctx.addIssue({ code: 'custom', message: `must be ${typeNames[v.type]}` });
    });
    shape[v.name] = typed;
  }
  const schema = z.looseObject(shape);
  return (body) => {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return variables.length ? [{ path: '', message: 'the body must be a JSON object' }] : [];
    }
    const result = schema.safeParse(body);
    return result.success
      ? []
      : result.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
  };
}

const cache = new Map<string, PayloadValidator>();

/** Validators are compiled once per flow version. */
export function validatorFor(versionId: string, variables: readonly VariableDefinition[]): PayloadValidator {
  let v = cache.get(versionId);
  if (!v) {
    if (cache.size > 5000) cache.clear();
    v = buildValidator(variables);
    cache.set(versionId, v);
  }
  return v;
}
