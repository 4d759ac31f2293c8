import { registerEnumType } from 'type-graphql';

export enum ApiKeyRole {
  ADMIN = 'ADMIN',
  EDITOR = 'EDITOR',
  VIEWER = 'VIEWER',
}

export enum FlowStatus {
  ACTIVE = 'ACTIVE',
  PAUSED = 'PAUSED',
}

export enum VariableType {
  STRING = 'STRING',
  NUMBER = 'NUMBER',
  BOOLEAN = 'BOOLEAN',
  OBJECT = 'OBJECT',
  ARRAY = 'ARRAY',
}

export enum DeliveryStatus {
  ACCEPTED = 'ACCEPTED',
  REJECTED = 'REJECTED',
  /** A repeated idempotency key: recorded for statistics, never run. */
  DUPLICATE = 'DUPLICATE',
}

export enum ValidationMode {
  /** A payload that does not match the variables is refused with 422. */
  STRICT = 'STRICT',
  /** Accepted anyway; the problems are recorded on the delivery. */
  LENIENT = 'LENIENT',
}

export enum ResponseMode {
  ASYNC = 'ASYNC',
  SYNC = 'SYNC',
}

export enum WebhookAuthType {
  NONE = 'NONE',
  HEADER_TOKEN = 'HEADER_TOKEN',
  BASIC = 'BASIC',
  STANDARD_WEBHOOKS = 'STANDARD_WEBHOOKS',
  STRIPE = 'STRIPE',
  GITHUB = 'GITHUB',
  SHOPIFY = 'SHOPIFY',
  SLACK = 'SLACK',
}

export enum PluginSource {
  BUILTIN = 'BUILTIN',
  INSTALLED = 'INSTALLED',
}

export enum DispatchState {
  PENDING = 'PENDING',
  DISPATCHED = 'DISPATCHED',
}

export enum RunStatus {
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
}

export enum StepRunStatus {
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  SKIPPED = 'SKIPPED',
}

registerEnumType(ApiKeyRole, { name: 'ApiKeyRole', description: 'What an API key may do in its workspace' });
registerEnumType(FlowStatus, { name: 'FlowStatus' });
registerEnumType(VariableType, { name: 'VariableType' });
registerEnumType(DeliveryStatus, { name: 'DeliveryStatus' });
registerEnumType(ValidationMode, { name: 'ValidationMode' });
registerEnumType(ResponseMode, { name: 'ResponseMode' });
registerEnumType(WebhookAuthType, { name: 'WebhookAuthType' });
registerEnumType(PluginSource, { name: 'PluginSource' });
registerEnumType(RunStatus, { name: 'RunStatus' });
registerEnumType(StepRunStatus, { name: 'StepRunStatus' });
