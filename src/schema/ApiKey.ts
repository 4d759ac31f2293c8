import { randomUUID } from 'node:crypto';
import { Entity, Enum, ManyToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import type { Opt, Rel } from '@mikro-orm/core';
import { Field, ID, ObjectType } from 'type-graphql';
import { ApiKeyRole } from './enums';
import { Workspace } from './Workspace';

/** Only the SHA-256 of the key is stored; the key itself is shown once, when created. */
@ObjectType()
@Entity()
export class ApiKey {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => Workspace, { deleteRule: 'cascade' })
  workspace!: Rel<Workspace>;

  @Field()
  @Property()
  name!: string;

  @Field(() => ApiKeyRole)
  @Enum({ items: () => ApiKeyRole })
  role!: ApiKeyRole;

  @Property({ unique: true })
  keyHash!: string;

  @Field(() => Boolean, {
    description:
      'Holds the installation-level right: install, enable, route and uninstall plugins for every workspace, and grant this right to new keys',
  })
  @Property({ default: false })
  installationAdmin: boolean & Opt = false;

  @Field({ description: 'The first characters of the key, to recognise it' })
  @Property()
  prefix!: string;

  @Field(() => Date)
  @Property({ type: 'datetime' })
  createdAt: Date & Opt = new Date();

  @Field(() => Date, { nullable: true })
  @Property({ type: 'datetime', nullable: true })
  revokedAt?: Date;
}
