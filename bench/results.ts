// `npm run results`: regenerates every saved output in bench/results/ with the current code, in
// one go, then the README's generated figures from the new quick.json. Run it on a QUIET machine
// (nothing else busy: the figures are CPU shares); it takes about 15 minutes on 2 vCPUs.
//   npm run results                 everything
//   npm run results -- quick        only the --quick compare (and the README figures)
import { spawnSync } from 'node:child_process';
import { openSync, closeSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = (name: string) => join(root, 'bench', 'results', name);
const tsNode = '--import=tsx';

/** Runs a command in the package root with stdout into `file` (stderr shows progress); throws on failure. */
function run(file: string | null, command: string, args: string[]): void {
  process.stderr.write(`results: ${command} ${args.join(' ')}${file ? ` > ${file}` : ''}\n`);
  const fd = file ? openSync(file, 'w') : 'inherit';
  try {
    const r = spawnSync(command, args, { cwd: root, stdio: ['ignore', fd, 'inherit'] });
    if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`})`);
  } finally {
    if (typeof fd === 'number') closeSync(fd);
  }
}

const only = process.argv[2];
run(null, 'npm', ['run', 'compile']);
const cli = join(root, 'dist', 'cli.js');
const compare = (name: string, extra: string[]) =>
  run(out(`${name}.txt`), process.execPath, [cli, 'compare', ...extra, '--json', out(`${name}.json`), '--csv', out(`${name}.csv`), '--html', out(`${name}.html`)]);

compare('quick', ['--quick']);
if (only !== 'quick') {
  compare('full', ['--perf']);
  run(out('bench-receive.txt'), process.execPath, [tsNode, 'bench/receive.ts']);
  run(out('bench-reference.txt'), process.execPath, [tsNode, 'bench/reference.ts']);
  run(out('bench-tune.txt'), process.execPath, [tsNode, 'bench/tune.ts']);
  run(out('bench-remap.txt'), process.execPath, [tsNode, 'bench/remap.ts']);
  run(out('bench-layout.txt'), process.execPath, [tsNode, 'bench/layout.ts']);
  run(out('bench-model.txt'), process.execPath, [tsNode, 'bench/model.ts']);
  run(out('bench-pmd.txt'), process.execPath, [tsNode, 'bench/pmd.ts', '--perf']);
}
// The saved results now match the code: the README's figures are generated from quick.json.
rmSync(out('PENDING'), { force: true });
run(null, process.execPath, [tsNode, 'bench/readme-figures.ts', '--write']);
process.stderr.write(
  'results: done. bench/results/report.png is a screenshot of quick.html: capture it again by hand; ' +
    'the README prose outside the generated regions (bench:* sections) quotes the bench-*.txt files: reread it.\n',
);
