import { Migrator } from '@mikro-orm/migrations';
import { MikroORM } from '@mikro-orm/postgresql';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { entities } from './schema';

/** Developer tool: diffs the entities against the checked-in snapshot and writes a migration into src/migrations. */
async function main() {
  const orm = await MikroORM.init({
    entities,
    metadataProvider: ReflectMetadataProvider,
    extensions: [Migrator],
    clientUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    migrations: {
      path: 'src/migrations',
      pathTs: 'src/migrations',
      glob: 'Migration*.ts',
      snapshotName: '.snapshot-hookflow',
      emit: 'ts',
    },
  });
  const result = await orm.migrator.create('src/migrations', false, false);
  console.log(result.fileName ? `wrote ${result.fileName}` : 'no changes');
  await orm.close(true);
}

void main();
