import { isIP } from 'node:net';
import { z } from 'zod';
import { defineCredential, type CredentialValue } from '@hookflow/sdk';
import { senderSchema } from './addresses';

export const SECURITY_MODES = ['TLS', 'STARTTLS', 'NONE'] as const;
export type SecurityMode = (typeof SECURITY_MODES)[number];

/** The usual port of each mode when the credential names none. */
export const DEFAULT_PORTS: Record<SecurityMode, number> = { TLS: 465, STARTTLS: 587, NONE: 25 };

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

const host = z
  .string()
  .trim()
  .refine((value) => HOSTNAME.test(value) || isIP(value) !== 0, {
    message: 'must be a host name or an IP address',
  })
  // `secret: false`: the host redacts every other string of a credential from stored step results.
  .meta({ description: 'SMTP server host name or IP address', secret: false });

export const smtpCredentialSchema = z
  .object({
    host,
    port: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .optional()
      .meta({ description: 'Defaults to 465 for TLS, 587 for STARTTLS and 25 for NONE' }),
    security: z
      .enum(SECURITY_MODES)
      .default('STARTTLS')
      .meta({
        description:
          'TLS: implicit TLS from the first byte (usually port 465). STARTTLS: plain connection that must be ' +
          'upgraded with STARTTLS, or the send fails (usually port 587). NONE: no encryption at all, for local relays',
      }),
    user: z.string().min(1).max(512).optional().meta({ description: 'SMTP user name', secret: false }),
    password: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .meta({ description: 'SMTP password', format: 'password' }),
    from: senderSchema.meta({
      description: 'Default sender: "noreply@example.com" or "Example <noreply@example.com>"',
      secret: false,
    }),
    rejectUnauthorized: z.boolean().default(true).meta({
      description:
        "Verify the server's TLS certificate. Turn off only for a trusted relay with a self-signed certificate",
    }),
  })
  .refine((value) => (value.user === undefined) === (value.password === undefined), {
    message: 'user and password go together: give both or neither',
    path: ['password'],
  });

export const smtpCredential = defineCredential({
  displayName: 'SMTP server',
  description: 'An SMTP server (or relay) that accepts mail for delivery, with its default sender address',
  schema: smtpCredentialSchema,
});

export type SmtpCredential = CredentialValue<typeof smtpCredential>;
