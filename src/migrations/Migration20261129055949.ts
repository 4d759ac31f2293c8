import { Migration } from '@mikro-orm/migrations';

export class Migration20261129055949 extends Migration {

  override name = 'Migration20261129055949';

  override up(): void | Promise<void> {
    this.addSql(`create table "installed_plugin" ("id" uuid not null, "name" varchar(255) not null, "version" varchar(255) not null, "package_name" varchar(255) not null, "source" text not null, "spec" text null, "enabled" boolean not null default true, "task_queue" varchar(255) null, "installed_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`alter table "installed_plugin" add constraint "installed_plugin_name_version_unique" unique ("name", "version");`);

    this.addSql(`create table "credential" ("id" uuid not null, "workspace_id" uuid not null, "name" varchar(255) not null, "plugin" varchar(255) not null, "type" varchar(255) not null, "data_encrypted" text not null, "created_at" timestamptz not null, primary key ("id"));`);

    this.addSql(`alter table "webhook_trigger" add "previous_token_hash" varchar(255) null, add "previous_token_expires_at" timestamptz null;`);
    this.addSql(`create index "webhook_trigger_previous_token_hash_index" on "webhook_trigger" ("previous_token_hash");`);

    this.addSql(`alter table "delivery" drop constraint "delivery_status_check";`);
    this.addSql(`alter table "delivery" add "duplicate_of" uuid null, add "source_ip" varchar(255) null, add "accept_latency_ms" int null;`);
    this.addSql(`alter table "delivery" add constraint "delivery_status_check" check ("status" in ('ACCEPTED', 'REJECTED', 'DUPLICATE'));`);

    this.addSql(`alter table "installed_plugin" add constraint "installed_plugin_source_check" check ("source" in ('BUILTIN', 'INSTALLED'));`);

    this.addSql(`alter table "credential" add constraint "credential_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id") on delete cascade;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "installed_plugin" cascade;`);
    this.addSql(`drop table if exists "credential" cascade;`);

    this.addSql(`alter table "delivery" drop constraint "delivery_status_check";`);
    this.addSql(`alter table "delivery" drop column "duplicate_of", drop column "source_ip", drop column "accept_latency_ms";`);
    this.addSql(`alter table "delivery" add constraint "delivery_status_check" check ("status" in ('ACCEPTED', 'REJECTED'));`);

    this.addSql(`drop index "webhook_trigger_previous_token_hash_index";`);
    this.addSql(`alter table "webhook_trigger" drop column "previous_token_hash", drop column "previous_token_expires_at";`);
  }

}
