/**
 * Every socket a sandboxed plugin opens goes through the egress policy, whatever API it uses (`net`, `tls`,
 * `http`, undici, a database driver): the one place all of them meet, `net.Socket.prototype.connect`, is
 * replaced before plugin code loads. IP literals are checked at once, names are resolved by the checked
 * lookup (a plugin's own `lookup` is ignored), Unix sockets and UDP are refused. The permission model the
 * runner starts with keeps `process.binding`, child processes, workers and native addons out of reach, so
 * the original connect cannot be called another way.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { EgressBlockedError, checkHost, checkedLookup, parseAllowList } from '../egress';

type Options = { host?: unknown; path?: unknown; lookup?: unknown };

export function guardNetwork(allowEntries: readonly string[]): void {
  const allow = parseAllowList(allowEntries);
  const lookup = checkedLookup(allow);
  const connect = net.Socket.prototype.connect as (this: net.Socket, ...args: unknown[]) => net.Socket;

  function guardedConnect(this: net.Socket, ...args: unknown[]): net.Socket {
    // Node's own callers pass the normalised [options, callback] array; users pass (options, cb),
    // (port, host, cb) or (path, cb).
    const normalised = Array.isArray(args[0]);
    const first: unknown = normalised ? (args[0] as unknown[])[0] : args[0];
    let options: Options;
    if (typeof first === 'object' && first !== null) options = { ...(first as Options) };
    else if (typeof first === 'string' && !/^\d+$/.test(first)) options = { path: first };
    else options = { host: typeof args[1] === 'string' ? args[1] : 'localhost' };

    let refusal: Error | undefined;
    if (options.path !== undefined) {
      refusal = new EgressBlockedError('egress blocked: Unix sockets are not available to plugins', {
        host: String(options.path),
        reason: 'Unix socket',
      });
    } else {
      try {
        checkHost(typeof options.host === 'string' ? options.host : 'localhost', allow);
      } catch (err) {
        refusal = err as Error;
      }
    }
    if (refusal) {
      process.nextTick(() => this.destroy(refusal));
      return this;
    }
    if (typeof first === 'object' && first !== null) {
      const guarded = { ...(first as object), lookup };
      if (normalised) (args[0] as unknown[])[0] = guarded;
      else args[0] = guarded;
    } else {
      // (port[, host][, callback]) → options form, so that the checked lookup applies.
      const callback = args.find((a) => typeof a === 'function');
      const port = Number(first);
      return connect.call(this, { port, host: options.host, lookup }, ...(callback ? [callback] : []));
    }
    return connect.apply(this, args);
  }

  Object.defineProperty(net.Socket.prototype, 'connect', {
    value: guardedConnect,
    writable: false,
    configurable: false,
  });
  Object.defineProperty(dgram, 'createSocket', {
    value: () => {
      throw new EgressBlockedError('egress blocked: UDP sockets are not available to plugins', {
        host: '',
        reason: 'UDP',
      });
    },
    writable: false,
    configurable: false,
  });
}
