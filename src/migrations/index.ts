import { Migration20261129051954 } from './Migration20261129051954';
import { Migration20261129055949 } from './Migration20261129055949';
import { Migration20261129072531 } from './Migration20261129072531';
import { Migration20261201004011 } from './Migration20261201004011';
import { Migration20261201010926 } from './Migration20261201010926';
import { Migration20261201021358 } from './Migration20261201021358';
import { Migration20261205120445 } from './Migration20261205120445';

/** Checked-in migrations, listed explicitly so the same list runs from TypeScript and compiled JavaScript. */
export const migrationsList = [
  { name: 'Migration20261129051954', class: Migration20261129051954 },
  { name: 'Migration20261129055949', class: Migration20261129055949 },
  { name: 'Migration20261129072531', class: Migration20261129072531 },
  { name: 'Migration20261201004011', class: Migration20261201004011 },
  { name: 'Migration20261201010926', class: Migration20261201010926 },
  { name: 'Migration20261201021358', class: Migration20261201021358 },
  { name: 'Migration20261205120445', class: Migration20261205120445 },
];
