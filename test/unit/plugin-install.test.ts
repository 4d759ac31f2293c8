import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  PluginInstallError,
  commitStaged,
  npmErrorSummary,
  packageDir,
  parseInstallSpec,
  removeStaleStaging,
  stagePackage,
  type NpmRunner,
} from '../../src/plugins-host/install';

describe('parseInstallSpec', () => {
  let tmp: string;
  let tarball: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-spec-'));
    tarball = path.join(tmp, 'acme-1.0.0.tgz');
    fs.writeFileSync(tarball, 'x');
    fs.mkdirSync(path.join(tmp, 'dir.tgz'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it.each([
    ['acme', { kind: 'registry', name: 'acme', version: undefined }],
    ['acme@1.2.3', { kind: 'registry', name: 'acme', version: '1.2.3' }],
    [
      '@scope/hookflow-plugin-x@^2.0.0',
      { kind: 'registry', name: '@scope/hookflow-plugin-x', version: '^2.0.0' },
    ],
    ['x.y_z~1@latest', { kind: 'registry', name: 'x.y_z~1', version: 'latest' }],
    ['  acme@>=1.0.0 <2  ', { kind: 'registry', name: 'acme', version: '>=1.0.0 <2' }],
  ])('reads %j as a registry package', (spec, expected) => {
    expect(parseInstallSpec(spec)).toMatchObject(expected);
  });

  it('reads an absolute .tgz path (with or without file:) as a tarball', () => {
    expect(parseInstallSpec(tarball)).toEqual({ kind: 'tarball', path: tarball, spec: tarball });
    expect(parseInstallSpec(`file:${tarball}`)).toEqual({ kind: 'tarball', path: tarball, spec: tarball });
  });

  it.each([
    ['', /must not be empty/],
    ['   ', /must not be empty/],
    ['Acme@1.0.0', /neither an npm package/],
    ['--global', /neither an npm package/],
    ['-g', /neither an npm package/],
    ['@scope', /neither an npm package/],
    ['a/b/c', /neither an npm package/],
    ['git+ssh://git@github.com/acme/x.git', /neither an npm package/],
    ['github:acme/x', /neither an npm package/],
    ['https://registry.example/x', /neither an npm package/],
    ['acme@file:../x', /"file:..\/x" is not a version, range or tag of acme/],
    ['acme@git+https://x/y', /is not a version/],
    ['acme@1.0.0;rm -rf /', /is not a version/],
    ['acme@-1', /is not a version/],
    ['x.tgz', /absolute path on the server/],
    ['../x.tar.gz', /absolute path on the server/],
    ['https://evil.example/x.tgz', /absolute path on the server/],
  ])('refuses %j', (spec, message) => {
    expect(() => parseInstallSpec(spec)).toThrow(PluginInstallError);
    expect(() => parseInstallSpec(spec)).toThrow(message);
  });

  it('refuses a tarball that does not exist or is not a file', () => {
    expect(() => parseInstallSpec(path.join(tmp, 'nope-1.0.0.tgz'))).toThrow(/does not exist/);
    expect(() => parseInstallSpec(path.join(tmp, 'dir.tgz'))).toThrow(/is not a file/);
  });
});

describe('npmErrorSummary', () => {
  it("keeps npm's error lines, without the debug-log pointer", () => {
    const output = [
      'npm warn tar TAR_BAD_ARCHIVE: Unrecognized archive format',
      'npm error code TAR_BAD_ARCHIVE',
      'npm error TAR_BAD_ARCHIVE: Unrecognized archive format',
      'npm error A complete log of this run can be found in: /root/.npm/_logs/x-debug-0.log',
    ].join('\n');
    expect(npmErrorSummary(output)).toBe(
      'code TAR_BAD_ARCHIVE\nTAR_BAD_ARCHIVE: Unrecognized archive format',
    );
  });

  it('falls back to the last lines when npm printed no error line', () => {
    expect(npmErrorSummary('something\nwent wrong\n')).toBe('something\nwent wrong');
    expect(npmErrorSummary('')).toBe('npm failed without a message');
  });
});

describe('stagePackage / commitStaged', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-stage-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  /** A stand-in for npm that "installs" the given packages into the prefix it is handed. */
  const fakeNpm =
    (packages: Record<string, string>, code = 0, output = ''): NpmRunner =>
    async (args) => {
      const prefix = args[args.indexOf('--prefix') + 1]!;
      const manifest = JSON.parse(fs.readFileSync(path.join(prefix, 'package.json'), 'utf8'));
      for (const [name, version] of Object.entries(packages)) {
        manifest.dependencies[name] = version;
        const dir = path.join(prefix, 'node_modules', ...name.split('/'));
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version }));
      }
      fs.writeFileSync(path.join(prefix, 'package.json'), JSON.stringify(manifest));
      return { code, output };
    };
  const spec = parseInstallSpec('@acme/plugin@1.0.0');
  const entries = () => fs.readdirSync(root);

  it('installs into a staging prefix that provides the host packages, then moves it into place', async () => {
    let seen: string[] = [];
    const npm: NpmRunner = async (args, cwd) => {
      seen = args;
      const manifest = JSON.parse(fs.readFileSync(path.join(cwd, 'package.json'), 'utf8'));
      expect(Object.keys(manifest.dependencies).sort()).toEqual(['@hookflow/sdk', 'zod']);
      expect(manifest.dependencies['@hookflow/sdk']).toMatch(/^file:\//);
      return fakeNpm({ '@acme/plugin': '1.0.0' })(args, cwd);
    };
    const staged = await stagePackage({ root, spec, npm });
    expect(seen).toEqual(
      expect.arrayContaining(['install', '--ignore-scripts', '--no-audit', '@acme/plugin@1.0.0']),
    );
    expect(staged).toMatchObject({ packageName: '@acme/plugin', version: '1.0.0' });
    const installed = commitStaged(root, staged);
    expect(installed.dir).toBe(packageDir(root, '@acme/plugin', '1.0.0'));
    expect(entries()).toEqual(['@acme+plugin@1.0.0']);
  });

  it("fails with npm's message and leaves nothing behind", async () => {
    const npm = fakeNpm({}, 1, 'npm error code E404\nnpm error 404 Not Found - GET https://registry/x');
    await expect(stagePackage({ root, spec, npm })).rejects.toThrow(
      'npm install @acme/plugin@1.0.0 failed: code E404\n404 Not Found - GET https://registry/x',
    );
    expect(entries()).toEqual([]);
  });

  it('refuses an install that added no package, or more than one', async () => {
    await expect(stagePackage({ root, spec, npm: fakeNpm({}) })).rejects.toThrow(/added: none/);
    await expect(stagePackage({ root, spec, npm: fakeNpm({ a: '1.0.0', b: '1.0.0' }) })).rejects.toThrow(
      /did not add exactly one package \(added: a, b\)/,
    );
    expect(entries()).toEqual([]);
  });

  it('replaces a leftover directory of the same version, or reuses it when asked', async () => {
    const dir = packageDir(root, '@acme/plugin', '1.0.0');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'marker'), 'old');
    const reused = commitStaged(
      root,
      await stagePackage({ root, spec, npm: fakeNpm({ '@acme/plugin': '1.0.0' }) }),
      {
        keepExisting: true,
      },
    );
    expect(fs.existsSync(path.join(reused.dir, 'marker'))).toBe(true);
    commitStaged(root, await stagePackage({ root, spec, npm: fakeNpm({ '@acme/plugin': '1.0.0' }) }));
    expect(fs.existsSync(path.join(dir, 'marker'))).toBe(false);
    expect(entries()).toEqual(['@acme+plugin@1.0.0']);
  });

  it('removes staging directories left by a crash once they are old', () => {
    const old = path.join(root, '.staging-1-aaaa');
    const fresh = path.join(root, '.staging-2-bbbb');
    fs.mkdirSync(old);
    fs.mkdirSync(fresh);
    const past = new Date(Date.now() - 2 * 60 * 60_000);
    fs.utimesSync(old, past, past);
    removeStaleStaging(root);
    expect(entries()).toEqual(['.staging-2-bbbb']);
  });
});
