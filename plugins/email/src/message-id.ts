import { createHash } from 'node:crypto';
import { domainOf } from './addresses';

/**
 * The Message-ID of a step's email: `<sha256(idempotencyKey)@sender-domain>`. The idempotency key is
 * stable across retries, so a retry after an unclear failure (connection lost after the data was
 * sent) repeats the same Message-ID and receivers that dedupe on it show the message once.
 */
export function messageIdFor(idempotencyKey: string, senderAddress: string): string {
  const hash = createHash('sha256').update(idempotencyKey, 'utf8').digest('hex');
  return `<${hash}@${domainOf(senderAddress)}>`;
}
