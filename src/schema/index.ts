import { ApiKey } from './ApiKey';
import { Credential } from './Credential';
import { Delivery } from './Delivery';
import { Flow } from './Flow';
import { FlowVersion } from './FlowVersion';
import { InstalledPlugin } from './InstalledPlugin';
import { Run } from './Run';
import { StepRun } from './StepRun';
import { StoredEvent } from './StoredEvent';
import { WebhookTrigger } from './WebhookTrigger';
import { Workspace } from './Workspace';

export * from './enums';
export {
  ApiKey,
  Credential,
  Delivery,
  Flow,
  FlowVersion,
  InstalledPlugin,
  Run,
  StepRun,
  StoredEvent,
  WebhookTrigger,
  Workspace,
};

export const entities = [
  Workspace,
  ApiKey,
  Flow,
  FlowVersion,
  WebhookTrigger,
  Delivery,
  Run,
  StepRun,
  Credential,
  InstalledPlugin,
  StoredEvent,
];
