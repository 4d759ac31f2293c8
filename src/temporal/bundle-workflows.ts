import { writeFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PREBUILT_BUNDLE, quietBundlerLogger } from './worker';

/** Part of `npm run build`: bundles the workflow code once, so a worker starts without webpack. */
async function main() {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: quietBundlerLogger,
  });
  writeFileSync(PREBUILT_BUNDLE, code);
  console.log(`workflow bundle: ${PREBUILT_BUNDLE} (${(code.length / 1024).toFixed(0)} KiB)`);
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
