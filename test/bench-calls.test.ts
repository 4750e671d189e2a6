// Issue 15 §1: `bench:receive` and `compare` report calls per MB per mode, and for the same chunk
// they agree (within 10%): both wait for the same low-water mark with the same loop options. A
// short real run of the bench itself (its native loop only), then compare's runPoint.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capabilities } from '../lib/index.js';
import { packageRoot } from '../lib/native.js';
import { localSender, runPoint } from '../lib/experiment/run-point.js';
import { localTestbed } from '../lib/experiment/testbed.js';
import { netnsSkip } from './helpers/network.js';
import { describeRuns, leastDisturbed } from './helpers/least-disturbed.js';

const caps = capabilities();
const ccMissing = spawnSync('cc', ['--version']).status !== 0;
const skip = netnsSkip || (ccMissing ? 'bench:receive compiles bench/plain_recv.c: no cc' : false) ||
  (caps.zerocopyReceive.supported && caps.msgZerocopy.supported ? false : 'needs TCP_ZEROCOPY_RECEIVE and MSG_ZEROCOPY');

interface BenchRow {
  sender: string;
  mode: 'copy' | 'zerocopy';
  chunk: number;
  receiver: string;
  mappedPct: number;
  receiveCallsPerMB: number | null;
  syscallsPerMB: number | null;
}

/** One short bench:receive run (its native loop only, 256 KiB chunks): its JSON rows and stdout. */
function benchOnce(t: Test, dir: string, n: number) {
  const json = join(dir, `bench-${n}.json`);
  const bench = spawnSync(
    process.execPath,
    ['--import=@isaacs/ts-node-temp-fork-for-pr-2009/import', 'bench/receive.ts', '--chunks', '256', '--repeats', '1', '--seconds', '0.3',
      '--quiet-gate', '100', '--receivers', 'native-lw', '--no-write', '--json', json],
    { cwd: packageRoot, encoding: 'utf8', timeout: 90_000 },
  );
  t.equal(bench.status, 0, `bench:receive ran (${bench.stderr.split('\n').slice(-3).join(' ')})`);
  return { rows: bench.status === 0 ? (JSON.parse(readFileSync(json, 'utf8')) as { rows: BenchRow[] }).rows : [], stdout: bench.stdout };
}

t.test("bench:receive's and compare's calls per MB agree per mode", { skip }, async (t) => { // bounded by the file timeout (.taprc; 900 s under ASan): each bench rerun is a process
  const dir = mkdtempSync(join(tmpdir(), 'pageflip-bench-calls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = benchOnce(t, dir, 0);
  t.match(first.stdout, /recv calls\/MB +syscalls\/MB/, 'the bench table has the calls columns');

  const testbed = localTestbed();
  t.teardown(() => testbed.close());
  const side = localSender(testbed);
  const settings = { seconds: null, bytes: 32 * 1024 * 1024, chunkBytes: 256 * 1024, cpus: caps.cpus >= 2 ? { rx: 0, tx: 1 } : null, perf: false, seed: 3 };
  for (const mode of ['copy', 'zerocopy'] as const) {
    // Load only adds calls (test/helpers/least-disturbed.ts): each side's least-disturbed run counts.
    let runs = 0;
    const benched = await leastDisturbed(async () => {
      const rows = runs++ === 0 ? first.rows : benchOnce(t, dir, runs).rows;
      const row = rows.find((r) => r.sender === 'zerocopy' && r.mode === mode && r.chunk === settings.chunkBytes);
      t.ok(row?.receiveCallsPerMB, `bench:receive reports ${mode}'s receive calls per MB`);
      return { perMB: row?.receiveCallsPerMB ?? Infinity, syscallsPerMB: row?.syscallsPerMB ?? Infinity, undisturbed: mode === 'copy' || row?.mappedPct === 100 };
    });
    const compared = await leastDisturbed(async () => {
      const run = await runPoint(side, { mode, mtu: 4148, touch: false, sender: 'zerocopy' }, settings, 1);
      return { perMB: (run.calls!.receive * 1e6) / run.bytes, syscallsPerMB: (run.syscalls! * 1e6) / run.bytes, undisturbed: mode === 'copy' || run.copiedBytes === 0 };
    });
    const [b, c] = [benched.best, compared.best];
    t.comment(`${mode}: receive calls/MB bench ${describeRuns(benched.runs)}, compare ${describeRuns(compared.runs)}; ` +
      `all syscalls/MB bench ${b.syscallsPerMB.toFixed(2)}, compare ${c.syscallsPerMB.toFixed(2)}`);
    t.ok(Math.abs(c.perMB / b.perMB - 1) <= 0.1, `${mode}: within 10% (${c.perMB.toFixed(2)} vs ${b.perMB.toFixed(2)}, least-disturbed runs)`);
  }
});
