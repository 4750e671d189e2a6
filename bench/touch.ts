// Bench (not a test): the "touch" anomaly of issue 14. On an AMD EPYC VM the first harness saw
// zerocopy with touch run 3× slower than copy with touch (6.3 vs 21 Gbit/s at 4148). On loopback
// the pages a MSG_ZEROCOPY sender hands over are first copied by the kernel (the deferred copy in
// the receive softirq); where that softirq runs decides whose cache holds the fresh pages when the
// receiver reads them. This bench runs copy and zerocopy, touch and notouch, under both harnesses,
// interleaved in every repeat:
//   then: the sender a thread of the receiving process, no RPS (the softirq runs on the sender's CPU)
//   now:  the sender its own process, RPS on the receiver's CPU (compare's default)
// and prints Gbit/s, receiver-side softirq and the zerocopy ÷ copy ratios per harness.
//   npm run bench:touch [-- --seconds 2 --repeats 3 --mtu 4148]
import { capabilities } from '../lib/capabilities.js';
import { runPoint, type PointSpec, type RunSettings } from '../lib/experiment/run-point.js';
import { localSenders } from '../lib/experiment/sender-process.js';
import { spread } from '../lib/experiment/stats.js';
import { localTestbed } from '../lib/experiment/testbed.js';
import type { Layout, RunResult } from '../lib/experiment/types.js';
import { columns, fixed, option } from './args.js';
import { DEFAULT_CHUNK_BYTES } from '../lib/vocabulary.js';

const seconds = option('seconds', 2);
const repeats = option('repeats', 3);
const mtu = option('mtu', 4148);
const modes = ['copy', 'zerocopy'] as const;
const touches = [false, true];
const cpus = capabilities().cpus >= 2 ? { rx: 0, tx: 1 } : null;
if (!cpus) {
  console.log('bench:touch needs two CPUs: the anomaly is about which CPU the deferred copy runs on');
  process.exit(0);
}

// Each harness gets its own namespaces, since RPS is a setting of the namespace's lo.
const harnesses = [
  { name: 'then', layout: 'threads' as Layout, testbed: localTestbed(), rps: 'off' as const },
  { name: 'now', layout: 'processes' as Layout, testbed: localTestbed(), rps: 'auto' as const },
].map((h) => ({ ...h, senders: localSenders(h.testbed, h.rps) }));

const started = performance.now();
const runs: Array<RunResult & { harness: string }> = [];
try {
  let seed = 1;
  for (let repeat = 1; repeat <= repeats; repeat++)
    for (const touch of touches)
      for (const h of harnesses)
        for (const mode of modes) {
          const spec: PointSpec = { mode, mtu, touch, sender: 'zerocopy', layout: h.layout };
          const settings: RunSettings = { seconds, bytes: null, chunkBytes: DEFAULT_CHUNK_BYTES, cpus, perf: false, seed: seed++ };
          await runPoint(h.senders.side, spec, { ...settings, seconds: 0.3 }, repeat); // warm-up
          const run = await runPoint(h.senders.side, spec, settings, repeat);
          runs.push({ ...run, harness: h.name });
          process.stderr.write(`r${repeat} ${h.name} ${touch ? 'touch' : 'notouch'} ${mode}: ${fixed(run.gbps)} Gbit/s\n`);
        }
} finally {
  for (const h of harnesses) {
    await h.senders.close();
    h.testbed.close();
  }
}

const median = (list: RunResult[], pick: (r: RunResult) => number | null | undefined) => {
  const values = list.map(pick).filter((v): v is number => typeof v === 'number');
  return values.length ? spread(values).median : NaN;
};
const rows: string[][] = [];
for (const h of harnesses)
  for (const touch of touches) {
    const of = (mode: string) => runs.filter((r) => r.harness === h.name && r.touch === touch && r.mode === mode);
    for (const mode of modes)
      rows.push([
        h.name,
        touch ? 'touch' : 'notouch',
        mode,
        fixed(median(of(mode), (r) => r.gbps)),
        fixed(median(of(mode), (r) => r.receiverThread?.usPerMB), 0),
        fixed(median(of(mode), (r) => r.sides?.receiver.softirq), 1),
        fixed(median(of(mode), (r) => r.sides?.sender.softirq), 1),
      ]);
    // Paired per repeat: zerocopy ÷ copy of the same repeat, then the median.
    const ratios = of('zerocopy').map((z) => z.gbps / of('copy').find((c) => c.repeat === z.repeat)!.gbps);
    rows.push(['', '', 'zerocopy ÷ copy', fixed(spread(ratios).median), '', '', '']);
  }

const rps = harnesses[1].senders.rps();
console.log(
  `\nMTU ${mtu}, sender MSG_ZEROCOPY, ${repeats} repeats × ${seconds} s per point (+0.3 s warm-up), harnesses interleaved; receiver on CPU 0, sender on CPU 1`,
);
console.log(`then = sender thread in the receiving process, RPS off; now = sender process, RPS ${rps?.cpus ? `on CPU ${rps.cpus.join(',')}` : (rps?.reason ?? 'n/a')}`);
console.log(columns(['harness', 'data', 'mode', 'Gbit/s', 'rx thread µs/MB', 'rx CPU softirq %', 'tx CPU softirq %'], rows, { left: [0, 1, 2], rule: true }));
const busy = runs.filter((r) => (r.otherCpu ?? 0) > 3).length;
if (busy) console.log(`\n! other processes used over 3% of the box in ${busy} of ${runs.length} runs: rerun on a quiet machine before quoting these figures`);
console.log(`\nbench:touch took ${((performance.now() - started) / 1000).toFixed(0)} s`);
