import { Migration } from '@mikro-orm/migrations';

export class Migration20261201010926 extends Migration {

  override name = 'Migration20261201010926';

  override up(): void | Promise<void> {
    this.addSql(`create table "flow_event" ("seq" bigserial primary key, "workspace_id" uuid not null, "flow_id" uuid not null, "payload" jsonb not null, "created_at" timestamptz not null default current_timestamp);`);
    this.addSql(`create index "flow_event_flow_id_seq_index" on "flow_event" ("flow_id", "seq");`);
    this.addSql(`create index "flow_event_workspace_id_seq_index" on "flow_event" ("workspace_id", "seq");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "flow_event" cascade;`);
  }

}
