// The README's library example must run as written (through the package's own name).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../lib/native.js';

const skip = existsSync(join(packageRoot, 'dist', 'index.js')) ? false : 'dist/ missing: run `npm run compile` (npm test does)';

t.test('README region example', { skip }, async (t) => {
  const readme = readFileSync(join(packageRoot, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  const example = blocks.find((code) => code.includes('PageRegion.alloc') && code.includes('moveTo'));
  t.ok(example, 'README has the region example');
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', example!], { cwd: packageRoot, encoding: 'utf8' });
  t.equal(out.trim(), '7 0', 'prints what the README says it prints');
});
