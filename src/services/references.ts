import type { StepDefinition, TriggerDefinition, VariableDefinition } from '../schema/definitions';
import { VariableType } from '../schema/enums';
import { listReferences, parsePath, TEMPLATE } from '../templates';
import { BadInputError, formatPath } from './errors';
import {
  checkPath,
  listPaths,
  valueType,
  ValueType,
  type JsonSchema,
  type Segment,
} from './json-schema-paths';

/**
 * Save-time analysis of `{{…}}` references (warnings, never errors: a flow may be saved before its payload
 * is fully declared) and the list of references valid at a step, for an editor's autocomplete.
 */

export type FlowWarning = { path: string; message: string };

export enum SuggestionSource {
  WEBHOOK = 'WEBHOOK',
  STEP = 'STEP',
  METADATA = 'METADATA',
}

export type VariableSuggestion = {
  reference: string;
  type: ValueType;
  description: string | null;
  source: SuggestionSource;
};

/** What the analysis needs of a flow version. */
export type FlowDefinition = { trigger: TriggerDefinition; steps: StepDefinition[] };

/** The plugin registry, as far as output schemas go. */
export interface OutputSchemaSource {
  get(
    name: string,
    version?: string,
  ): { manifest: { actions: { name: string; displayName: string; outputSchema: JsonSchema }[] } } | undefined;
}

/** The metadata fields a run's template scope has (see TemplateScope in src/templates/render.ts). */
const METADATA: Record<string, Record<string, { type: ValueType; description: string }>> = {
  flow: {
    id: { type: ValueType.STRING, description: 'The flow id' },
    label: { type: ValueType.STRING, description: "The trigger's label" },
  },
  run: { id: { type: ValueType.STRING, description: 'The run id' } },
  delivery: {
    id: { type: ValueType.STRING, description: 'The delivery id' },
    receivedAt: { type: ValueType.STRING, description: 'When the request arrived (ISO 8601, UTC)' },
  },
};

const ROOTS = ['webhook', 'steps', 'flow', 'run', 'delivery'] as const;
type Root = (typeof ROOTS)[number];

/** webhook.<name> reads a body field, except these, which name the request parts. */
const REQUEST_PARTS = ['body', 'headers', 'query'];

type RefContext = {
  variables: readonly VariableDefinition[];
  steps: readonly StepDefinition[];
  /** Steps [0, available) ran before the place the reference is in. */
  available: number;
  /** Index of the step the reference is in, or -1. */
  self: number;
  roots: readonly Root[];
  rootsHint?: string;
  plugins: OutputSchemaSource;
};

// ---------------------------------------------------------------------------------------------------------
// Warnings

export function flowWarnings(flow: FlowDefinition, plugins: OutputSchemaSource): FlowWarning[] {
  const { trigger, steps } = flow;
  const warnings: FlowWarning[] = [];
  const base = { variables: trigger.variables, steps, plugins };

  trigger.variables.forEach((v, i) => {
    if (REQUEST_PARTS.includes(v.name)) {
      warnings.push({
        path: `trigger.variables[${i}].name`,
        message: `webhook.${v.name} means the whole request ${v.name}; reference this variable as webhook.body.${v.name}`,
      });
    }
  });

  steps.forEach((step, i) => {
    const ctx: RefContext = { ...base, available: i, self: i, roots: ROOTS };
    checkTemplates(step.input, ['steps', i, 'input'], ctx, warnings);
    if (step.when != null) {
      if (listReferences(step.when).length === 0) {
        warnings.push({
          path: formatPath(['steps', i, 'when']),
          message: 'has no {{reference}}, so the step always runs; use one such as {{webhook.send_email}}',
        });
      }
      checkTemplates(step.when, ['steps', i, 'when'], ctx, warnings);
    }
  });

  if (trigger.response) {
    const ctx: RefContext = { ...base, available: steps.length, self: -1, roots: ROOTS };
    checkTemplates(trigger.response, ['trigger', 'response'], ctx, warnings);
  }
  if (trigger.idempotencyKey) {
    const ctx: RefContext = {
      ...base,
      available: 0,
      self: -1,
      roots: ['webhook'],
      rootsHint:
        'the idempotency key is computed from the request before anything is stored: only webhook.* has a value then',
    };
    checkTemplates(trigger.idempotencyKey, ['trigger', 'idempotencyKey'], ctx, warnings);
  }
  return warnings;
}

/** Checks every string inside `value`; `path` is where value sits in the flow. */
function checkTemplates(value: unknown, path: Segment[], ctx: RefContext, out: FlowWarning[]): void {
  if (typeof value === 'string') {
    for (const m of value.matchAll(TEMPLATE)) {
      const ref = m[1]!.trim();
      const problem = checkReference(ref, ctx);
      if (problem) out.push({ path: formatPath(path), message: `{{${ref}}}: ${problem}` });
    }
    if (value.replace(TEMPLATE, '').includes('{{')) {
      out.push({
        path: formatPath(path),
        message: 'has a "{{" without a matching "}}"; it renders as plain text',
      });
    }
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => checkTemplates(v, [...path, i], ctx, out));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) checkTemplates(v, [...path, k], ctx, out);
  }
}

/** Why a reference can have no value at this place, or undefined when it is fine. */
function checkReference(ref: string, ctx: RefContext): string | undefined {
  const segments = parsePath(ref);
  if (!segments) return 'is not a valid reference (write a path such as webhook.items[0].sku)';
  const [root, ...rest] = segments;
  if (!ROOTS.includes(root as Root)) {
    const hint = typeof root === 'string' ? closest(root, ROOTS) : undefined;
    return `unknown reference root "${root}"${hint ? ` (did you mean ${hint}?)` : ''}; references start with ${ROOTS.map((r) => `${r}.`).join(', ')}`;
  }
  if (!ctx.roots.includes(root as Root)) return `${root}.* is not available here: ${ctx.rootsHint}`;
  if (root === 'webhook') return checkWebhookPath(rest, ctx.variables);
  if (root === 'steps') return checkStepPath(rest, ctx);
  return checkMetadataPath(root as string, rest);
}

function checkWebhookPath(rest: Segment[], variables: readonly VariableDefinition[]): string | undefined {
  const [name, ...below] = rest;
  if (name === undefined || REQUEST_PARTS.includes(String(name))) return undefined;
  if (typeof name === 'number') return `use webhook.body[${name}] to index a body that is a list`;
  const variable = variables.find((v) => v.name === name);
  if (!variable) {
    const hint = closest(
      name,
      variables.map((v) => v.name),
    );
    const declared = variables.length
      ? `declared: ${variables.map((v) => v.name).join(', ')}`
      : 'the trigger declares no variables';
    return `"${name}" is not a declared variable${hint ? ` (did you mean ${hint}?)` : ''} (${declared}); declare it, or use webhook.body.${name} for an undeclared field`;
  }
  let shape: Shape | undefined = variable;
  const where: Segment[] = ['webhook', name];
  for (const seg of below) {
    if (!shape) return undefined;
    const here = formatReference(where);
    if (shape.type === VariableType.OBJECT) {
      if (!shape.properties?.length) return undefined;
      if (typeof seg === 'number') return `${here} is an OBJECT; use a field name, not an index`;
      const field: VariableDefinition | undefined = shape.properties.find((p) => p.name === seg);
      if (!field) {
        const names = shape.properties.map((p) => p.name);
        const hint = closest(seg, names);
        return `${here} has no declared field "${seg}"${hint ? ` (did you mean ${hint}?)` : ''} (fields: ${names.join(', ')})`;
      }
      shape = field;
    } else if (shape.type === VariableType.ARRAY) {
      if (!isIndex(seg)) return `${here} is an ARRAY; use an index such as ${here}[0]`;
      shape = shape.items ?? undefined;
    } else {
      return `${here} is a ${shape.type} and has no fields`;
    }
    where.push(seg);
  }
  return undefined;
}

type Shape = { type: VariableType; properties?: VariableDefinition[] | null; items?: Shape | null };

function checkStepPath(rest: Segment[], ctx: RefContext): string | undefined {
  const [key, part, ...below] = rest;
  if (key === undefined) return 'name a step: steps.<key>.output';
  const index = ctx.steps.findIndex((s) => s.key === key);
  const earlier = ctx.steps.slice(0, ctx.available).map((s) => s.key);
  const earlierText = earlier.length
    ? `earlier steps: ${earlier.join(', ')}`
    : 'no step runs before this one';
  if (index === -1) {
    const hint = closest(
      String(key),
      ctx.steps.map((s) => s.key),
    );
    return `there is no step "${key}"${hint ? ` (did you mean ${hint}?)` : ''} (${earlierText})`;
  }
  if (index === ctx.self) return `a step cannot use its own output (${earlierText})`;
  if (index >= ctx.available)
    return `step "${key}" runs after this one, so its output does not exist yet (${earlierText})`;
  if (part === undefined) return undefined;
  if (part !== 'output') return `a step only has an output: use steps.${key}.output…`;
  const schema = outputSchema(ctx.plugins, ctx.steps[index]!);
  if (schema === undefined) return undefined;
  const problem = checkPath(schema, below);
  if (!problem) return undefined;
  return `${formatReference(['steps', key, 'output', ...below.slice(0, problem.at)])} ${problem.message}`;
}

function checkMetadataPath(root: string, rest: Segment[]): string | undefined {
  const fields = METADATA[root]!;
  const [field, ...below] = rest;
  if (field === undefined) return undefined;
  const known = Object.keys(fields);
  if (typeof field !== 'string' || !known.includes(field)) {
    return `${root} has no field "${field}" (fields: ${known.join(', ')})`;
  }
  if (below.length) return `${root}.${field} is a ${fields[field]!.type} and has no fields`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Suggestions

/** Every reference valid inside the step `stepKey`, in the order an editor would list them. */
export function variableSuggestions(
  flow: FlowDefinition,
  stepKey: string,
  plugins: OutputSchemaSource,
): VariableSuggestion[] {
  const index = flow.steps.findIndex((s) => s.key === stepKey);
  if (index === -1) {
    const keys = flow.steps.map((s) => s.key);
    throw new BadInputError('unknown step', [
      {
        path: 'stepKey',
        message: `the flow has no step "${stepKey}" (${keys.length ? `steps: ${keys.join(', ')}` : 'it has no steps'})`,
      },
    ]);
  }
  return [
    ...webhookSuggestions(flow.trigger.variables),
    ...flow.steps.slice(0, index).flatMap((step) => stepSuggestions(step, plugins)),
    ...Object.entries(METADATA).flatMap(([root, fields]) =>
      Object.entries(fields).map(([field, { type, description }]) => ({
        reference: `${root}.${field}`,
        type,
        description,
        source: SuggestionSource.METADATA,
      })),
    ),
  ];
}

function webhookSuggestions(variables: readonly VariableDefinition[]): VariableSuggestion[] {
  const out: VariableSuggestion[] = [];
  const add = (segments: Segment[], type: VariableType, description: string | null | undefined) =>
    out.push({
      reference: formatReference(segments),
      type: type as unknown as ValueType,
      description: description ?? null,
      source: SuggestionSource.WEBHOOK,
    });
  const visit = (vars: readonly VariableDefinition[], prefix: Segment[]) => {
    for (const v of vars) {
      const segments = [...prefix, v.name];
      add(segments, v.type, v.description);
      visitShape(v, segments);
    }
  };
  const visitShape = (shape: Shape, segments: Segment[]) => {
    if (shape.type === VariableType.OBJECT && shape.properties?.length) visit(shape.properties, segments);
    if (shape.type === VariableType.ARRAY && shape.items) {
      const element = [...segments, 0];
      add(element, shape.items.type, `An element of ${formatReference(segments)}`);
      visitShape(shape.items, element);
    }
  };
  visit(
    variables.filter((v) => !REQUEST_PARTS.includes(v.name)),
    ['webhook'],
  );
  const part = (name: string, type: ValueType, description: string) =>
    out.push({ reference: `webhook.${name}`, type, description, source: SuggestionSource.WEBHOOK });
  // The body is whatever the sender posted: an object for JSON and forms, text for text/*.
  part('body', ValueType.ANY, 'The whole parsed request body');
  part(
    'headers',
    ValueType.OBJECT,
    'Request headers by lower-case name (credentials and signatures are redacted)',
  );
  part('query', ValueType.OBJECT, 'Query string parameters');
  return out;
}

function stepSuggestions(step: StepDefinition, plugins: OutputSchemaSource): VariableSuggestion[] {
  const action = actionManifest(plugins, step);
  const schema = action?.outputSchema;
  const base = ['steps', step.key, 'output'];
  const what = `${step.plugin}.${step.action}${action ? ` (${action.displayName})` : ''}`;
  const root: VariableSuggestion = {
    reference: formatReference(base),
    type: schema === undefined ? ValueType.ANY : valueType(schema, schema),
    description: `Output of step "${step.key}", ${what}`,
    source: SuggestionSource.STEP,
  };
  if (schema === undefined) return [root];
  return [
    root,
    ...listPaths(schema).map((p) => ({
      reference: formatReference([...base, ...p.segments]),
      type: p.type,
      description: p.description ?? null,
      source: SuggestionSource.STEP,
    })),
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

function actionManifest(plugins: OutputSchemaSource, step: StepDefinition) {
  return plugins
    .get(step.plugin, step.pluginVersion || undefined)
    ?.manifest.actions.find((a) => a.name === step.action);
}

function outputSchema(plugins: OutputSchemaSource, step: StepDefinition): JsonSchema | undefined {
  return actionManifest(plugins, step)?.outputSchema;
}

const isIndex = (seg: Segment) => typeof seg === 'number' || /^\d+$/.test(seg);

/** `['webhook', 'items', 0, 'sku']` → `webhook.items[0].sku`; names parsePath could not read get `["…"]`. */
export function formatReference(segments: readonly Segment[]): string {
  return segments
    .map((s, i) => {
      if (typeof s === 'number') return `[${s}]`;
      if (/^[^.[\]"'{}\s]+$/.test(s)) return i === 0 ? s : `.${s}`;
      return `["${s}"]`;
    })
    .join('');
}

/** The candidate at edit distance ≤ 2 (and less than half the word), for "did you mean". */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d <= 2 && d < Math.max(word.length, c.length) / 2 && (!best || d < best.d)) best = { name: c, d };
  }
  return best?.name;
}

function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
