// Bench (not a test): the cost model against a measurement on this machine. Calibrates, runs a
// compare of copy, zerocopy, flip and copy-remap at the paper's MTUs (touch and notouch), and prints
// the model's predicted receiver CPU per MB and ratio to copy beside the measured medians, then how
// many ratios the model got within ±25 % (issue 16's goal) and how many lie inside the measured
// per-repeat ratios' min–max (a miss outside it is the model's; inside it, the host's noise).
// Options: --quick (quick calibration, 0.5 s runs), --seconds N per run (default 2), --repeats N
// (default 7: the host drifts up to 2x between quiet runs, so ratios are paired per repeat),
// --chunk BYTES (default 256 KiB).
// It also runs discard (the floor), judges the model on the receiver's CPUs too (the model's rows'
// receiverSide: README "The cost model"), and prints, per point, the receiver CPU's whole bill from
// /proc/stat (softirq included) beside the receiver thread's: with RPS the packets' receive work
// runs on the receiver's CPU, in whichever thread is running there, so a busier mode's thread
// absorbs more of it; calibrate's flow (no RPS) bills none of it to the receiver.
import { runCalibration } from '../lib/experiment/calibrate.js';
import { compare, localEnvironment } from '../lib/experiment/compare.js';
import { modelReport, ratioError, withinMeasuredSpread } from '../lib/experiment/model-report.js';
import { modelTableLines } from '../lib/report/model-block.js';
import { flag, option } from './args.js';
import { DEFAULT_CHUNK_BYTES, MODEL_MODES } from '../lib/vocabulary.js';
import { spread } from '../lib/experiment/stats.js';
import type { RunResult } from '../lib/experiment/types.js';

const started = Date.now();
const quick = flag('quick');
const calibration = await runCalibration({ quick });
const env = localEnvironment({}, new Map());
try {
  const report = await compare(
    {
      modes: [...MODEL_MODES, 'discard'],
      mtus: [4148, 8244],
      touch: 'both',
      seconds: option('seconds', quick ? 0.5 : 2),
      repeats: option('repeats', 7),
      chunkBytes: option('chunk', DEFAULT_CHUNK_BYTES),
      reference: 'none',
    },
    env,
    (event) => {
      if (event.kind === 'result') process.stderr.write(`\r[${event.index}/${event.total}] ${event.result.mode} ${event.result.mtu} ${event.result.touch ? 'touch' : 'notouch'}   `);
    },
  );
  process.stderr.write('\n');
  report.model = modelReport(report, calibration, `calibrate${quick ? ' --quick' : ''} in this bench`);
  console.log(modelTableLines(report, (text, first) => [`${first}${text}`]).join('\n'));
  const judged = report.model.rows.filter((row) => ratioError(row) !== null);
  const within = judged.filter((row) => Math.abs(ratioError(row)!) <= 0.25);
  console.log('');
  console.log(`ratios within ±25 % of the measured median: ${within.length} of ${judged.length}`);
  const inSpread = judged.filter((row) => withinMeasuredSpread(row) === true);
  console.log(`predicted ratios inside the measured per-repeat min–max: ${inSpread.length} of ${judged.length}`);
  for (const row of judged.filter((r) => !within.includes(r))) {
    const s = row.measuredSpread;
    const where = withinMeasuredSpread(row) ? 'inside' : 'outside';
    console.log(`  miss: ${row.mode} at ${row.mtu} ${row.touch ? 'touch' : 'notouch'}: predicted ${row.predictedRatio!.toFixed(2)}x, measured ${row.measuredRatio!.toFixed(2)}x` +
      (s ? ` (per-repeat ${s.min.toFixed(2)}–${s.max.toFixed(2)}x over ${s.pairs}: ${where})` : ''));
  }
  const sides = report.model.rows.filter((row) => row.receiverSide);
  const sideError = (row: (typeof sides)[number]) => row.receiverSide!.predictedRatio / row.receiverSide!.measuredRatio - 1;
  const sideWithin = sides.filter((row) => Math.abs(sideError(row)) <= 0.25);
  const sideInSpread = sides.filter((row) => row.receiverSide!.predictedRatio >= row.receiverSide!.measuredSpread.min && row.receiverSide!.predictedRatio <= row.receiverSide!.measuredSpread.max);
  console.log('');
  console.log(`on the receiver's CPUs (floor from this run's discard): within ±25 %: ${sideWithin.length} of ${sides.length}; inside the per-repeat min–max: ${sideInSpread.length} of ${sides.length}`);
  for (const row of sides.filter((r) => !sideWithin.includes(r)))
    console.log(`  miss: ${row.mode} at ${row.mtu} ${row.touch ? 'touch' : 'notouch'}: predicted ${row.receiverSide!.predictedRatio.toFixed(2)}x, measured ${row.receiverSide!.measuredRatio.toFixed(2)}x`);
  console.log('');
  console.log(receiverBillLines(report.runs, report.config.sender).join('\n'));
  console.log(`wall time ${((Date.now() - started) / 1000).toFixed(0)} s`);
} finally {
  env.close();
}

/**
 * Per MTU/touch/mode, medians over repeats: the receiver CPU's µs/MB from /proc/stat (side), the
 * receiver thread's, and the side's part the thread did not run (softirq in idle or ksoftirqd).
 */
function receiverBillLines(runs: RunResult[], sender: string): string[] {
  const median = (xs: number[]) => (xs.length ? spread(xs).median : NaN);
  const out = ['Receiver CPU from /proc/stat (side, softirq included) vs the receiver thread, medians, µs/MB:',
    '  MTU   data     mode        side  thread  side−thread  side ÷discard'];
  const keys = [...new Set(runs.filter((r) => r.sender === sender && r.sides).map((r) => `${r.mtu}|${r.touch}`))];
  for (const key of keys) {
    const [mtu, touch] = [Number(key.split('|')[0]), key.split('|')[1] === 'true'];
    const of = (mode: string, t: boolean) => runs.filter((r) => r.sender === sender && r.mode === mode && r.mtu === mtu && r.touch === t && r.sides && r.receiverThread);
    const floorSide = median(of('discard', false).map((r) => r.sides!.receiver.usPerMB));
    for (const mode of [...MODEL_MODES, 'discard']) {
      const mine = of(mode, touch);
      if (mine.length === 0) continue;
      const side = median(mine.map((r) => r.sides!.receiver.usPerMB));
      const thread = median(mine.map((r) => r.receiverThread!.usPerMB));
      const idle = median(mine.map((r) => r.sides!.receiver.usPerMB - r.receiverThread!.usPerMB));
      out.push(`  ${String(mtu).padEnd(4)}  ${(touch ? 'touch' : 'notouch').padEnd(7)}  ${mode.padEnd(10)} ${side.toFixed(0).padStart(5)}  ${thread.toFixed(0).padStart(6)}  ${idle.toFixed(0).padStart(11)}  ${Number.isFinite(floorSide) ? (side / floorSide).toFixed(2) + 'x' : 'n/a'}`);
    }
  }
  return out;
}
