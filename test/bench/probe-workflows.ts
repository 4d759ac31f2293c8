/** The bare-Temporal probe's workflow: `activities` no-op activities in sequence (bundled by probe.ts). */
import { proxyActivities } from '@temporalio/workflow';

export type ProbeActivities = { noop(): Promise<void> };

const { noop } = proxyActivities<ProbeActivities>({ startToCloseTimeout: '1 minute' });

export async function probeWorkflow(activities: number): Promise<void> {
  for (let i = 0; i < activities; i++) await noop();
}
