import { z } from 'zod';
import { ResponseMode, ValidationMode, VariableType, WebhookAuthType } from './enums';

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
  /** For OBJECT: its declared fields. */
  properties?: VariableDefinition[] | null;
  /** For ARRAY: the shape of each element. */
  items?: ItemDefinition | null;
};

export type ItemDefinition = { type: VariableType; properties?: VariableDefinition[] | null };

const variableName = z
  .string()
  .regex(VARIABLE_NAME, 'must start with a letter or _ and contain only letters, digits and _ (at most 64)');

function uniqueNames(vars: { name: string }[], ctx: z.RefinementCtx) {
  const seen = new Set<string>();
  vars.forEach((v, i) => {
    if (seen.has(v.name))
      ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate variable "${v.name}"` });
    seen.add(v.name);
  });
}

const MAX_VARIABLE_DEPTH = 5;

function variableListSchema(depth: number): z.ZodType<VariableDefinition[], unknown> {
  return z
    .array(z.lazy(() => variableSchemaAt(depth)))
    .max(200)
    .superRefine(uniqueNames) as unknown as z.ZodType<VariableDefinition[], unknown>;
}

function itemSchemaAt(depth: number): z.ZodType<ItemDefinition, unknown> {
  return z.object({
    type: z.enum(VariableType),
    properties: depth < MAX_VARIABLE_DEPTH ? variableListSchema(depth + 1).nullish() : z.null().optional(),
  }) as unknown as z.ZodType<ItemDefinition, unknown>;
}

function variableSchemaAt(depth: number): z.ZodType<VariableDefinition, unknown> {
  return z
    .object({
      name: variableName,
      type: z.enum(VariableType),
      description: z.string().max(2000).nullish(),
      required: z
        .boolean()
        .nullish()
        .transform((v) => v ?? false),
      properties: depth < MAX_VARIABLE_DEPTH ? variableListSchema(depth + 1).nullish() : z.null().optional(),
      items: depth < MAX_VARIABLE_DEPTH ? itemSchemaAt(depth).nullish() : z.null().optional(),
    })
    .superRefine((v, ctx) => {
      if (v.properties?.length && v.type !== VariableType.OBJECT) {
        ctx.addIssue({
          code: 'custom',
          path: ['properties'],
          message: 'only OBJECT variables have properties',
        });
      }
      if (v.items && v.type !== VariableType.ARRAY) {
        ctx.addIssue({ code: 'custom', path: ['items'], message: 'only ARRAY variables have items' });
      }
    }) as unknown as z.ZodType<VariableDefinition, unknown>;
}

export const variableSchema = variableSchemaAt(1);

/** Auth as sent by a client; secrets arrive in plain text and are sealed before they are stored. */
export const authInputSchema = z
  .object({
    type: z.enum(WebhookAuthType),
    headerName: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,100}$/, 'must be an HTTP header name')
      .nullish(),
    secrets: z
      .array(z.string().min(8, 'must be at least 8 characters').max(500))
      .max(2, 'at most two secrets (current and next)')
      .nullish(),
    username: z.string().max(200).nullish(),
    password: z.string().max(500).nullish(),
    toleranceSeconds: z.number().int().min(1).max(3600).nullish(),
  })
  .superRefine((a, ctx) => {
    if (a.type === WebhookAuthType.BASIC && !a.username) {
      ctx.addIssue({ code: 'custom', path: ['username'], message: 'is required for BASIC' });
    }
  });

export type AuthInput = z.output<typeof authInputSchema>;

/** Auth as stored in a flow version: secrets only sealed (SecretBox). */
export type StoredAuth = {
  type: WebhookAuthType;
  headerName?: string | null;
  username?: string | null;
  sealedSecrets: string[];
  sealedPassword?: string | null;
  toleranceSeconds: number;
};

export const NO_AUTH: StoredAuth = { type: WebhookAuthType.NONE, sealedSecrets: [], toleranceSeconds: 300 };

export const triggerSchema = z.object({
  label: z.string().trim().min(1, 'must not be empty').max(200),
  description: z.string().max(5000).nullish(),
  variables: variableListSchema(1)
    .nullish()
    .transform((v) => v ?? []),
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
  validation: z
    .enum(ValidationMode)
    .nullish()
    .transform((v) => v ?? ValidationMode.STRICT),
  responseMode: z
    .enum(ResponseMode)
    .nullish()
    .transform((v) => v ?? ResponseMode.ASYNC),
  syncTimeoutMs: z
    .number()
    .int()
    .min(100)
    .max(30_000)
    .nullish()
    .transform((v) => v ?? 10_000),
  response: z
    .object({
      status: z.number().int().min(200).max(599).nullish(),
      headers: z.record(z.string(), z.string()).nullish(),
      body: z.unknown().optional(),
    })
    .nullish(),
  auth: authInputSchema.nullish(),
  ipAllowlist: z
    .array(z.string().max(100))
    .max(100)
    .nullish()
    .transform((v) => v ?? []),
  rateLimit: z
    .object({
      requestsPerMinute: z.number().int().min(1).max(1_000_000),
      burst: z.number().int().min(1).max(1_000_000).nullish(),
    })
    .nullish(),
  /** False: the payload is erased when the run ends (privacy); rejected and duplicate requests keep none. */
  storePayload: z
    .boolean()
    .nullish()
    .transform((v) => v ?? true),
  /** Header names and query keys redacted from stored deliveries besides the default list (case-insensitive). */
  redact: z
    .object({
      headers: z
        .array(
          z
            .string()
            .trim()
            .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/, 'must be an HTTP header name'),
        )
        .max(100)
        .nullish()
        .transform((v) => v ?? []),
      query: z
        .array(z.string().trim().min(1, 'must not be empty').max(200))
        .max(100)
        .nullish()
        .transform((v) => v ?? []),
    })
    .nullish(),
});

export type TriggerInputDefinition = z.output<typeof triggerSchema>;

/** The trigger as stored in a flow version. */
export type TriggerDefinition = Omit<TriggerInputDefinition, 'auth'> & { auth: StoredAuth };

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
  /** Fail the step when a {{reference}} has no value, instead of rendering it empty. */
  strictReferences: z.boolean().nullish(),
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
