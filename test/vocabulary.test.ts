// Each fact once: lib/vocabulary.ts and native/vocabulary.h agree (the addon exports its half),
// every ERR_PAGEFLIP_* code the sources throw is in ERROR_CODES and README's table lists exactly
// those, no limit literal or mode list is written outside its definition, and lib/ has no import cycle.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { binding, packageRoot } from '../lib/native.js';
import {
  DEFAULT_CHUNK_BYTES, ERROR_CODES, LOOP_RECEIVE_MODES, MAX_CHUNK_BYTES, MAX_MTU, MIN_LINK_MTU, PMD_BYTES, RECEIVE_MODES, SEND_MODES,
} from '../lib/vocabulary.js';

/** Source files below `dir` (relative to the package root) ending in one of `endings`. */
function sources(dir: string, endings: string[]): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (endings.some((end) => e.name.endsWith(end))) out.push(join(d, e.name));
    }
  };
  walk(join(packageRoot, dir));
  return out;
}
const text = (file: string) => readFileSync(file, 'utf8');
const name = (file: string) => relative(packageRoot, file);
const lib = sources('lib', ['.ts']);
const native = sources('native', ['.cc', '.h']);

t.test('the addon exports the same names and limits as lib/vocabulary.ts', async (t) => {
  const v = binding.vocabulary;
  t.same(v.receiveModes, LOOP_RECEIVE_MODES, 'receive modes, in order');
  t.same(v.receiveModes.slice(0, v.receiverModeCount), RECEIVE_MODES, "the Receiver's modes");
  t.same(v.sendModes, SEND_MODES, 'send modes, in order');
  t.equal(v.defaultChunkSize, DEFAULT_CHUNK_BYTES, 'default chunk');
  t.equal(v.maxChunkSize, MAX_CHUNK_BYTES, 'largest chunk');
  t.equal(v.maxDefaultLowWater, DEFAULT_CHUNK_BYTES, 'default low-water mark: at most one default chunk');
  t.equal(v.minLinkMtu, MIN_LINK_MTU, 'smallest link MTU');
  t.equal(v.maxLinkMtu, MAX_MTU, 'largest MTU');
  t.equal(v.pmdBytes, PMD_BYTES, 'bytes one page table maps');
  t.ok(Object.isFrozen(v), 'frozen');
});

t.test('every ERR_PAGEFLIP_* code in the sources is listed once, and README tables the list', async (t) => {
  const listed = Object.keys(ERROR_CODES);
  const used = new Map<string, string>();
  for (const file of [...lib, ...native]) {
    if (name(file) === 'lib/vocabulary.ts') continue;
    for (const m of text(file).matchAll(/ERR_PAGEFLIP_[A-Z0-9_]*[A-Z0-9]/g)) used.set(m[0], name(file));
  }
  for (const [code, file] of used) t.ok(code in ERROR_CODES, `${code} (${file}) is in ERROR_CODES`);
  t.same(listed.filter((code) => !used.has(code)), [], 'no listed code is unused');
  const readme = text(join(packageRoot, 'README.md'));
  const rows = [...readme.matchAll(/^\| `(ERR_PAGEFLIP_[A-Z0-9_]+)` \| (.*) \|$/gm)].map((m) => [m[1], m[2]]);
  t.same(rows, Object.entries(ERROR_CODES), "README's table is ERROR_CODES, in order, word for word");
});

t.test('limits and mode lists are written only in their definitions', async (t) => {
  // The default chunk and the largest one, in any spelling (64 MiB is also glibc's malloc arena,
  // lib/procfs.ts, and one of calibrate's memcpy sizes: other facts, spelled otherwise); the
  // complete lists of receive, model and send modes, and a string<->enum table line.
  const literals = [/\b262144\b/, /\b256 \* 1024\b/, /[^,] 256 \* kKiB\b/, /\b67108864\b/, /\b64ull << 20\b/, /\b64 \* 2 \*\* 20\b/];
  const modeList = /'copy', 'zerocopy', 'flip', 'copy-remap'(, 'splice'|\])|'write', 'zerocopy', 'splice'|== "copy"|return "copy"/;
  const definitions = new Set(['lib/vocabulary.ts', 'native/vocabulary.h']);
  const found: string[] = [];
  for (const file of [...lib, ...native, ...sources('bench', ['.ts'])]) {
    if (definitions.has(name(file))) continue;
    text(file).split('\n').forEach((line, i) => {
      const code = line.replace(/\/\/.*$|^\s*\*.*$|\/\*.*?\*\//g, ''); // comments may name them
      if (literals.some((re) => re.test(code)) || modeList.test(code)) found.push(`${name(file)}:${i + 1}: ${line.trim()}`);
    });
  }
  t.same(found, [], 'no copies');
});

t.test('no import cycle in lib/', async (t) => {
  const graph = new Map(lib.map((file) => [file, [...text(file).matchAll(/^\s*(?:import|export)\b[^'";]*?from\s+'(\.[^']+)'/gm)]
    .map((m) => resolve(dirname(file), m[1].replace(/\.js$/, '.ts')))]));
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].map(name).join(' → '));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of lib) if (!state.has(file)) visit(file);
  t.ok(graph.size > 40, `${graph.size} modules read`);
  t.same(cycles, [], 'none');
});
