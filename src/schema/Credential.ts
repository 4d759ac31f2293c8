import { randomUUID } from 'node:crypto';
import { Entity, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import type { Opt, Rel } from '@mikro-orm/core';
import { Field, ID, ObjectType } from 'type-graphql';
import { Workspace } from './Workspace';

/** Secret values for a plugin's credential type, sealed with HOOKFLOW_SECRET_KEY; never returned by the API. */
@ObjectType()
@Entity()
@Unique({ properties: ['workspace', 'name'] })
export class Credential {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => Workspace, { deleteRule: 'cascade' })
  workspace!: Rel<Workspace>;

  @Field()
  @Property()
  name!: string;

  @Field({ description: 'Plugin name, e.g. "email"' })
  @Property()
  plugin!: string;

  @Field({ description: "Key of the plugin's credential type" })
  @Property()
  type!: string;

  @Property({ type: 'text' })
  dataEncrypted!: string;

  @Field(() => Date)
  @Property({ type: 'datetime' })
  createdAt: Date & Opt = new Date();
}
