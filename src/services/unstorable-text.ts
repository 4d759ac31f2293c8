import { formatPath } from './errors';

/**
 * Valid JSON and valid JavaScript strings that PostgreSQL cannot store: text and jsonb refuse U+0000, and jsonb
 * refuses a UTF-16 surrogate without its pair (`"\ud800"`). Found before the insert, they are the sender's
 * problem (a 4xx), not a storage failure.
 */
const UNSTORABLE = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export type UnstorableText = { path: string; message: string };

/** The first key or string in `value` that cannot be stored, with its path (`items[0].note`) below `root`. */
export function findUnstorableText(value: unknown, root: string[] = []): UnstorableText | undefined {
  const stack: [unknown, (string | number)[]][] = [[value, root]];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (UNSTORABLE.test(v)) return { path: printablePath(path), message: `the value ${problem(v)}` };
    } else if (v !== null && typeof v === 'object') {
      const isArray = Array.isArray(v);
      for (const [key, child] of Object.entries(v)) {
        const childPath = [...path, isArray ? Number(key) : key];
        if (UNSTORABLE.test(key))
          return { path: printablePath(childPath), message: `the key ${problem(key)}` };
        stack.push([child, childPath]);
      }
    }
  }
  return undefined;
}

const problem = (text: string) =>
  text.includes('\0') ? 'contains U+0000 (NUL)' : 'contains an unpaired UTF-16 surrogate';

/** The path with the offending characters written as `\uXXXX`, so that the path itself can be stored. */
function printablePath(path: (string | number)[]): string {
  const escape = (s: string) =>
    s.replace(
      new RegExp(UNSTORABLE.source, 'g'),
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  return formatPath(path.map((p) => (typeof p === 'string' ? escape(p) : p)));
}
