// What `npm pack` ships and how it installs: the linux-x64 glibc prebuild inside the tarball, an
// install from the tarball in a scratch directory with no compiler on PATH that loads it (from
// ESM and CommonJS), runs `npx pageflip info` and the README's loopback example; source maps
// that resolve inside the package; the report schema as `pageflip/schema.json`; a LICENSE;
// package scripts that use only declared dependencies.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { packageRoot } from '../lib/native.js';
import { compareReportSchema } from '../lib/report/index.js';
import { findExecutable } from '../lib/capabilities.js';
import { netnsSkip } from './helpers/network.js';
import { readmeExamples, runExample } from './helpers/readme.js';

const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8'));
const prebuild = join(packageRoot, 'prebuilds', 'linux-x64', 'pageflip.glibc.node');
const npm = findExecutable('npm');
const npmCli = npm ? join(dirname(realpathSync(npm)), 'npm-cli.js') : undefined;
const skip =
  process.arch !== 'x64' ? 'the shipped prebuild is linux-x64'
  : !existsSync(prebuild) || !existsSync(join(packageRoot, 'dist', 'schema.json')) ? 'no prebuild or dist/ yet: run `npm run compile && npm run prebuildify` (CI does)'
  : !npmCli || !existsSync(npmCli) ? 'npm not found'
  : false;

t.test('package.json: license, engines, prepack, scripts that use declared packages only', async (t) => {
  t.equal(pkg.license, 'MIT');
  t.match(readFileSync(join(packageRoot, 'LICENSE'), 'utf8'), /^MIT License\n[\s\S]*Permission is hereby granted, free of charge/);
  t.equal(pkg.engines.node, '>=20.19', 'engines: require() of this ES module needs 20.19');
  t.match(pkg.scripts.prepack, /npm run compile.*npm run prebuildify/, 'npm pack / publish builds dist/ and the prebuild first');
  t.match(pkg.scripts.prebuildify, /--tag-libc/, 'the prebuild is tagged glibc');
  const declared = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)]);
  // Commands npm itself provides, or the system: not packages.
  const system = new Set(['node', 'npm', 'bash', 'node-gyp']);
  const binOwner = new Map<string, string>();
  for (const name of declared) {
    const bin = JSON.parse(readFileSync(join(packageRoot, 'node_modules', name, 'package.json'), 'utf8')).bin ?? {};
    for (const command of typeof bin === 'string' ? [name] : Object.keys(bin)) binOwner.set(command, name);
  }
  for (const [script, line] of Object.entries(pkg.scripts as Record<string, string>)) {
    for (const part of line.split(/&&|\|\||;/)) {
      const words = part.trim().split(/\s+/);
      const command = words[0];
      t.ok(system.has(command) || binOwner.has(command), `${script}: '${command}' comes from a declared package (${binOwner.get(command) ?? 'npm/system'})`);
      for (const [i, word] of words.entries()) {
        const loaded = word.match(/^--(?:import|require|loader)=(.+)$/)?.[1] ?? (['--import', '--require', '-r', '--loader'].includes(word) ? words[i + 1] : undefined);
        if (!loaded) continue;
        const name = loaded.startsWith('@') ? loaded.split('/').slice(0, 2).join('/') : loaded.split('/')[0];
        t.ok(declared.has(name), `${script}: --import ${loaded} is a declared dependency`);
      }
    }
  }
});

t.test('the bench and soak TypeScript loads through the declared runner (tsx)', async (t) => {
  const out = execFileSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', "const m = await import('./bench/args.ts'); console.log(typeof m.option)"], {
    cwd: packageRoot,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' }, // without tap's own loader
  });
  t.equal(out.trim(), 'function');
});

t.test('npm pack carries the prebuild; a compiler-less install loads it and runs', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pageflip-pack-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // --ignore-scripts: prepack would rebuild what CI just built (checked above that it does).
  const packed = JSON.parse(execFileSync(process.execPath, [npmCli!, 'pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: packageRoot, encoding: 'utf8' }))[0];
  const files = new Set<string>(packed.files.map((f: { path: string }) => f.path));
  for (const file of ['prebuilds/linux-x64/pageflip.glibc.node', 'dist/index.js', 'dist/cli.js', 'dist/schema.json', 'LICENSE', 'README.md', 'binding.gyp'])
    t.ok(files.has(file), `the tarball has ${file}`);
  t.notOk([...files].some((f) => f.startsWith('test/') || f.startsWith('bench/') || f.startsWith('build/')), 'no tests, benches or build tree');

  // Every source map points at files in the tarball.
  const maps = [...files].filter((f) => f.endsWith('.map'));
  t.ok(maps.length > 0, `${maps.length} source maps`);
  const unresolved = maps.flatMap((map) => {
    const { sources } = JSON.parse(readFileSync(join(packageRoot, map), 'utf8')) as { sources: string[] };
    return sources.map((s) => posix.normalize(posix.join(posix.dirname(map), s))).filter((s) => !files.has(s));
  });
  t.same(unresolved, [], 'no source map points at an unshipped file');

  // A scratch project; PATH holds node and sh (npm runs scripts with it) only: no cc, g++, make or python.
  const project = join(dir, 'project');
  const bin = join(dir, 'bin');
  mkdirSync(project);
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync(realpathSync('/bin/sh'), join(bin, 'sh'));
  writeFileSync(join(project, 'package.json'), '{ "name": "scratch", "private": true, "type": "module" }\n');
  const env: NodeJS.ProcessEnv = { PATH: bin, HOME: process.env.HOME, npm_config_cache: process.env.npm_config_cache, npm_config_nodedir: '/nonexistent' };
  for (const tool of ['cc', 'gcc', 'g++', 'make', 'python3']) t.notOk(spawnSync(process.execPath, ['-e', `require('child_process').execFileSync('${tool}', ['--version'])`], { env }).status === 0, `${tool} is not reachable`);
  const install = spawnSync(process.execPath, [npmCli!, 'install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, packed.filename)], { cwd: project, env, encoding: 'utf8', timeout: 180_000 });
  t.equal(install.status, 0, `npm install without a compiler: ${install.stderr}`);
  const installed = join(project, 'node_modules', 'pageflip');
  t.notOk(existsSync(join(installed, 'build')), 'nothing was compiled: no build/ directory');

  const node = (args: string[]) => spawnSync(process.execPath, args, { cwd: project, env, encoding: 'utf8', timeout: 60_000 });
  const esm = node(['--input-type=module', '-e', "import { PageRegion } from 'pageflip'; const r = PageRegion.alloc(4096); r.bytes[0] = 9; console.log(r.bytes[0]); r.close();"]);
  t.equal(esm.stdout.trim(), '9', `import 'pageflip' loads the prebuild: ${esm.stderr}`);
  const cjs = node(['--input-type=commonjs', '-e', "const p = require('pageflip'); console.log(typeof p.PageRegion.alloc, require('node-gyp-build').resolve(require('path').dirname(require.resolve('pageflip/package.json'))))"]);
  t.match(cjs.stdout, /^function .*prebuilds\/linux-x64\/pageflip\.glibc\.node$/m, `require('pageflip') from CommonJS on Node ${process.version}: ${cjs.stderr}`);
  const schema = node(['--input-type=module', '-e', "import { createRequire } from 'node:module'; console.log(JSON.stringify(createRequire(import.meta.url)('pageflip/schema.json')))"]);
  t.same(JSON.parse(schema.stdout), compareReportSchema, 'pageflip/schema.json is the schema parseReport checks');
  const exported = node(['--input-type=module', '-e', "import { compare, parseReport, renderHtml } from 'pageflip'; console.log([compare, parseReport, renderHtml].map((f) => typeof f).join())"]);
  t.equal(exported.stdout.trim(), 'function,function,function', 'compare, parseReport and renderHtml are exported');

  const npx = (args: string[]) => spawnSync(process.execPath, [npmCli!, 'exec', '--offline', '--', 'pageflip', ...args], { cwd: project, env, encoding: 'utf8', timeout: 120_000 });
  const info = npx(['info']);
  t.equal(info.status, 0, info.stderr);
  t.match(info.stdout, /mechanisms\n[\s\S]*for pageflip compare/, 'npx pageflip info runs');
  t.equal(npx(['--version']).stdout, `${pkg.version}\n`);

  t.test('the README loopback example runs from the scratch install', { skip: netnsSkip }, async (t) => {
    const example = readmeExamples().find((e) => e.code.includes('new Receiver'))!;
    const r = await runExample(t, example.code, project, env);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout.trim(), example.prints);
  });
  t.ok(readdirSync(join(installed, 'prebuilds', 'linux-x64')).includes('pageflip.glibc.node'));
});
