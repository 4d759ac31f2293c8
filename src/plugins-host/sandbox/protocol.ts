/** Messages between a worker and a sandboxed plugin runner (Node IPC, structured clone). */
import type { RunInfo, StaticManifest } from '@hookflow/sdk';

export type RunMessage = {
  type: 'run';
  id: number;
  /** `name@version`, for messages. */
  plugin: string;
  action: string;
  input: unknown;
  credential: unknown;
  idempotencyKey: string;
  run: RunInfo;
};

export type ToRunner =
  | RunMessage
  /** Load the code and answer with the manifest built from it (the install-time check). */
  | { type: 'inspect'; id: number }
  | { type: 'abort'; id: number };

export type RunnerError = {
  message: string;
  permanent: boolean;
  retryAfterSeconds?: number;
  /** A PermanentError's structured details (validation issues). */
  details?: unknown;
};

export type FromRunner =
  | { type: 'result'; id: number; output: unknown }
  | { type: 'manifest'; id: number; manifest: StaticManifest }
  | { type: 'error'; id: number; error: RunnerError }
  | { type: 'log'; id: number; level: 'debug' | 'info' | 'warn' | 'error'; msg: string; data?: unknown }
  | { type: 'heartbeat'; id: number; details?: unknown };
