// Bench (not a test): what the sender's layout does to the figures. The same points with the
// sender as its own process (compare's default, like a second host) and as a thread of the
// receiving process (--layout threads), interleaved in every repeat, with compare's own
// machinery (namespaces, RPS, pinning, the loop's measurement window). Prints, per MTU and mode,
// receiver- and sender-thread CPU-µs/MB, whole-box and receiver-host efficiency, and the ratio
// processes ÷ threads.
//   npm run bench:layout [-- --seconds 2 --repeats 5 --touch]
import { capabilities } from '../lib/capabilities.js';
import { runPoint, type PointSpec, type RunSettings } from '../lib/experiment/run-point.js';
import { localSenders } from '../lib/experiment/sender-process.js';
import { spread, summarizePoints } from '../lib/experiment/stats.js';
import { localTestbed } from '../lib/experiment/testbed.js';
import type { Layout, PointSummary, RunResult } from '../lib/experiment/types.js';
import { columns, fixed, flag, option } from './args.js';
import { DEFAULT_CHUNK_BYTES } from '../lib/vocabulary.js';

const seconds = option('seconds', 2);
const repeats = option('repeats', 3);
const mtus = [4148, 8244];
const modes = ['zerocopy', 'copy'] as const;
const layouts: Layout[] = ['processes', 'threads'];
const touches = flag('touch') ? [false, true] : [false];
const cpus = capabilities().cpus >= 2 ? { rx: 0, tx: 1 } : null;

const testbed = localTestbed();
const senders = localSenders(testbed, 'auto');
const started = performance.now();
const runs: RunResult[] = [];
try {
  let seed = 1;
  for (let repeat = 1; repeat <= repeats; repeat++) {
    for (const mtu of mtus)
      for (const touch of touches)
        for (const layout of layouts)
          for (const mode of modes) {
            const spec: PointSpec = { mode, mtu, touch, sender: 'zerocopy', layout };
            const settings: RunSettings = { seconds, bytes: null, chunkBytes: DEFAULT_CHUNK_BYTES, cpus, perf: false, seed: seed++ };
            await runPoint(senders.side, spec, { ...settings, seconds: 0.3 }, repeat); // warm-up
            const run = await runPoint(senders.side, spec, settings, repeat);
            runs.push(run);
            process.stderr.write(`r${repeat} MTU ${mtu} ${touch ? 'touch' : 'notouch'} ${layout} ${mode}: ${fixed(run.gbps)} Gbit/s\n`);
          }
  }
} finally {
  await senders.close();
  testbed.close();
}

const points = summarizePoints(runs);
const median = (list: RunResult[], pick: (r: RunResult) => number | null | undefined) => {
  const values = list.map(pick).filter((v): v is number => typeof v === 'number');
  return values.length ? spread(values).median : NaN;
};
const runsOf = (p: PointSummary) => runs.filter((r) => r.mode === p.mode && r.mtu === p.mtu && r.touch === p.touch && r.layout === p.layout);
const rows: string[][] = [];
for (const mtu of mtus)
  for (const touch of touches)
    for (const mode of modes) {
      const at = (layout: Layout) => points.find((p) => p.mode === mode && p.mtu === mtu && p.touch === touch && p.layout === layout)!;
      const [proc, thr] = [at('processes'), at('threads')];
      for (const p of [proc, thr]) {
        const list = runsOf(p);
        rows.push([
          String(mtu),
          touch ? 'touch' : 'notouch',
          mode,
          p.layout === 'processes' ? 'own process' : 'thread',
          fixed(p.gbps.median),
          fixed(median(list, (r) => r.receiverThread?.usPerMB), 0),
          fixed(median(list, (r) => r.senderThread?.usPerMB), 0),
          fixed(median(list, (r) => r.sides?.receiver.softirq), 1),
          fixed(median(list, (r) => r.sides?.sender.softirq), 1),
          fixed(p.efficiency.median, 1),
          fixed(p.receiver?.efficiency.median ?? NaN, 1),
          fixed(median(list, (r) => r.otherCpu), 1),
        ]);
      }
      const ratio = (pick: (p: PointSummary) => number) => fixed(pick(proc) / pick(thr));
      const thread = (p: PointSummary) => median(runsOf(p), (r) => r.receiverThread?.usPerMB);
      rows.push(['', '', '', 'process ÷ thread', ratio((p) => p.gbps.median), ratio(thread), '', '', '', ratio((p) => p.efficiency.median), ratio((p) => p.receiver?.efficiency.median ?? NaN), '']);
    }

console.log(`\nsender MSG_ZEROCOPY, ${repeats} repeats × ${seconds} s per point (+0.3 s warm-up), layouts interleaved; ${cpus ? 'receiver on CPU 0, sender on CPU 1' : 'one CPU'}; RPS ${senders.rps()?.cpus ? `on CPU ${senders.rps()!.cpus!.join(',')}` : senders.rps()?.reason ?? 'n/a'}`);
console.log(
  columns(
    ['MTU', 'data', 'mode', 'sender runs as', 'Gbit/s', 'rx thread µs/MB', 'tx thread µs/MB', 'rx softirq %', 'tx softirq %', 'box eff', 'receiver eff', 'other CPU %'],
    rows,
    { left: [1, 2, 3], rule: true },
  ),
);
const busy = runs.filter((r) => (r.otherCpu ?? 0) > 3).length;
if (busy) console.log(`\n! other processes used over 3% of the box in ${busy} of ${runs.length} runs: rerun on a quiet machine before quoting these figures`);
console.log(`\nbench:layout took ${((performance.now() - started) / 1000).toFixed(0)} s`);
