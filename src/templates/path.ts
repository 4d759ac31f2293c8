/** Parses `a.b[0].c-d` into segments. Pure; no Node built-ins. */
export function parsePath(path: string): (string | number)[] | undefined {
  const segments: (string | number)[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]|\[["']([^"']*)["']\]/g;
  let consumed = 0;
  let m: RegExpExecArray | null;
  const src = path.trim();
  while ((m = re.exec(src))) {
    const between = src.slice(consumed, m.index);
    if (between !== '' && between !== '.') return undefined;
    if (m[1] !== undefined) segments.push(m[1]);
    else if (m[2] !== undefined) segments.push(Number(m[2]));
    else segments.push(m[3]!);
    consumed = m.index + m[0].length;
  }
  return consumed === src.length && segments.length ? segments : undefined;
}

const hasOwn = (o: object, k: PropertyKey) => Object.prototype.hasOwnProperty.call(o, k);

/** Reads own properties only, so `__proto__` or `constructor` in a path never reaches prototypes. */
export function getPath(
  value: unknown,
  segments: readonly (string | number)[],
): { found: boolean; value?: unknown } {
  let current: unknown = value;
  for (const seg of segments) {
    if (current === null || typeof current !== 'object') return { found: false };
    if (Array.isArray(current) && typeof seg === 'number') {
      if (seg >= current.length) return { found: false };
      current = current[seg];
    } else if (hasOwn(current, seg)) {
      current = (current as Record<string | number, unknown>)[seg];
    } else {
      return { found: false };
    }
  }
  return { found: true, value: current };
}
