// Every ```js block of the README runs as written (through the package's own name, inside a
// private network namespace) and prints exactly what its `// prints:` lines say.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../lib/native.js';
import { netnsSkip } from './helpers/network.js';
import { readmeExamples, runExample } from './helpers/readme.js';

const skip = netnsSkip || (existsSync(join(packageRoot, 'dist', 'index.js')) ? false : 'dist/ missing: run `npm run compile` (npm test does)');

t.test('every README example runs and prints what it says', { skip }, async (t) => {
  const examples = readmeExamples();
  const find = (needle: string) => examples.some((e) => e.code.includes(needle));
  t.ok(find('moveTo'), 'the region example');
  t.ok(find('new Receiver') && find('new Sender') && find('listen(') && find('connect('), 'one loopback example: listen, connect, send, receive');
  t.ok(find('receiveLoop(') && find('sendLoop('), 'a loop example');
  t.ok(find('signal'), 'an AbortSignal example');
  for (const example of examples) {
    const first = example.code.split('\n').find((line) => line && !line.startsWith('import')) ?? example.code.split('\n')[0];
    const r = await runExample(t, example.code, packageRoot);
    t.equal(r.code, 0, `runs: ${first}\n${r.stderr}`);
    t.equal(r.stdout.trim(), example.prints, `prints what the README says: ${example.prints || '(nothing)'}`);
  }
});

t.test('the README documents each command with real output, the platforms and the non-root recipe', async (t) => {
  const readme = readFileSync(join(packageRoot, 'README.md'), 'utf8');
  // A section: from its heading to the next heading outside a code block.
  const section = (title: string) => {
    const lines = readme.split('\n');
    const start = lines.findIndex((line) => line === `## ${title}` || line === `### ${title}`);
    if (start < 0) return '';
    let fenced = false;
    let end = start + 1;
    for (; end < lines.length; end++) {
      if (lines[end].startsWith('```')) fenced = !fenced;
      else if (!fenced && /^#{2,3} /.test(lines[end])) break;
    }
    return lines.slice(start, end).join('\n');
  };
  for (const title of ['`pageflip info`', '`pageflip calibrate`', '`pageflip serve` and `compare --peer`', '`pageflip report`'])
    t.match(section(title), /```text\n[\s\S]+?```/, `${title}: a section with its output`);
  t.match(section('Requirements'), /ships one for \*\*linux-x64 with glibc\*\*[\s\S]*compiles on install/, 'which platforms have a prebuild, and that others compile');
  t.match(section('Requirements'), /Node\.js ≥ 20\.19/, 'the same Node version as engines');
  const recipe = section('Without root, and with sudo');
  t.match(recipe, /MTUs are emulated[\s\S]*iperf3 rows are skipped[\s\S]*--perf/, 'the non-root recipe says what differs');
  t.match(recipe, /sudo /, 'and how to run it with sudo');
  // The info output shown is this version's: every line label it shows, a live run prints too.
  if (!existsSync(join(packageRoot, 'dist', 'cli.js'))) return;
  const live = execFileSync(process.execPath, [join(packageRoot, 'dist', 'cli.js'), 'info'], { encoding: 'utf8' });
  const shown = section('`pageflip info`').match(/```text\n([\s\S]+?)```/)![1];
  const labels = [...shown.matchAll(/^ {2}(\S[\w /-]*?\S)\s{2,}/gm)].map((m) => m[1]);
  t.ok(labels.length >= 12, `${labels.length} labelled lines`);
  for (const label of labels) t.ok(live.includes(`  ${label} `), `live 'pageflip info' prints '${label}'`);
});
