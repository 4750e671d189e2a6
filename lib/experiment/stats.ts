// From runs to the summary: medians and spreads per point, ratios to copy with the same sender,
// the best page-moving vs best copy view, and the verdict in the paper's terms.
import type { BestEntry, BestRow, Call, FloorDistance, PairedRatio, PointSummary, RowMode, RunResult, SendMode, Spread, Summary, TouchEffect, VerdictCase } from './types.js';
import { COPYING, MOVING, PMD_BYTES, RECEIVE_MODES } from '../vocabulary.js';

/** The perf tracepoint that counts TLB flushes: the cost the paper named for page moving. */
export const TLB_FLUSH = 'tlb:tlb_flush';

export function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const median = n === 0 ? NaN : n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return { median, min: sorted[0] ?? NaN, max: sorted[n - 1] ?? NaN };
}

interface Keyed {
  mode: RowMode;
  mtu: number;
  touch: boolean;
  sender: string;
  layout?: string;
  flows?: number;
  /** Set only for a chunk other than the run's main one. */
  chunkBytes?: number;
}

function pointKey(p: Keyed): string {
  // Rows of the in-process layout, of several flows and of another chunk stay apart from the others.
  const flows = p.flows ?? 1;
  return `${p.mode}|${p.mtu}|${p.touch}|${p.sender}${p.layout === 'threads' ? '|threads' : ''}${flows > 1 ? `|flows${flows}` : ''}${p.chunkBytes !== undefined ? `|chunk${p.chunkBytes}` : ''}`;
}

/** The chunk most runs used (ties: the smaller); undefined when no run recorded one (older reports). */
export function mainChunk(runs: readonly RunResult[]): number | undefined {
  const counts = new Map<number, number>();
  for (const r of runs) if (r.chunkBytes !== undefined) counts.set(r.chunkBytes, (counts.get(r.chunkBytes) ?? 0) + 1);
  return [...counts].sort(([a, n], [b, m]) => m - n || a - b)[0]?.[0];
}

/** A run's chunk when it is not the main one (so it keys a point of its own), else undefined. */
export function variantChunk(run: Pick<RunResult, 'chunkBytes'>, main: number | undefined): number | undefined {
  return run.chunkBytes !== undefined && run.chunkBytes !== main ? run.chunkBytes : undefined;
}

function runKey(run: RunResult, main: number | undefined): string {
  return pointKey({ ...run, layout: run.layout ?? undefined, flows: run.flows?.length ?? 1, chunkBytes: variantChunk(run, main) });
}

/** Whether two points ran in the same layout with the same number of flows and the same chunk. */
function sameVariant(a: PointSummary, b: PointSummary): boolean {
  return (a.layout === 'threads') === (b.layout === 'threads') && (a.flows ?? 1) === (b.flows ?? 1) && a.chunkBytes === b.chunkBytes;
}

/** The points of the run's own layout, flow count and chunk: the in-process pair, the 2-flow
 * points and the 2 MiB-chunk points of a default run show those effects apart and stay out of
 * the best table and the verdict. */
export function mainPoints(points: PointSummary[]): PointSummary[] {
  const plain = points.filter((p) => p.layout !== 'threads' && (p.flows ?? 1) === 1 && p.chunkBytes === undefined);
  return plain.length ? plain : points;
}

/** Receiver-side spreads of a point's runs (their ratio to copy is paired later); null when its runs had no per-side CPU. */
function receiverSide(group: RunResult[]): PointSummary['receiver'] {
  const sided = group.filter((r) => r.sides && typeof r.receiverEfficiency === 'number');
  if (sided.length !== group.length || !sided.length) return null;
  return {
    cpuPercent: spread(sided.map((r) => r.sides!.receiver.percent)),
    usPerMB: spread(sided.map((r) => r.sides!.receiver.usPerMB)),
    efficiency: spread(sided.map((r) => r.receiverEfficiency!)),
    vsCopy: null,
  };
}

/**
 * The runs seen by receiver-host efficiency: each run's CPU and efficiency replaced by its
 * receiver side's, so the same paired ratios, best table and verdict can be given for both
 * measures. Runs without receiver-side figures (--peer's whole-box receiver aside) drop out.
 */
export function receiverView(runs: RunResult[]): RunResult[] {
  return runs
    .filter((r) => r.sides && typeof r.receiverEfficiency === 'number')
    .map((r) => ({ ...r, cpu: { ...r.cpu, percent: r.sides!.receiver.percent, usPerMB: r.sides!.receiver.usPerMB }, efficiency: r.receiverEfficiency! }));
}

/** A difference is called only with at least this many paired repeats, all on one side of 1. */
export const MIN_PAIRS = 3;

/**
 * Per-repeat ratios a ÷ b of `metric` between two points' runs (paired by repeat number, since the
 * runs of one repeat were made minutes apart at most), as median and min–max; null without a pair.
 */
export function pairedRatio(a: RunResult[], b: RunResult[], metric: (r: RunResult) => number): PairedRatio | null {
  const ratios: number[] = [];
  for (const run of a) {
    const other = b.find((r) => r.repeat === run.repeat);
    // A ratio needs measured figures on both sides: runs too short for /proc/stat's 10 ms ticks
    // have an efficiency (and CPU-µs/MB) of 0, and no ratio to copy (as compare's warning says).
    if (other && metric(other) > 0 && metric(run) > 0) ratios.push(metric(run) / metric(other));
  }
  return ratios.length ? { ...spread(ratios), pairs: ratios.length } : null;
}

/** 'lower' or 'higher' only when every paired ratio lies on that side of parity, with enough pairs. */
export function call(ratio: PairedRatio): Call {
  if (ratio.pairs < MIN_PAIRS) return 'none';
  if (ratio.max < 1) return 'lower';
  if (ratio.min > 1) return 'higher';
  return 'none';
}

function perMB(count: number | null | undefined, bytes: number): number | null {
  return typeof count === 'number' && bytes > 0 ? count / (bytes / 1e6) : null;
}

function medianOf(values: Array<number | null>): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length ? spread(known).median : null;
}

/** The runs of each point, by point key. */
function groupRuns(runs: RunResult[], main = mainChunk(runs)): Map<string, RunResult[]> {
  const groups = new Map<string, RunResult[]>();
  for (const run of runs) {
    const key = runKey(run, main);
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return groups;
}

/** Share of a run's remapped bytes that moved as whole 2 MiB page tables (0-1); null where nothing was remapped or it was not counted. */
export function pmdShare(run: Pick<RunResult, 'remap'>): number | null {
  const remap = run.remap;
  return remap && remap.bytes > 0 ? Math.min(1, (remap.pmdMoves * PMD_BYTES) / remap.bytes) : null;
}

export function summarizePoints(runs: RunResult[], main = mainChunk(runs)): PointSummary[] {
  const groups = groupRuns(runs, main);
  const points: PointSummary[] = [...groups.values()].map((group) => {
    const first = group[0];
    const events = first.perf?.map((c) => c.event) ?? null;
    const chunk = variantChunk(first, main);
    const shares = group.map(pmdShare);
    return {
      mode: first.mode,
      mtu: first.mtu,
      touch: first.touch,
      sender: first.sender,
      runs: group.length,
      gbps: spread(group.map((r) => r.gbps)),
      cpuPercent: spread(group.map((r) => r.cpu.percent)),
      usPerMB: spread(group.map((r) => r.cpu.usPerMB)),
      efficiency: spread(group.map((r) => r.efficiency)),
      mappedPercent: spread(group.map((r) => r.mappedPercent)).median,
      mismatches: group.reduce((sum, r) => sum + r.mismatches, 0),
      vsCopy: null,
      callsPerMB: medianOf(group.map((r) => perMB(r.syscalls, r.bytes))),
      bytesPerReceive: medianOf(group.map((r) => (r.calls && r.calls.receive > 0 ? r.bytes / r.calls.receive : null))),
      ...(first.layout ? { layout: first.layout } : {}),
      ...((first.flows?.length ?? 1) > 1 ? { flows: first.flows!.length } : {}),
      ...(chunk !== undefined ? { chunkBytes: chunk } : {}),
      ...(group.some((r) => r.remap !== undefined) ? { pmdShare: medianOf(shares) } : {}),
      ...(first.sides !== undefined ? { receiver: receiverSide(group), senderCpuPercent: group.every((r) => r.sides) ? spread(group.map((r) => r.sides!.sender.percent)) : null } : {}),
      perfPerMB: events
        ? Object.fromEntries(
            events.map((event) => {
              const values = group
                .map((r) => r.perf?.find((c) => c.event === event)?.perMB)
                .filter((v): v is number => typeof v === 'number');
              return [event, values.length ? spread(values).median : null];
            }),
          )
        : null,
    };
  });
  for (const point of points) {
    if (point.mode === 'copy') continue;
    const own = groups.get(pointKey(point))!;
    const copy = groups.get(pointKey({ ...point, mode: 'copy' }));
    if (!copy) continue;
    if (point.receiver) point.receiver.vsCopy = pairedRatio(own, copy, (r) => r.receiverEfficiency ?? 0)?.median ?? null;
    const gbps = pairedRatio(own, copy, (r) => r.gbps);
    const usPerMB = pairedRatio(own, copy, (r) => r.cpu.usPerMB);
    const efficiency = pairedRatio(own, copy, (r) => r.efficiency);
    if (gbps && usPerMB && efficiency)
      point.vsCopy = {
        gbps: gbps.median,
        usPerMB: usPerMB.median,
        efficiency: efficiency.median,
        efficiencyRange: { min: efficiency.min, max: efficiency.max },
        pairs: efficiency.pairs,
      };
  }
  return points;
}

function best(points: PointSummary[], modes: ReadonlySet<RowMode>, mtu: number, touch: boolean, sender?: string): BestEntry | null {
  // iperf3 never reads its data, so it only competes in the notouch view: its rows are all
  // touch false (compare schedules them only there, and the reference runner records them so).
  const candidates = points.filter((p) => modes.has(p.mode) && p.mtu === mtu && p.touch === touch && (sender === undefined || p.sender === sender));
  const top = candidates.sort((a, b) => b.efficiency.median - a.efficiency.median)[0];
  return top
    ? { mode: top.mode, sender: top.sender, mtu, touch, efficiency: top.efficiency.median, gbps: top.gbps.median }
    : null;
}

/** Two significant digits, so small counts per MB do not print as 0.0. */
function sig(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toPrecision(2);
}

/** A paired ratio as "0.91× (0.86–0.95)", or "0.91× (1 repeat)" when there is no spread to show. */
export function ratioText(ratio: PairedRatio): string {
  const f = (v: number) => v.toFixed(2);
  return ratio.pairs < 2 ? `${f(ratio.median)}× (${ratio.pairs} repeat)` : `${f(ratio.median)}× (${f(ratio.min)}–${f(ratio.max)})`;
}

const touchWord = (touch: boolean) => (touch ? 'touch' : 'notouch');

/** Per page-moving mode, MTU and touch: its efficiency against copy with the same sender. */
export function verdictCases(runs: RunResult[], points: PointSummary[], chunk = mainChunk(runs)): VerdictCase[] {
  const groups = groupRuns(runs, chunk);
  const cases: VerdictCase[] = [];
  for (const p of points) {
    if (!MOVING.has(p.mode)) continue;
    const copy = groups.get(pointKey({ ...p, mode: 'copy' }));
    const ratio = copy ? pairedRatio(groups.get(pointKey(p))!, copy, (r) => r.efficiency) : null;
    if (ratio) cases.push({ mode: p.mode, mtu: p.mtu, touch: p.touch, ratio, call: call(ratio) });
  }
  return cases;
}

/** Per page-moving mode and MTU: (ratio to copy with touch) ÷ (ratio to copy without), paired by repeat. */
export function touchEffects(runs: RunResult[], points: PointSummary[], chunk = mainChunk(runs)): TouchEffect[] {
  const groups = groupRuns(runs, chunk);
  const effects: TouchEffect[] = [];
  for (const p of points) {
    if (!MOVING.has(p.mode) || !p.touch) continue;
    const runsOf = (mode: RowMode, touch: boolean) => groups.get(pointKey({ ...p, mode, touch })) ?? [];
    // Per repeat: this mode's efficiency ratio to copy, touch and notouch, then their quotient.
    const perRepeat = (touch: boolean) =>
      runsOf(p.mode, touch).map((r) => ({ ...r, efficiency: ratioInRepeat(r, runsOf('copy', touch)) }));
    const ratio = pairedRatio(
      perRepeat(true).filter((r) => r.efficiency > 0),
      perRepeat(false).filter((r) => r.efficiency > 0),
      (r) => r.efficiency,
    );
    if (ratio) effects.push({ mode: p.mode, mtu: p.mtu, ratio, call: call(ratio) });
  }
  return effects;
}

function ratioInRepeat(run: RunResult, copies: RunResult[]): number {
  const copy = copies.find((c) => c.repeat === run.repeat);
  return copy && copy.efficiency > 0 ? run.efficiency / copy.efficiency : 0;
}

const CALL_WORD: Record<Call, string> = { lower: 'less efficient', higher: 'more efficient', none: 'no measurable difference' };

/** One paragraph in the paper's terms, built only from this run's paired ratios. */
export function verdict(cases: VerdictCase[], effects: TouchEffect[], points: PointSummary[], bestRows: BestRow[]): string {
  const sentences: string[] = [];
  if (cases.length === 0) {
    sentences.push('No page-moving mode ran next to copy with the same sender, so this run cannot answer the paper\'s question.');
  } else {
    const named = (list: VerdictCase[]) => list.map((c) => `${c.mode} at ${c.mtu} ${touchWord(c.touch)}`).join(', ');
    const lower = cases.filter((c) => c.call === 'lower');
    const higher = cases.filter((c) => c.call === 'higher');
    const none = cases.filter((c) => c.call === 'none');
    const headline =
      lower.length === cases.length
        ? 'With the same sender, moving pages was less efficient (Mbit/s per CPU %) than one copy in every case, in every repeat: the paper\'s 2004 result holds here'
        : higher.length === cases.length
          ? 'With the same sender, moving pages was more efficient (Mbit/s per CPU %) than one copy in every case, in every repeat: the opposite of the paper\'s 2004 result'
          : none.length === cases.length
            ? 'With the same sender, this run shows no measurable difference in efficiency (Mbit/s per CPU %) between moving pages and one copy in any case'
            : `With the same sender the answer depends on the case: ${[
                lower.length ? `moving pages was less efficient than one copy at ${named(lower)}` : '',
                higher.length ? `more efficient at ${named(higher)}` : '',
                none.length ? `no measurable difference at ${named(none)}` : '',
              ]
                .filter(Boolean)
                .join('; ')}`;
    sentences.push(`${headline}.`);
    sentences.push(
      `Efficiency ÷ copy, median of the per-repeat ratios (min–max), a difference called only when all of at least ${MIN_PAIRS} repeats agree: ` +
        `${cases.map((c) => `${c.mode} ${c.mtu} ${touchWord(c.touch)} ${ratioText(c.ratio)} ${CALL_WORD[c.call]}`).join('; ')}.`,
    );
    if (effects.length)
      sentences.push(
        `Touching the data, per mode and MTU (touch ratio ÷ notouch ratio): ${effects
          .map((e) => `${e.mode} ${e.mtu} ${ratioText(e.ratio)} ${e.call === 'lower' ? 'widens the gap' : e.call === 'higher' ? 'narrows the gap' : 'no measurable difference'}`)
          .join('; ')} (the paper saw touch widen it: reading freshly flipped pages misses the cache).`,
      );
    const low = points.filter((p) => MOVING.has(p.mode) && p.vsCopy && p.mappedPercent < 90);
    if (low.length)
      sentences.push(`Caution: ${low.map((p) => `${p.mode} at MTU ${p.mtu}`).join(', ')} mapped under 90% of bytes, so those rows mostly measure copying.`);
  }
  const moving = points.filter((p) => MOVING.has(p.mode) && p.vsCopy);
  // Per mode, the range of TLB flushes per MB: mixing modes would hide that flip pays far more than zerocopy.
  const flushRange = (list: PointSummary[]): string | null => {
    const v = list.map((p) => p.perfPerMB?.[TLB_FLUSH]).filter((x): x is number => typeof x === 'number');
    if (!v.length) return null;
    const lo = Math.min(...v);
    const hi = Math.max(...v);
    return lo === hi ? sig(lo) : `${sig(lo)}–${sig(hi)}`;
  };
  const copyFlush = flushRange(points.filter((p) => p.mode === 'copy'));
  const movingFlush = [...new Set(moving.map((p) => p.mode))]
    .map((mode) => [mode, flushRange(moving.filter((p) => p.mode === mode))] as const)
    .filter(([, range]) => range !== null);
  if (copyFlush && movingFlush.length)
    sentences.push(
      `The counters show the cost the paper named: ${movingFlush.map(([mode, range]) => `${mode} ${range}`).join(', ')} TLB flushes per MB against ${copyFlush} for copy.`,
    );
  const where = (row: BestRow) => `${row.mtu} ${touchWord(row.touch)}`;
  const matched = bestRows.filter((b) => b.sameSender?.ratio);
  if (matched.length)
    sentences.push(
      `Best page-moving mode vs copy, same sender: ${matched
        .map((row) => `${ratioText(row.sameSender!.ratio!)} at ${where(row)} (${row.sameSender!.moving!.mode} vs copy, both ←${row.sameSender!.sender})`)
        .join(', ')}.`,
    );
  const senders = bestRows.filter((b) => b.senderEffect);
  if (senders.length)
    sentences.push(
      `The sender alone (copy←write ÷ copy←${senders[0].senderEffect!.sender}, efficiency): ${senders.map((row) => `${ratioText(row.senderEffect!.ratio)} at ${where(row)}`).join(', ')}.`,
    );
  const across = bestRows.filter((b) => b.ratio !== null);
  if (across.length) {
    const b = across.map((row) => `${row.ratio!.toFixed(2)}× at ${where(row)} (${row.moving!.mode}←${row.moving!.sender} vs ${row.copying!.mode}←${row.copying!.sender})`);
    sentences.push(`Across senders, best page-moving setup vs best copy path (iperf3 included; the senders differ, so this mixes the sender effect in): ${b.join(', ')}.`);
  }
  return sentences.join(' ');
}

/** Per MTU and touch: best page-moving vs copy with the same sender, the sender alone, and best vs best across senders. */
export function bestRows(runs: RunResult[], points: PointSummary[], chunk = mainChunk(runs)): BestRow[] {
  const groups = groupRuns(runs, chunk);
  const runsOf = (e: BestEntry) => groups.get(pointKey(e)) ?? [];
  const cases = [...new Set(points.filter((p) => p.mode !== 'iperf3' && p.mode !== 'iperf3-Z').map((p) => `${p.mtu}|${p.touch}`))];
  return cases.map((key) => {
    const [mtuText, touchText] = key.split('|');
    const mtu = Number(mtuText);
    const touch = touchText === 'true';
    const moving = best(points, MOVING, mtu, touch);
    const copying = best(points, COPYING, mtu, touch);
    const across = moving && copying ? pairedRatio(runsOf(moving), runsOf(copying), (r) => r.efficiency) : null;
    // The page-moving sender is the one the page-moving rows ran with (compare uses one for all).
    const sender = moving && moving.sender !== 'iperf3' ? (moving.sender as SendMode) : null;
    let sameSender: BestRow['sameSender'] = null;
    let senderEffect: BestRow['senderEffect'] = null;
    if (sender) {
      const movingSame = best(points, MOVING, mtu, touch, sender);
      const copySame = best(points, new Set<RowMode>(['copy']), mtu, touch, sender);
      const ratio = movingSame && copySame ? pairedRatio(runsOf(movingSame), runsOf(copySame), (r) => r.efficiency) : null;
      sameSender = { sender, moving: movingSame, copying: copySame, ratio };
      const copyWrite = best(points, new Set<RowMode>(['copy']), mtu, touch, 'write');
      const effect = copyWrite && copySame && sender !== 'write' ? pairedRatio(runsOf(copyWrite), runsOf(copySame), (r) => r.efficiency) : null;
      if (effect) senderEffect = { sender, ratio: effect };
    }
    return {
      mtu,
      touch,
      sameSender,
      senderEffect,
      moving,
      copying,
      ratio: across ? across.median : null,
      ratioRange: across ? { min: across.min, max: across.max } : null,
    };
  });
}

// Reading order of the summary's lists: pageflip's modes, Node's reader, the floor, then iperf3.
const MODE_ORDER: readonly RowMode[] = [...RECEIVE_MODES, 'node', 'discard', 'iperf3', 'iperf3-Z'];

/** Reading order, whatever order the runs were made in: MTU, notouch before touch, then mode. */
function byCase<T extends { mtu: number; touch?: boolean; mode?: RowMode }>(a: T, b: T): number {
  return a.mtu - b.mtu || Number(a.touch ?? false) - Number(b.touch ?? false) || MODE_ORDER.indexOf(a.mode ?? 'copy') - MODE_ORDER.indexOf(b.mode ?? 'copy');
}

/** Each receive point's median CPU-µs/MB above the discard floor of its MTU and sender. */
export function floorDistances(points: PointSummary[]): FloorDistance[] {
  const out: FloorDistance[] = [];
  for (const floor of points.filter((p) => p.mode === 'discard' && !p.touch)) {
    for (const p of points) {
      if (p.mode === 'discard' || p.mtu !== floor.mtu || p.sender !== floor.sender || !sameVariant(p, floor) || p.mode === 'node') continue;
      out.push({
        mode: p.mode,
        mtu: p.mtu,
        touch: p.touch,
        sender: p.sender,
        usPerMB: p.usPerMB.median - floor.usPerMB.median,
        receiverUsPerMB: p.receiver && floor.receiver ? p.receiver.usPerMB.median - floor.receiver.usPerMB.median : null,
      });
    }
  }
  return out;
}

/** Best rows and verdict of `runs` (the in-process pair and the 2-flow points show those effects; the verdict is about the rest). */
function judge(runs: RunResult[], points: PointSummary[], chunk: number | undefined): Pick<Summary, 'best' | 'cases' | 'touchEffects' | 'verdict'> {
  const main = mainPoints(points);
  const best = bestRows(runs, main, chunk).sort(byCase);
  const cases = verdictCases(runs, main, chunk).sort(byCase);
  const effects = touchEffects(runs, main, chunk).sort(byCase);
  return { best, cases, touchEffects: effects, verdict: verdict(cases, effects, main, best) };
}

/** Best rows, cases and verdict paired on receiver-host efficiency (the paper's measurement); null when no run has it. */
export function receiverJudgement(runs: RunResult[], chunk = mainChunk(runs)): ReturnType<typeof judge> | null {
  const receiverRuns = receiverView(runs);
  return receiverRuns.length ? judge(receiverRuns, summarizePoints(receiverRuns, chunk), chunk) : null;
}

/** `chunk`: the run's main chunk (config.chunkBytes); points of another chunk are kept apart (default: the chunk most runs used). */
export function summarize(runs: RunResult[], chunk = mainChunk(runs)): Summary {
  const points = summarizePoints(runs, chunk);
  const summary: Summary = { points, ...judge(runs, points, chunk) };
  const floor = floorDistances(mainPoints(points));
  if (floor.length) summary.floor = floor;
  const receiver = receiverJudgement(runs, chunk);
  if (receiver) {
    summary.receiverBest = receiver.best;
    summary.receiverVerdict = receiver.verdict;
  }
  return summary;
}

