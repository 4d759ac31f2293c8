import { ApiKey } from './ApiKey';
import { Delivery } from './Delivery';
import { Flow } from './Flow';
import { FlowVersion } from './FlowVersion';
import { Run } from './Run';
import { StepRun } from './StepRun';
import { WebhookTrigger } from './WebhookTrigger';
import { Workspace } from './Workspace';

export * from './enums';
export { ApiKey, Delivery, Flow, FlowVersion, Run, StepRun, WebhookTrigger, Workspace };

export const entities = [Workspace, ApiKey, Flow, FlowVersion, WebhookTrigger, Delivery, Run, StepRun];
