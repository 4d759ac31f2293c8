import { Migration } from '@mikro-orm/migrations';

export class Migration20261129072531 extends Migration {

  override name = 'Migration20261129072531';

  override up(): void | Promise<void> {
    this.addSql(`create index "delivery_workspace_id_received_at_index" on "delivery" ("workspace_id", "received_at");`);

    this.addSql(`create index "run_flow_id_finished_at_index" on "run" ("flow_id", "finished_at");`);
    this.addSql(`create index "run_workspace_id_finished_at_index" on "run" ("workspace_id", "finished_at");`);

    this.addSql(`alter table "credential" add constraint "credential_workspace_id_name_unique" unique ("workspace_id", "name");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "credential" drop constraint "credential_workspace_id_name_unique";`);

    this.addSql(`drop index "delivery_workspace_id_received_at_index";`);

    this.addSql(`drop index "run_flow_id_finished_at_index";`);
    this.addSql(`drop index "run_workspace_id_finished_at_index";`);
  }

}
