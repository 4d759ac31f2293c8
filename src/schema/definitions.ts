import { z } from 'zod';
import { VariableType } from './enums';

/** zod is the single source of truth for what a flow's trigger and steps may contain. */

export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
export const STEP_KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export type VariableDefinition = {
  name: string;
  type: VariableType;
  description?: string | null;
  required: boolean;
};

export const variableSchema = z.object({
  name: z
    .string()
    .regex(VARIABLE_NAME, 'must start with a letter or _ and contain only letters, digits and _'),
  type: z.enum(VariableType),
  description: z.string().max(2000).nullish(),
  required: z
    .boolean()
    .nullish()
    .transform((v) => v ?? false),
});

export const triggerSchema = z.object({
  label: z.string().trim().min(1, 'must not be empty').max(200),
  description: z.string().max(5000).nullish(),
  variables: z
    .array(variableSchema)
    .max(200)
    .nullish()
    .transform((v) => v ?? [])
    .superRefine((vars, ctx) => {
      const seen = new Set<string>();
      vars.forEach((v, i) => {
        if (seen.has(v.name))
          ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate variable "${v.name}"` });
        seen.add(v.name);
      });
    }),
  methods: z
    .array(z.enum(HTTP_METHODS))
    .min(1)
    .nullish()
    .transform((v) => [...new Set(v ?? ['POST'])]),
  maxBodyBytes: z
    .number()
    .int()
    .min(1)
    .max(50 * 1024 * 1024)
    .nullish()
    .transform((v) => v ?? DEFAULT_MAX_BODY_BYTES),
  idempotencyKey: z.string().max(500).nullish(),
});

export type TriggerDefinition = z.output<typeof triggerSchema>;

export const stepSchema = z.object({
  key: z.string().regex(STEP_KEY, 'must start with a letter or _ and contain only letters, digits, _ and -'),
  plugin: z.string().min(1, 'must name a plugin, optionally pinned as name@version'),
  action: z.string().min(1),
  input: z
    .record(z.string(), z.unknown())
    .nullish()
    .transform((v) => v ?? {}),
  when: z.string().max(500).nullish(),
  credentialId: z.string().nullish(),
});

export type StepInputDefinition = z.output<typeof stepSchema>;

/** A saved step pins the plugin version it was saved with. */
export type StepDefinition = Omit<StepInputDefinition, 'plugin'> & { plugin: string; pluginVersion: string };

export const stepsSchema = z
  .array(stepSchema)
  .max(100)
  .nullish()
  .transform((v) => v ?? [])
  .superRefine((steps, ctx) => {
    const seen = new Set<string>();
    steps.forEach((s, i) => {
      if (seen.has(s.key))
        ctx.addIssue({ code: 'custom', path: [i, 'key'], message: `duplicate step key "${s.key}"` });
      seen.add(s.key);
    });
  });
