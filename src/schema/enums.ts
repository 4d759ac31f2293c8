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
registerEnumType(RunStatus, { name: 'RunStatus' });
registerEnumType(StepRunStatus, { name: 'StepRunStatus' });
