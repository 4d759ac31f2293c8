import { isIP } from 'node:net';
import { z } from 'zod';

const roles = ['api', 'ingress', 'worker'] as const;
export type Role = (typeof roles)[number];

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const secretKey = optionalString.refine((v) => v === undefined || Buffer.from(v, 'base64').length === 32, {
  message: 'must be 32 bytes encoded as base64 (for example: openssl rand -base64 32)',
});

const csv = optionalString.transform((v) =>
  v === undefined
    ? []
    : v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
);

const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export const configSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: optionalString
      .transform((v) => v ?? '0.0.0.0')
      .refine((v) => isIP(v) !== 0 || HOST_NAME.test(v), {
        message:
          'must be an IP address to listen on (0.0.0.0 for every IPv4 interface, :: for every interface) or a host name',
      }),
    PUBLIC_URL: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
    DATA_DIR: z.string().min(1).default('./data'),
    DATABASE_URL: optionalString.pipe(
      z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
        .optional(),
    ),
    TEMPORAL_ADDRESS: optionalString.pipe(
      z
        .string()
        .regex(/^[^:\s]+:\d+$/, 'must be host:port')
        .optional(),
    ),
    TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
    TEMPORAL_TASK_QUEUE: z.string().min(1).default('hookflow'),
    TEMPORAL_CLI_PATH: optionalString,
    HOOKFLOW_ROLES: optionalString.transform((v, ctx) => {
      const list = (v ?? roles.join(','))
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const bad = list.filter((r) => !(roles as readonly string[]).includes(r));
      if (bad.length || list.length === 0) {
        ctx.addIssue({ code: 'custom', message: `must be a comma-separated subset of ${roles.join(',')}` });
        return z.NEVER;
      }
      return [...new Set(list)] as Role[];
    }),
    HOOKFLOW_WORKER_QUEUES: csv.pipe(
      z.array(
        z.string().regex(/^[A-Za-z0-9._-]{1,200}$/, 'task queue names use letters, digits, ".", "_" and "-"'),
      ),
    ),
    HOOKFLOW_SECRET_KEY: secretKey,
    HOOKFLOW_ADMIN_KEY: optionalString.pipe(z.string().min(24, 'must be at least 24 characters').optional()),
    HOOKFLOW_EGRESS_ALLOW: csv,
    HOOKFLOW_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(30),
    HOOKFLOW_RETENTION_MAX_DELIVERIES: optionalString.pipe(
      z.coerce.number<string | undefined>().int().min(1).optional(),
    ),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .superRefine((c, ctx) => {
    if (c.DATABASE_URL && !c.HOOKFLOW_SECRET_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['HOOKFLOW_SECRET_KEY'],
        message: 'is required when DATABASE_URL is set (only the embedded mode generates one)',
      });
    }
  });

export type Config = {
  port: number;
  /** The address the HTTP server listens on. */
  host: string;
  publicUrl: string;
  dataDir: string;
  databaseUrl?: string;
  temporal: {
    address?: string;
    namespace: string;
    taskQueue: string;
    cliPath?: string;
    /** Task queues the worker role serves (HOOKFLOW_WORKER_QUEUES); unset: only `taskQueue`. */
    workerQueues?: string[];
  };
  roles: Role[];
  secretKey?: Buffer;
  adminKey?: string;
  egressAllow: string[];
  retention: {
    /** Deliveries older than this are deleted with their runs (a workspace may set its own). */
    days: number;
    /** Per workspace: at most this many deliveries are kept, the newest; unset: no limit. */
    maxDeliveries?: number;
  };
  logLevel: string;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment once; every bad variable is named in one error. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.') || 'environment'}: ${i.message}`),
    );
  }
  const c = parsed.data;
  return {
    port: c.PORT,
    host: c.HOST,
    publicUrl: (c.PUBLIC_URL ?? `http://localhost:${c.PORT}`).replace(/\/+$/, ''),
    dataDir: c.DATA_DIR,
    databaseUrl: c.DATABASE_URL,
    temporal: {
      address: c.TEMPORAL_ADDRESS,
      namespace: c.TEMPORAL_NAMESPACE,
      taskQueue: c.TEMPORAL_TASK_QUEUE,
      cliPath: c.TEMPORAL_CLI_PATH,
      workerQueues: c.HOOKFLOW_WORKER_QUEUES.length
        ? [...new Set(c.HOOKFLOW_WORKER_QUEUES)]
        : [c.TEMPORAL_TASK_QUEUE],
    },
    roles: c.HOOKFLOW_ROLES,
    secretKey: c.HOOKFLOW_SECRET_KEY ? Buffer.from(c.HOOKFLOW_SECRET_KEY, 'base64') : undefined,
    adminKey: c.HOOKFLOW_ADMIN_KEY,
    egressAllow: c.HOOKFLOW_EGRESS_ALLOW,
    retention: { days: c.HOOKFLOW_RETENTION_DAYS, maxDeliveries: c.HOOKFLOW_RETENTION_MAX_DELIVERIES },
    logLevel: c.LOG_LEVEL,
  };
}
