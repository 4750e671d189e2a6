// Issue 15 §3: the statistics and the verdict, on synthetic runs. Ratios are medians of
// per-repeat paired ratios with their min–max; a difference is called only when every one of at
// least three paired repeats lies on one side of parity, per mode, MTU and touch.
import t from 'tap';
import { summarize } from '../lib/experiment/stats.js';
import type { RowMode, RunResult, SendMode } from '../lib/experiment/types.js';

interface RunOptions {
  sender?: SendMode | 'iperf3';
  mtu?: number;
  tlb?: number;
}

/** One synthetic run: only what the statistics read is meaningful. */
function run(mode: RowMode, touch: boolean, repeat: number, efficiency: number, options: RunOptions = {}): RunResult {
  const percent = 50;
  const mbps = efficiency * percent;
  return {
    repeat,
    mode,
    mtu: options.mtu ?? 4148,
    touch,
    sender: options.sender ?? 'zerocopy',
    bytes: 1e9,
    seconds: 1,
    gbps: mbps / 1000,
    mbps,
    cpu: { percent, user: 10, nice: 0, system: 30, irq: 0, softirq: 10, steal: 0, idle: 50, usPerMB: 1e4 / efficiency },
    efficiency,
    receiverThread: null,
    senderThread: null,
    mappedBytes: mode === 'zerocopy' || mode === 'flip' ? 1e9 : 0,
    copiedBytes: mode === 'zerocopy' || mode === 'flip' ? 0 : 1e9,
    mappedPercent: mode === 'zerocopy' || mode === 'flip' ? 100 : 0,
    verifiedBytes: 0,
    mismatches: 0,
    syscalls: 4000,
    calls: { receive: 3815, wait: 100, page: 85 },
    perf: options.tlb === undefined ? null : [{ event: 'tlb:tlb_flush', available: true, value: options.tlb * 1000, perMB: options.tlb }],
    note: null,
    remote: null,
  };
}

/** Runs of one point over repeats 1..n with these efficiencies. */
function point(mode: RowMode, touch: boolean, efficiencies: number[], options: RunOptions = {}): RunResult[] {
  return efficiencies.map((e, i) => run(mode, touch, i + 1, e, options));
}

t.test('ratios are medians of per-repeat paired ratios, with their min–max', async (t) => {
  // Unpaired, the medians would give 250 / 200 = 1.25; paired: 2.5, 0.75, 1.033.
  const { points } = summarize([...point('copy', false, [100, 200, 300]), ...point('zerocopy', false, [250, 150, 310])]);
  const zc = points.find((p) => p.mode === 'zerocopy')!;
  t.equal(zc.vsCopy!.efficiency.toFixed(3), '1.033');
  t.same(zc.vsCopy!.efficiencyRange, { min: 0.75, max: 2.5 });
  t.equal(zc.vsCopy!.pairs, 3);
  t.equal(zc.callsPerMB, 4, 'calls per MB: every syscall');
  t.equal(zc.bytesPerReceive!.toFixed(0), (1e9 / 3815).toFixed(0), 'bytes per receive call');
});

t.test('every case lower in every repeat: the paper holds, with per-case intervals', async (t) => {
  const { verdict, cases } = summarize([
    ...point('copy', false, [100, 100, 100], { tlb: 0.008 }),
    ...point('zerocopy', false, [70, 72, 68], { tlb: 4.3 }),
    ...point('flip', false, [30, 31, 29], { tlb: 73.1 }),
  ]);
  t.same(cases.map((c) => c.call), ['lower', 'lower']);
  t.match(verdict, /less efficient .* than one copy in every case, in every repeat: the paper's 2004 result holds/);
  t.match(verdict, /zerocopy 4148 notouch 0\.70× \(0\.68–0\.72\) less efficient; flip 4148 notouch 0\.30× \(0\.29–0\.31\) less efficient/);
  t.match(verdict, /zerocopy 4\.3, flip 73 TLB flushes per MB against 0\.0080 for copy/);
});

t.test('ties within a few percent whose repeats straddle parity are no measurable difference', async (t) => {
  // Median +1.5%: the old ±2% rule called this "the 2004 result holds".
  const { verdict, cases } = summarize([...point('copy', false, [100, 100, 100]), ...point('zerocopy', false, [101.5, 99, 103])]);
  t.equal(cases[0].call, 'none');
  t.match(verdict, /no measurable difference .* in any case/);
  t.notMatch(verdict, /2004 result holds/);
});

t.test('the threshold follows the spread, not a fixed ±2%', async (t) => {
  // 1% below copy in every repeat is a measured difference; a 10% median with repeats on both sides is not.
  const small = summarize([...point('copy', false, [100, 100, 100]), ...point('zerocopy', false, [98.5, 99, 99.5])]);
  t.equal(small.cases[0].call, 'lower');
  const wide = summarize([...point('copy', false, [100, 100, 100]), ...point('zerocopy', false, [80, 90, 110])]);
  t.equal(wide.cases[0].call, 'none');
});

t.test('one win plus ties is not "the opposite of the paper"', async (t) => {
  const { verdict } = summarize([
    ...point('copy', true, [100, 100, 100]),
    ...point('zerocopy', true, [110, 112, 111]),
    ...point('flip', true, [95, 105, 100]),
  ]);
  t.notMatch(verdict, /opposite/);
  t.match(verdict, /depends on the case: more efficient at zerocopy at 4148 touch; no measurable difference at flip at 4148 touch/);
});

t.test('every case higher in every repeat is the opposite of the paper', async (t) => {
  const { verdict } = summarize([...point('copy', true, [100, 100, 100]), ...point('zerocopy', true, [110, 112, 111])]);
  t.match(verdict, /more efficient .* in every case, in every repeat: the opposite/);
});

t.test('fewer than three repeats never call a difference', async (t) => {
  const { cases, verdict } = summarize([...point('copy', false, [100, 100]), ...point('zerocopy', false, [50, 50])]);
  t.equal(cases[0].call, 'none');
  t.match(verdict, /0\.50× \(0\.50–0\.50\) no measurable difference/);
  const one = summarize([...point('copy', false, [100]), ...point('zerocopy', false, [50])]);
  t.match(one.verdict, /0\.50× \(1 repeat\)/);
});

t.test('touch is judged per mode and MTU, not pooled, and equal ratios do not "narrow"', async (t) => {
  const { touchEffects, verdict } = summarize([
    ...point('copy', false, [100, 100, 100]),
    ...point('copy', true, [100, 100, 100]),
    // zerocopy: 0.9 notouch, 0.8 touch: touch widens the gap.
    ...point('zerocopy', false, [90, 90, 90]),
    ...point('zerocopy', true, [80, 81, 79]),
    // flip: 0.3 notouch, 0.5 touch: narrows (pooled, the old verdict called both "narrows").
    ...point('flip', false, [30, 30, 30]),
    ...point('flip', true, [50, 51, 49]),
    // At 8244 zerocopy is the same with and without touch.
    ...point('copy', false, [100, 100, 100], { mtu: 8244 }),
    ...point('copy', true, [100, 100, 100], { mtu: 8244 }),
    ...point('zerocopy', false, [90, 90, 90], { mtu: 8244 }),
    ...point('zerocopy', true, [90, 90, 90], { mtu: 8244 }),
  ]);
  const effect = (mode: string, mtu: number) => touchEffects.find((e) => e.mode === mode && e.mtu === mtu)!.call;
  t.equal(effect('zerocopy', 4148), 'lower');
  t.equal(effect('flip', 4148), 'higher');
  t.equal(effect('zerocopy', 8244), 'none');
  t.match(verdict, /zerocopy 4148 0\.89× \(0\.88–0\.90\) widens the gap; flip 4148 1\.67× \(1\.63–1\.70\) narrows the gap; zerocopy 8244 1\.00× \(1\.00–1\.00\) no measurable difference/);
});

t.test('best page-moving vs copy: sender-matched first, the sender effect apart', async (t) => {
  const { best, verdict } = summarize([
    ...point('copy', false, [100, 100, 100]),
    ...point('copy', false, [128, 130, 126], { sender: 'write' }),
    ...point('zerocopy', false, [90, 91, 89]),
    ...point('flip', false, [30, 30, 30]),
    ...point('iperf3', false, [110, 110, 110], { sender: 'iperf3' }),
  ]);
  const row = best[0];
  t.equal(row.sameSender!.moving!.mode, 'zerocopy');
  t.equal(row.sameSender!.copying!.sender, 'zerocopy');
  t.equal(row.sameSender!.ratio!.median, 0.9);
  t.equal(row.senderEffect!.ratio.median, 1.28, 'copy←write ÷ copy←zerocopy');
  t.equal(row.copying!.sender, 'write', 'across senders the best copy is copy←write');
  t.equal(row.ratio!.toFixed(3), (90 / 128).toFixed(3));
  const same = verdict.indexOf('same sender: 0.90×');
  const sender = verdict.indexOf('The sender alone (copy←write ÷ copy←zerocopy, efficiency): 1.28× (1.26–1.30)');
  const across = verdict.indexOf('Across senders');
  t.ok(same > 0 && sender > same && across > sender, 'sender-matched, then the sender effect, then across senders');
});

t.test('without a page-moving point next to copy there is no answer', async (t) => {
  t.match(summarize(point('copy', false, [100, 100, 100])).verdict, /cannot answer the paper's question/);
});

t.test('rows that mapped under 90% are flagged', async (t) => {
  const runs = [...point('copy', false, [100, 100, 100]), ...point('zerocopy', false, [90, 90, 90])];
  for (const r of runs) if (r.mode === 'zerocopy') r.mappedPercent = 50;
  t.match(summarize(runs).verdict, /Caution: zerocopy at MTU 4148 mapped under 90%/);
});

t.test('a zero-CPU copy run leaves that repeat unpaired', async (t) => {
  const runs = [...point('copy', false, [100, 0, 100]), ...point('zerocopy', false, [90, 90, 90])];
  const zc = summarize(runs).points.find((p) => p.mode === 'zerocopy')!;
  t.equal(zc.vsCopy!.pairs, 2);
});

t.test('cases and best rows read in MTU, data, mode order whatever order the runs were made in', async (t) => {
  const runs = [
    ...point('flip', true, [30, 30, 30], { mtu: 8244 }),
    ...point('copy', true, [100, 100, 100], { mtu: 8244 }),
    ...point('zerocopy', false, [90, 90, 90]),
    ...point('copy', false, [100, 100, 100]),
    ...point('flip', false, [30, 30, 30]),
  ];
  const { cases, best } = summarize(runs);
  t.same(cases.map((c) => `${c.mode} ${c.mtu} ${c.touch}`), ['zerocopy 4148 false', 'flip 4148 false', 'flip 8244 true']);
  t.same(best.map((b) => `${b.mtu} ${b.touch}`), ['4148 false', '8244 true']);
});

t.test('a run too short to register CPU (efficiency 0) has no ratio to copy: it is left out of the pairs', async (t) => {
  // Repeat 2 of zerocopy saw no CPU tick: 0 ÷ copy would read as "0× copy", the strongest "lower".
  const zero = run('zerocopy', false, 2, 0);
  zero.cpu = { ...zero.cpu, percent: 0, usPerMB: 0 };
  const runs = [...point('copy', false, [100, 100, 100]), run('zerocopy', false, 1, 90), zero, run('zerocopy', false, 3, 95)];
  const zc = summarize(runs).points.find((p) => p.mode === 'zerocopy')!;
  t.equal(zc.vsCopy!.pairs, 2, 'two paired repeats');
  t.same(zc.vsCopy!.efficiencyRange, { min: 0.9, max: 0.95 });
  t.equal(summarize(runs).cases[0].call, 'none', 'too few pairs to call a difference');
});

t.test('receiver-host best table and verdict pair repeats on receiverEfficiency', async (t) => {
  // Whole box: zerocopy above copy in every repeat; receiver side: below it in every repeat.
  const sided = (r: RunResult, receiver: number): RunResult => ({
    ...r,
    sides: { receiver: { cpus: [0], percent: r.mbps / receiver, softirq: 0, steal: 0, usPerMB: 1e4 / receiver }, sender: { cpus: [1], percent: 10, softirq: 0, steal: 0, usPerMB: 1 } },
    receiverEfficiency: receiver,
  });
  const runs = [
    ...point('copy', false, [100, 200, 300]).map((r, i) => sided(r, [50, 100, 150][i])),
    ...point('zerocopy', false, [110, 220, 330]).map((r, i) => sided(r, [40, 120, 100][i])),
  ];
  const summary = summarize(runs);
  t.equal(summary.cases[0].call, 'higher', 'whole box: higher in every repeat');
  const zc = summary.points.find((p) => p.mode === 'zerocopy')!;
  // Paired: 0.8, 1.2, 0.667 → median 0.8 (unpaired medians would give 100 / 100 = 1).
  t.equal(zc.receiver!.vsCopy!.toFixed(3), '0.800', 'receiver-side ratio: median of the per-repeat ratios');
  const row = summary.receiverBest![0];
  t.same(row.sameSender!.ratio, { median: 0.8, min: 2 / 3, max: 1.2, pairs: 3 }, 'receiver best row: the paired ratio with its min–max');
  t.match(summary.receiverVerdict, /no measurable difference/, 'repeats straddle parity on the receiver side: no call');
  t.match(summary.verdict, /more efficient/);
});
