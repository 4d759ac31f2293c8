import { randomUUID } from 'node:crypto';
import { Entity, Enum, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import type { Opt } from '@mikro-orm/core';
import { PluginSource } from './enums';

/** A plugin package known to this installation: installed ones, and built-in ones whose state was changed. */
@Entity()
@Unique({ properties: ['name', 'version'] })
export class InstalledPlugin {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  /** The plugin's short name used in steps, e.g. "acme". */
  @Property()
  name!: string;

  @Property()
  version!: string;

  @Property()
  packageName!: string;

  @Enum({ items: () => PluginSource })
  source!: PluginSource;

  /** What was passed to installPlugin (name@version or a tarball path). */
  @Property({ type: 'text', nullable: true })
  spec?: string;

  @Property({ type: 'boolean' })
  enabled: boolean & Opt = true;

  /** Installed plugins may run on their own task queue, served by a separate worker process. */
  @Property({ nullable: true })
  taskQueue?: string;

  @Property({ type: 'datetime' })
  installedAt: Date & Opt = new Date();
}
