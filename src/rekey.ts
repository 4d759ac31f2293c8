/**
 * `npm run rekey`: re-encrypts every sealed value from HOOKFLOW_SECRET_KEY (the current key) to
 * HOOKFLOW_NEW_SECRET_KEY, in one transaction — all or nothing:
 *
 * - every `…Encrypted` column (credentials' data, webhook tokens, and any later one named that way);
 * - the sealed trigger secrets inside each flow version's trigger (`auth.sealedSecrets`, `auth.sealedPassword`).
 *
 * Stop every Hookflow process first (processes still holding the old key cannot read the new values), run it,
 * then start them with the new key. In the embedded mode without HOOKFLOW_SECRET_KEY the key file
 * DATA_DIR/secret.key is replaced (mode 0600) once the transaction has committed.
 */
import 'reflect-metadata';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { EntityManager } from '@mikro-orm/core';
import { ConfigError, loadConfig } from './config';
import { FlowVersion } from './schema/FlowVersion';
import { SecretBox } from './services/crypto';
import { openDatabase } from './services/database';
import { lockDataDir } from './services/data-dir-lock';
import { loadOrCreateSecretKey } from './services/secret-key';

export type RekeyCounts = Record<string, number>;

const BATCH = 200;

/** Thrown when a value does not open with the current key; nothing has been changed then. */
export class RekeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RekeyError';
  }
}

/** Re-encrypts everything inside one transaction; returns how many values changed, per `Entity.property`. */
export async function rekey(em: EntityManager, from: SecretBox, to: SecretBox): Promise<RekeyCounts> {
  const counts: RekeyCounts = {};
  const reseal = (sealed: string, where: string): string => {
    let plain: string;
    try {
      plain = from.decrypt(sealed);
    } catch {
      throw new RekeyError(
        `${where} does not open with the current key (HOOKFLOW_SECRET_KEY); nothing was changed`,
      );
    }
    return to.encrypt(plain);
  };

  await em.transactional(async (tx) => {
    for (const meta of tx.getMetadata().getAll().values()) {
      const props = meta.props.filter((p) => p.name.endsWith('Encrypted') && p.persist !== false);
      if (!meta.class || meta.embeddable || props.length === 0) continue;
      for (let offset = 0; ; offset += BATCH) {
        const rows = await tx.find(meta.class, {}, { orderBy: { id: 'asc' }, limit: BATCH, offset });
        if (rows.length === 0) break;
        for (const row of rows as Record<string, unknown>[]) {
          for (const prop of props) {
            const value = row[prop.name];
            if (typeof value !== 'string' || value === '') continue;
            row[prop.name] = reseal(value, `${meta.className}.${prop.name} of ${String(row.id)}`);
            counts[`${meta.className}.${prop.name}`] = (counts[`${meta.className}.${prop.name}`] ?? 0) + 1;
          }
        }
        await tx.flush();
        tx.clear();
      }
    }

    for (let offset = 0; ; offset += BATCH) {
      const versions = await tx.find(FlowVersion, {}, { orderBy: { id: 'asc' }, limit: BATCH, offset });
      if (versions.length === 0) break;
      for (const version of versions) {
        const auth = version.trigger.auth;
        if (!auth) continue;
        const where = `the trigger of flow ${version.flow.id} version ${version.version}`;
        const sealedSecrets = (auth.sealedSecrets ?? []).map((s) => reseal(s, where));
        const sealedPassword = auth.sealedPassword ? reseal(auth.sealedPassword, where) : auth.sealedPassword;
        const changed = sealedSecrets.length + (sealedPassword ? 1 : 0);
        if (changed === 0) continue;
        // A new object, so the ORM sees the JSON change.
        version.trigger = { ...version.trigger, auth: { ...auth, sealedSecrets, sealedPassword } };
        counts['FlowVersion.trigger'] = (counts['FlowVersion.trigger'] ?? 0) + changed;
      }
      await tx.flush();
      tx.clear();
    }
  });
  return counts;
}

function parseNewKey(value: string | undefined): Buffer {
  const key = value?.trim() ? Buffer.from(value.trim(), 'base64') : undefined;
  if (!key || key.length !== 32) {
    throw new ConfigError([
      'HOOKFLOW_NEW_SECRET_KEY: must be 32 bytes encoded as base64 (for example: openssl rand -base64 32)',
    ]);
  }
  return key;
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const newKey = parseNewKey(process.env.HOOKFLOW_NEW_SECRET_KEY);
  const embedded = !config.databaseUrl;
  const release = embedded ? lockDataDir(config.dataDir) : undefined;
  try {
    const keyFile = path.resolve(config.dataDir, 'secret.key');
    if (!config.secretKey && !existsSync(keyFile)) {
      throw new ConfigError([`HOOKFLOW_SECRET_KEY: is not set and ${keyFile} does not exist`]);
    }
    const oldKey = config.secretKey ?? loadOrCreateSecretKey(config.dataDir, (m) => console.warn(m));
    if (oldKey.equals(newKey)) throw new ConfigError(['HOOKFLOW_NEW_SECRET_KEY: is the current key']);
    const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
    let counts: RekeyCounts;
    try {
      counts = await rekey(db.em(), new SecretBox(oldKey), new SecretBox(newKey));
    } finally {
      await db.close();
    }
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    console.log(`Re-encrypted ${total} value(s): ${JSON.stringify(counts)}`);
    if (!config.secretKey) {
      const tmp = `${keyFile}.new`;
      writeFileSync(tmp, newKey.toString('base64') + '\n', { mode: 0o600 });
      renameSync(tmp, keyFile);
      console.log(`Replaced ${keyFile} with the new key.`);
    } else {
      console.log('Now start Hookflow with HOOKFLOW_SECRET_KEY set to the new key.');
    }
  } finally {
    release?.();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(err instanceof ConfigError ? 78 : 1);
  });
}
