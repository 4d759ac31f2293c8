/**
 * @hookflow/sdk — the only Hookflow code a connector plugin imports.
 *
 * ```ts
 * import { z } from 'zod';
 * import { definePlugin, defineAction, PermanentError } from '@hookflow/sdk';
 *
 * export default definePlugin({
 *   name: 'acme',
 *   displayName: 'Acme',
 *   description: 'Talk to the Acme API',
 *   credentials: { apiKey: { displayName: 'API key', schema: z.object({ key: z.string() }) } },
 *   actions: {
 *     ping: defineAction({
 *       displayName: 'Ping',
 *       description: 'Checks the API is up',
 *       credential: 'apiKey',
 *       input: z.object({ message: z.string() }),
 *       output: z.object({ ok: z.boolean() }),
 *       async run(ctx, input) {
 *         const res = await ctx.fetch('https://api.acme.test/ping', { signal: ctx.signal });
 *         return { ok: res.ok };
 *       },
 *     }),
 *   },
 * });
 * ```
 */
export {
  HOOKFLOW_API_VERSION,
  PLUGIN_KIND,
  PLUGIN_NAME_PATTERN,
  ACTION_NAME_PATTERN,
  PluginDefinitionError,
  definePlugin,
  defineAction,
  defineCredential,
  isPluginDefinition,
  pluginDefinitionProblems,
  actionDefinitionProblems,
} from './define';
export type {
  ActionContext,
  ActionDefinition,
  ActionInput,
  ActionOutput,
  AnyActionDefinition,
  ConnectFunction,
  ConnectOptions,
  CredentialDefinition,
  CredentialValue,
  Logger,
  PluginDefinition,
  PluginInput,
  RetryPolicy,
  RunInfo,
} from './define';
export {
  PermanentError,
  RateLimitedError,
  isPermanentError,
  isRateLimitedError,
  parseRetryAfter,
  PERMANENT_ERROR_CODE,
  RATE_LIMITED_ERROR_CODE,
  DEFAULT_RETRY_AFTER_SECONDS,
} from './errors';
export type { PermanentErrorOptions } from './errors';
export { parseOrThrowPermanent, toValidationIssues, describeIssues, formatPath } from './validation';
export type { ValidationIssue, ParsableSchema } from './validation';
export { testAction } from './testing';
export {
  MANIFEST_FILE,
  MANIFEST_VERSION,
  manifestOf,
  findPluginDefinition,
  loadDefinition,
  packageEntry,
  writeManifest,
} from './manifest';
export type { ActionManifest, CredentialManifest, JsonSchema, StaticManifest } from './manifest';
export {
  sendApiRequest,
  readCapped,
  describeError,
  REQUEST_TIMEOUT_MS,
  MAX_RESPONSE_BYTES,
} from './api-request';
export type { ApiResponse } from './api-request';
export type { TestActionOptions } from './testing';
