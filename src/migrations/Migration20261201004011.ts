import { Migration } from '@mikro-orm/migrations';

export class Migration20261201004011 extends Migration {

  override name = 'Migration20261201004011';

  override up(): void | Promise<void> {
    this.addSql(`create index "run_status_started_at_index" on "run" ("status", "started_at");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "run_status_started_at_index";`);
  }

}
