import { Migration } from '@mikro-orm/migrations';

export class Migration20261205120445 extends Migration {

  override name = 'Migration20261205120445';

  override up(): void | Promise<void> {
    this.addSql(`alter table "api_key" add "installation_admin" boolean not null default false;`);

    // Installations from before the right existed: the bootstrap key holds it, as on a new installation.
    this.addSql(`update "api_key" set "installation_admin" = true where "name" = 'bootstrap admin';`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "api_key" drop column "installation_admin";`);
  }

}
