import { Migration } from '@mikro-orm/migrations';

export class Migration20261201021358 extends Migration {

  override name = 'Migration20261201021358';

  override up(): void | Promise<void> {
    this.addSql(`alter table "workspace" add "retention_days" int null;`);

    this.addSql(`alter table "delivery" add "payload_erased_at" timestamptz null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "delivery" drop column "payload_erased_at";`);

    this.addSql(`alter table "workspace" drop column "retention_days";`);
  }

}
