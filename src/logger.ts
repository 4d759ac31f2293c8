import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

/** Where logs go: stdout unless told otherwise (tests pass their own stream). */
export type LogOutput = NodeJS.WritableStream & { isTTY?: boolean };

/**
 * Human-readable lines (pino-pretty) when the output is a terminal, one JSON object per line otherwise (a log
 * collector, a file, a container runtime). Errors are logged as `{ err }` so their stacks are kept.
 */
export function createLogger(level: string, out: LogOutput = process.stdout): Logger {
  if (out.isTTY) {
    return pino({ level }, pretty({ destination: out, colorize: true, translateTime: 'SYS:HH:MM:ss.l' }));
  }
  // On stdout, pino's own fast destination; another stream is written to as it is.
  return out === process.stdout ? pino({ level }) : pino({ level }, out);
}
