import { Migration } from '@mikro-orm/migrations';

export class Migration20261129051954 extends Migration {

  override name = 'Migration20261129051954';

  override up(): void | Promise<void> {
    this.addSql(`create table "workspace" ("id" uuid not null, "name" varchar(255) not null, "created_at" timestamptz not null, primary key ("id"));`);

    this.addSql(`create table "flow" ("id" uuid not null, "workspace_id" uuid not null, "name" varchar(255) not null, "status" text not null default 'ACTIVE', "version" int not null default 1, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "flow_workspace_id_created_at_index" on "flow" ("workspace_id", "created_at");`);

    this.addSql(`create table "webhook_trigger" ("id" uuid not null, "flow_id" uuid not null, "token_hash" varchar(255) not null, "token_encrypted" text not null, "token_created_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`alter table "webhook_trigger" add constraint "webhook_trigger_flow_id_unique" unique ("flow_id");`);
    this.addSql(`alter table "webhook_trigger" add constraint "webhook_trigger_token_hash_unique" unique ("token_hash");`);

    this.addSql(`create table "flow_version" ("id" uuid not null, "flow_id" uuid not null, "version" int not null, "trigger" jsonb not null, "steps" jsonb not null, "created_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`alter table "flow_version" add constraint "flow_version_flow_id_version_unique" unique ("flow_id", "version");`);

    this.addSql(`create table "delivery" ("id" uuid not null, "workspace_id" uuid not null, "flow_id" uuid not null, "trigger_id" uuid not null, "flow_version" int not null, "status" text not null, "idempotency_key" varchar(255) null, "method" varchar(255) not null, "headers" jsonb not null, "query" jsonb not null, "body" jsonb null, "content_type" varchar(255) null, "size_bytes" int not null, "reject_reason" varchar(255) null, "validation_errors" jsonb not null, "received_at" timestamptz not null, "dispatch_state" text not null default 'PENDING', "dispatched_at" timestamptz null, "is_test" boolean not null default false, primary key ("id"));`);
    this.addSql(`create index "delivery_dispatch_state_received_at_index" on "delivery" ("dispatch_state", "received_at");`);
    this.addSql(`create index "delivery_flow_id_received_at_index" on "delivery" ("flow_id", "received_at");`);
    this.addSql(`alter table "delivery" add constraint "delivery_trigger_id_idempotency_key_unique" unique ("trigger_id", "idempotency_key");`);

    this.addSql(`create table "run" ("id" uuid not null, "workspace_id" uuid not null, "flow_id" uuid not null, "delivery_id" uuid not null, "flow_version" int not null, "workflow_id" varchar(255) not null, "status" text not null default 'RUNNING', "error" text null, "started_at" timestamptz not null, "finished_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "run_delivery_id_index" on "run" ("delivery_id");`);
    this.addSql(`alter table "run" add constraint "run_workflow_id_unique" unique ("workflow_id");`);

    this.addSql(`create table "step_run" ("id" uuid not null, "run_id" uuid not null, "step_key" varchar(255) not null, "position" int not null, "plugin" varchar(255) not null, "action" varchar(255) not null, "status" text not null default 'RUNNING', "attempts" int not null default 0, "input" jsonb null, "output" jsonb null, "error" text null, "warnings" jsonb not null, "started_at" timestamptz not null, "finished_at" timestamptz null, "duration_ms" int null, primary key ("id"));`);
    this.addSql(`alter table "step_run" add constraint "step_run_run_id_step_key_unique" unique ("run_id", "step_key");`);

    this.addSql(`create table "api_key" ("id" uuid not null, "workspace_id" uuid not null, "name" varchar(255) not null, "role" text not null, "key_hash" varchar(255) not null, "prefix" varchar(255) not null, "created_at" timestamptz not null, "revoked_at" timestamptz null, primary key ("id"));`);
    this.addSql(`alter table "api_key" add constraint "api_key_key_hash_unique" unique ("key_hash");`);

    this.addSql(`alter table "flow" add constraint "flow_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id") on delete cascade;`);
    this.addSql(`alter table "flow" add constraint "flow_status_check" check ("status" in ('ACTIVE', 'PAUSED'));`);

    this.addSql(`alter table "webhook_trigger" add constraint "webhook_trigger_flow_id_foreign" foreign key ("flow_id") references "flow" ("id") on delete cascade;`);

    this.addSql(`alter table "flow_version" add constraint "flow_version_flow_id_foreign" foreign key ("flow_id") references "flow" ("id") on delete cascade;`);

    this.addSql(`alter table "delivery" add constraint "delivery_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id") on delete cascade;`);
    this.addSql(`alter table "delivery" add constraint "delivery_flow_id_foreign" foreign key ("flow_id") references "flow" ("id") on delete cascade;`);
    this.addSql(`alter table "delivery" add constraint "delivery_trigger_id_foreign" foreign key ("trigger_id") references "webhook_trigger" ("id") on delete cascade;`);
    this.addSql(`alter table "delivery" add constraint "delivery_status_check" check ("status" in ('ACCEPTED', 'REJECTED'));`);
    this.addSql(`alter table "delivery" add constraint "delivery_dispatch_state_check" check ("dispatch_state" in ('PENDING', 'DISPATCHED'));`);

    this.addSql(`alter table "run" add constraint "run_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id") on delete cascade;`);
    this.addSql(`alter table "run" add constraint "run_flow_id_foreign" foreign key ("flow_id") references "flow" ("id") on delete cascade;`);
    this.addSql(`alter table "run" add constraint "run_delivery_id_foreign" foreign key ("delivery_id") references "delivery" ("id") on delete cascade;`);
    this.addSql(`alter table "run" add constraint "run_status_check" check ("status" in ('RUNNING', 'COMPLETED', 'FAILED'));`);

    this.addSql(`alter table "step_run" add constraint "step_run_run_id_foreign" foreign key ("run_id") references "run" ("id") on delete cascade;`);
    this.addSql(`alter table "step_run" add constraint "step_run_status_check" check ("status" in ('RUNNING', 'SUCCEEDED', 'FAILED', 'SKIPPED'));`);

    this.addSql(`alter table "api_key" add constraint "api_key_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id") on delete cascade;`);
    this.addSql(`alter table "api_key" add constraint "api_key_role_check" check ("role" in ('ADMIN', 'EDITOR', 'VIEWER'));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "flow" drop constraint "flow_workspace_id_foreign";`);
    this.addSql(`alter table "delivery" drop constraint "delivery_workspace_id_foreign";`);
    this.addSql(`alter table "run" drop constraint "run_workspace_id_foreign";`);
    this.addSql(`alter table "api_key" drop constraint "api_key_workspace_id_foreign";`);
    this.addSql(`alter table "webhook_trigger" drop constraint "webhook_trigger_flow_id_foreign";`);
    this.addSql(`alter table "flow_version" drop constraint "flow_version_flow_id_foreign";`);
    this.addSql(`alter table "delivery" drop constraint "delivery_flow_id_foreign";`);
    this.addSql(`alter table "run" drop constraint "run_flow_id_foreign";`);
    this.addSql(`alter table "delivery" drop constraint "delivery_trigger_id_foreign";`);
    this.addSql(`alter table "run" drop constraint "run_delivery_id_foreign";`);
    this.addSql(`alter table "step_run" drop constraint "step_run_run_id_foreign";`);

    this.addSql(`drop table if exists "workspace" cascade;`);
    this.addSql(`drop table if exists "flow" cascade;`);
    this.addSql(`drop table if exists "webhook_trigger" cascade;`);
    this.addSql(`drop table if exists "flow_version" cascade;`);
    this.addSql(`drop table if exists "delivery" cascade;`);
    this.addSql(`drop table if exists "run" cascade;`);
    this.addSql(`drop table if exists "step_run" cascade;`);
    this.addSql(`drop table if exists "api_key" cascade;`);
  }

}
