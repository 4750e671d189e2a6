// Bench (not a test): flips that move page tables (issue 16 §2), measured side by side in one run.
// One compare of copy, zerocopy and flip at the paper's MTUs, touch and notouch, at 256 KiB chunks
// (flip moves PTEs) and at 2 MiB chunks (flip moves whole page tables when a receive fills the
// slot), in a shuffled order per repeat; prints flip ÷ zerocopy receiver CPU per MB at each chunk,
// paired by repeat (receiver side from /proc/stat and the receive thread's own), the PMD-path share
// and, with --perf, TLB flushes per MB. Options: --seconds N per run (default 1), --repeats N
// (default 4), --perf.
import { compare, localEnvironment } from '../lib/experiment/compare.js';
import { PMD_BYTES } from '../lib/vocabulary.js';
import { pairedRatio, spread } from '../lib/experiment/stats.js';
import type { PairedRatio, PointSummary, RunResult } from '../lib/experiment/types.js';
import { bytesLabel, pmdRows, runsOf, tlbUnavailable } from '../lib/report/format.js';
import { columns, fixed, flag, option } from './args.js';

/** Flip's receiver CPU per MB at 2 MiB slots, at most this multiple of zerocopy's (issue 16 §2). */
const GOAL = 1.2;

const started = Date.now();
const env = localEnvironment({}, new Map());
try {
  const report = await compare(
    {
      modes: ['copy', 'zerocopy', 'flip'],
      mtus: [4148, 8244],
      touch: 'both',
      seconds: option('seconds', 1),
      repeats: option('repeats', 4),
      perf: flag('perf'),
      reference: 'none',
      pmdRows: true,
    },
    env,
    (event) => {
      if (event.kind === 'result') process.stderr.write(`\r[${event.index}/${event.total}] ${event.result.mode} ${event.result.mtu} ${event.result.touch ? 'touch' : 'notouch'} ${bytesLabel(event.result.chunkBytes ?? 0)}   `);
      if (event.kind === 'warning') process.stderr.write(`\nwarning: ${event.message}\n`);
    },
  );
  process.stderr.write('\n');
  const ratio = (r: PairedRatio | null) => (r ? `${fixed(r.median)}x (${fixed(r.min)}-${fixed(r.max)})` : 'n/a');
  const threadUs = (r: RunResult) => r.receiverThread?.usPerMB ?? 0;
  const rows = pmdRows(report);
  // Zerocopy at the point's chunk: the run's own chunk is not among the block's rows (only its flip is).
  const zerocopyOf = (p: PointSummary) =>
    report.summary.points.find((z) => z.mode === 'zerocopy' && z.mtu === p.mtu && z.touch === p.touch && z.chunkBytes === p.chunkBytes && z.sender === p.sender && (z.flows ?? 1) === 1 && z.layout !== 'threads');
  const threadRatios = new Map<PointSummary, PairedRatio | null>();
  const medianOf = (p: PointSummary, pick: (r: RunResult) => number | undefined) => {
    const values = runsOf(report, p).map(pick).filter((v): v is number => typeof v === 'number');
    return values.length ? spread(values).median : NaN;
  };
  const table: string[][] = rows.map(({ point: p, chunkBytes, receiverUsPerMB, vsZerocopy, tlbFlushesPerMB }) => {
    const zerocopy = zerocopyOf(p);
    const thread = zerocopy && p.mode !== 'zerocopy' ? pairedRatio(runsOf(report, p), runsOf(report, zerocopy), threadUs) : null;
    threadRatios.set(p, thread);
    return [
      String(p.mtu), p.touch ? 'touch' : 'notouch', p.mode, bytesLabel(chunkBytes), fixed(p.gbps.median),
      receiverUsPerMB === null ? 'n/a' : fixed(receiverUsPerMB, 0), fixed(medianOf(p, (r) => r.receiverThread?.usPerMB), 0),
      p.mode === 'zerocopy' ? '-' : ratio(vsZerocopy), p.mode === 'zerocopy' ? '-' : ratio(thread),
      p.mode === 'flip' && typeof p.pmdShare === 'number' ? `${fixed(p.pmdShare * 100, 1)}%` : '',
      tlbFlushesPerMB === null ? 'n/a' : fixed(tlbFlushesPerMB, 1),
      fixed(medianOf(p, (r) => r.otherCpu ?? undefined), 0),
    ];
  });
  console.log(`Page-table flips: receiver CPU per MB, flip vs zerocopy at the same chunk (${report.config.repeats} repeats × ${report.config.seconds} s, ratios: median of per-repeat ratios, min-max)`);
  console.log(columns(['MTU', 'data', 'mode', 'chunk', 'Gbit/s', 'rx-side us/MB', 'rx-thread us/MB', 'rx-side / zerocopy', 'rx-thread / zerocopy', 'PMD share', 'TLB/MB', 'other %'], table, { left: [0, 1, 2], rule: true }));
  const why = tlbUnavailable(report);
  if (why) console.log(`TLB/MB: ${why}`);
  console.log('');
  const goal = rows.filter((r) => r.point.mode === 'flip' && r.chunkBytes === PMD_BYTES);
  const judge = (v: PairedRatio | null | undefined) =>
    !v ? 'not measured' : v.median <= GOAL ? (v.max <= GOAL ? 'met in every repeat' : 'met (median)') : v.min <= GOAL ? 'missed (median; some repeats within)' : 'missed in every repeat';
  // Receiver side counts everything its CPU ran (softirq, and other processes' work on a shared
  // machine); the receive thread's own CPU is what the flip itself costs.
  for (const r of goal) {
    const where = `${r.point.mtu} ${r.point.touch ? 'touch' : 'notouch'}`;
    const thread = threadRatios.get(r.point);
    console.log(`goal flip <= ${GOAL}x zerocopy CPU/MB at 2 MiB, ${where}: receiver side ${ratio(r.vsZerocopy)} ${judge(r.vsZerocopy)}; receive thread ${ratio(thread ?? null)} ${judge(thread)}`);
  }
  const busy = report.runs.filter((r) => (r.otherCpu ?? 0) > 3).length;
  if (busy) console.log(`note: other processes used over 3% of the box in ${busy} of ${report.runs.length} runs (other % column): the machine was shared`);
  console.log(`wall time ${((Date.now() - started) / 1000).toFixed(0)} s`);
} finally {
  await env.close();
}
