#!/usr/bin/env node
/** `hookflow-manifest [package dir …]`: writes hookflow-manifest.json into each built plugin package (default: .). */
import { writeManifest } from './manifest';

const dirs = process.argv.slice(2);
let failed = false;
for (const dir of dirs.length ? dirs : ['.']) {
  try {
    console.log(`wrote ${writeManifest(dir)}`);
  } catch (err) {
    failed = true;
    console.error(`hookflow-manifest: ${dir}: ${(err as Error).message}`);
  }
}
process.exitCode = failed ? 1 : 0;
