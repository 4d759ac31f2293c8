import type { SecretBox } from './crypto';
import type { Database } from './database';
import type { EventBus } from './events';
import type { FlowService } from './flows';

/** Everything the API, ingress and activities share, built once in app.ts. */
export type Services = {
  db: Database;
  flows: FlowService;
  events: EventBus;
  box: SecretBox;
  publicUrl: string;
};
