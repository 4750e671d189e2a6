// ARCHITECTURE.md matches the tree: every file it names exists, and every function, class or
// constant it names in `code` is defined in the sources (a rename that forgets it fails here).
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../lib/native.js';

const doc = readFileSync(join(packageRoot, 'ARCHITECTURE.md'), 'utf8');
const sources = ['lib', 'lib/experiment', 'lib/report', 'native']
  .flatMap((dir) => readdirSync(join(packageRoot, dir)).filter((f) => /\.(ts|cc|h)$/.test(f)).map((f) => readFileSync(join(packageRoot, dir, f), 'utf8')))
  .join('\n');

t.test('every path ARCHITECTURE.md names exists', async (t) => {
  const paths = new Set([...doc.matchAll(/\b((?:lib|native|test)\/[\w./-]*\w)/g)].map((m) => m[1]));
  t.ok(paths.size > 20, `${paths.size} paths named`);
  for (const path of paths) {
    if (path.endsWith('/')) continue;
    t.ok(['', '.ts', '.cc', '.h'].some((end) => existsSync(join(packageRoot, path + end))), path);
  }
});

t.test('every identifier ARCHITECTURE.md names is defined in the sources', async (t) => {
  // CamelCase names (ReadZerocopy, LowWaterGuard, Receiver#waitThenRead), kConstants and
  // identifiers with a call; prose words and paths are skipped.
  const names = new Set<string>();
  for (const m of doc.matchAll(/\b(k[A-Z]\w+|[A-Z][a-z]+[A-Z]\w*|[a-z]+[A-Z]\w*)\b/g)) names.add(m[1]);
  for (const m of doc.matchAll(/#(\w+)/g)) names.add(m[1]);
  const prose = new Set(['TCP_ZEROCOPY_RECEIVE', 'ArrayBuffers', 'TypeScript', 'JavaScript']);
  t.ok(names.size > 30, `${names.size} identifiers named`);
  for (const name of names) if (!prose.has(name)) t.ok(new RegExp(`\\b${name}\\b`).test(sources), name);
});
