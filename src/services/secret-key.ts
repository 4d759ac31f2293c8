import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Embedded mode only: reads DATA_DIR/secret.key, creating it (mode 0600) on the first start. */
export function loadOrCreateSecretKey(dataDir: string, warn: (msg: string) => void): Buffer {
  const file = path.resolve(dataDir, 'secret.key');
  if (existsSync(file)) {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key`);
    return key;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  warn(`generated a secret key in ${file}; back it up, and set HOOKFLOW_SECRET_KEY in production`);
  return key;
}
