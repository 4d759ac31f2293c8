import { Writable } from 'node:stream';
import { createLogger, type LogOutput } from '../../src/logger';

/** A stream that keeps what is written, announcing itself as a terminal or not. */
function output(isTTY: boolean): LogOutput & { text(): string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return Object.assign(stream, { isTTY, text: () => chunks.join('') });
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('createLogger', () => {
  it('writes one JSON object per line when the output is not a terminal, with error stacks', async () => {
    const out = output(false);
    createLogger('info', out)
      .child({ deliveryId: 'd-1' })
      .error({ err: new Error('boom') }, 'it failed');
    await settle();
    const line = JSON.parse(out.text().trim());
    expect(line).toMatchObject({ level: 50, msg: 'it failed', deliveryId: 'd-1' });
    expect(line.err).toMatchObject({
      type: 'Error',
      message: 'boom',
      stack: expect.stringContaining('boom'),
    });
  });

  it('writes human-readable lines when the output is a terminal', async () => {
    const out = output(true);
    createLogger('info', out).info({ runId: 'r-1' }, 'step done');
    await settle();
    const text = out.text().replace(/\x1b\[[0-9;]*m/g, ''); // eslint-disable-line no-control-regex
    expect(text).toContain('INFO');
    expect(text).toContain('step done');
    expect(text).toContain('runId: "r-1"');
    expect(() => JSON.parse(text.trim())).toThrow();
  });

  it('respects the level', async () => {
    const out = output(false);
    createLogger('warn', out).info('hidden');
    await settle();
    expect(out.text()).toBe('');
  });
});
