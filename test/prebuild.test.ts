// The package loads prebuilds/<platform>-<arch>/*.node when there is no build/ directory,
// which is how an installed copy with a shipped prebuild runs without a compiler.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../lib/native.js';

const prebuildDir = join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`);
const dist = join(packageRoot, 'dist');

const skip =
  existsSync(prebuildDir) && existsSync(dist)
    ? false
    : 'no prebuild or dist/ yet: run `npm run compile && npm run prebuildify` (CI does)';

t.test('loads the prebuild when build/ is absent', { skip }, async (t) => {
  const files = readdirSync(prebuildDir).filter((f) => f.endsWith('.node'));
  t.ok(files.length > 0, `prebuild present: ${files.join(', ')}`);

  const copy = mkdtempSync(join(tmpdir(), 'pageflip-prebuild-'));
  t.teardown(() => rmSync(copy, { recursive: true, force: true }));
  cpSync(join(packageRoot, 'package.json'), join(copy, 'package.json'));
  cpSync(dist, join(copy, 'dist'), { recursive: true });
  cpSync(join(packageRoot, 'prebuilds'), join(copy, 'prebuilds'), { recursive: true });
  symlinkSync(join(packageRoot, 'node_modules'), join(copy, 'node_modules'));
  t.notOk(existsSync(join(copy, 'build')), 'the copy has no build/ directory');

  const script = `
    const { createRequire } = await import('node:module');
    const require = createRequire(${JSON.stringify(join(copy, 'package.json'))});
    const loaded = require('node-gyp-build').resolve(${JSON.stringify(copy)});
    const { PageRegion } = await import(${JSON.stringify(join(copy, 'dist', 'index.js'))});
    const region = PageRegion.alloc(4096);
    region.bytes[0] = 1;
    console.log(JSON.stringify({ loaded, ok: region.bytes[0] === 1 }));
    region.close();`;
  // Without the override `.ci/asan` sets (PAGEFLIP_PREBUILD points the loader at its build).
  const env = { ...process.env };
  delete env.PAGEFLIP_PREBUILD;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env }));
  t.match(out.loaded, /prebuilds\/linux-[^/]+\/[^/]+\.node$/, `resolved ${out.loaded}`);
  t.ok(out.ok, 'a region allocated through the prebuild works');
});
