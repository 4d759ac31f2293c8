import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../../src/temporal/worker';

/**
 * Histories recorded from earlier versions of runFlow (test/fixtures/histories). Replaying them with today's
 * workflow code fails on any change that would break workflows already in flight: such a change must be
 * versioned with patched() instead.
 */
const dir = path.join(__dirname, '../fixtures/histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('runFlow replays the histories of earlier versions', () => {
  it('has recorded histories', () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
  });

  it.each(files)('%s', async (file) => {
    const history = temporal.api.history.v1.History.fromObject(
      JSON.parse(readFileSync(path.join(dir, file), 'utf8')),
    );
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file);
  });
});
