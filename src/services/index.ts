import type { SecretBox } from './crypto';
import type { Database } from './database';
import type { EventBus } from './events';
import type { FlowService } from './flows';
import type { PluginRegistry } from '../plugins-host/registry';
import type { RunStarter } from './dispatcher';
import type { PluginService } from './plugins';
import type { CredentialService } from './credentials';

/** Everything the API, ingress and activities share, built once in app.ts. */
export type Services = {
  db: Database;
  flows: FlowService;
  events: EventBus;
  box: SecretBox;
  publicUrl: string;
  registry: PluginRegistry;
  /** Present in processes that run the ingress role (or can reach Temporal for replays and test webhooks). */
  starter?: RunStarter;
  /** The plugin marketplace; optional so a bare API harness can run without it. */
  plugins?: PluginService;
  /** Encrypted credentials. */
  credentials?: CredentialService;
};
