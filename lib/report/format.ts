// Number formatting and row ordering shared by the terminal table, the HTML page and the CSV
// header, so every view of one report shows the same rows in the same order with the same digits.
import type { CompareReport, HostInfo, PairedRatio, PointSummary, RowMode, RunResult, SendMode } from '../experiment/types.js';
import { LOOP_RECEIVE_MODES, PMD_BYTES, REFERENCE_MODES } from '../vocabulary.js';
import { mainPoints as mainOf, pairedRatio, TLB_FLUSH, variantChunk } from '../experiment/stats.js';

export const NA = 'n/a';

/** Rates and ratios: 3 significant digits without exponent for everyday magnitudes. */
export function sig3(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return NA;
  const abs = Math.abs(value);
  if (abs === 0) return '0';
  // Above 1000, 3 significant digits would need an exponent or fake zeros; show the integer
  // until it gets long, then an SI suffix (cycles per MB run into the millions).
  if (abs >= 1e6) return si(value);
  if (abs >= 1000) return Math.round(value).toString();
  if (abs < 0.001) return value.toExponential(2);
  return value.toPrecision(3);
}

function si(value: number): string {
  const units: Array<[number, string]> = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
  ];
  const [scale, unit] = units.find(([s]) => Math.abs(value) >= s) ?? units[units.length - 1];
  return `${(value / scale).toPrecision(3)}${unit}`;
}

/** Percentages: one decimal. */
export function pct1(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return NA;
  return value.toFixed(1);
}

/**
 * Ratio to copy: 'better' when the mode beats copy on that measure, 'worse' when it loses, null
 * when it is within rounding of parity (the terminal table paints, the HTML page sets a class).
 */
export function ratioTone(value: number, higherIsBetter: boolean): 'better' | 'worse' | null {
  if (Math.abs(value - 1) < 0.005) return null;
  return value > 1 === higherIsBetter ? 'better' : 'worse';
}

export function touchLabel(touch: boolean): string {
  return touch ? 'touch' : 'notouch';
}

export function bytesLabel(bytes: number): string {
  if (bytes >= 2 ** 30) return `${sig3(bytes / 2 ** 30)} GiB`;
  if (bytes >= 2 ** 20) return `${sig3(bytes / 2 ** 20)} MiB`;
  if (bytes >= 2 ** 10) return `${sig3(bytes / 2 ** 10)} KiB`;
  return `${bytes} B`;
}

const MODE_ORDER: readonly RowMode[] = [...LOOP_RECEIVE_MODES, ...REFERENCE_MODES];
const SENDER_ORDER: Array<SendMode | 'iperf3'> = ['zerocopy', 'write', 'splice', 'iperf3'];


function rank<T>(order: readonly T[], value: T): number {
  const i = order.indexOf(value);
  return i < 0 ? order.length : i;
}

/** Modes in config order, then any mode that only shows up in the data (never dropped silently). */
export function modeOrder(report: CompareReport): RowMode[] {
  const modes = [...report.config.modes];
  const extra = new Set<RowMode>();
  for (const p of report.summary.points) if (!modes.includes(p.mode)) extra.add(p.mode);
  for (const r of report.runs) if (!modes.includes(r.mode)) extra.add(r.mode);
  return [...modes, ...[...extra].sort((a, b) => rank(MODE_ORDER, a) - rank(MODE_ORDER, b))];
}

export function mtuOrder(report: CompareReport): number[] {
  const mtus = [...report.config.mtus];
  const extra = new Set<number>();
  for (const p of report.summary.points) if (!mtus.includes(p.mtu)) extra.add(p.mtu);
  for (const r of report.runs) if (!mtus.includes(r.mtu)) extra.add(r.mtu);
  return [...mtus, ...[...extra].sort((a, b) => a - b)];
}

/** Bytes of TCP payload per packet at an MTU: 52 B go to the IPv4, TCP and timestamp headers. */
export function payloadBytes(mtu: number): number {
  return mtu - 52;
}

/** notouch before touch, as in the paper's figures. */
export function touchOrder(report: CompareReport): boolean[] {
  const seen = new Set<boolean>(report.config.touch);
  for (const p of report.summary.points) seen.add(p.touch);
  return [false, true].filter((t) => seen.has(t));
}

/** Row identity across the notouch and touch blocks of one MTU. */
export interface RowKey {
  mode: RowMode;
  sender: SendMode | 'iperf3';
}

/**
 * Row order of every view (table blocks, perf columns, chart groups, the runs list): modes in
 * modeOrder, then the run's common sender first.
 */
export function rowCompare(report: CompareReport): (a: RowKey, b: RowKey) => number {
  const modes = modeOrder(report);
  return (a, b) => modes.indexOf(a.mode) - modes.indexOf(b.mode) || senderRank(report, a.sender) - senderRank(report, b.sender);
}

/** The summary points of one MTU/touch block: config mode order, the configured sender first. */
export function blockPoints(report: CompareReport, mtu: number, touch: boolean): PointSummary[] {
  return mainPoints(report).filter((p) => p.mtu === mtu && p.touch === touch).sort(rowCompare(report));
}

/** The points of the run's own layout; the in-process layout pair has its own block (layoutPairs). */
export function mainPoints(report: CompareReport): PointSummary[] {
  return mainOf(report.summary.points);
}

/** The 2-flow points of a default run, each with its 1-flow counterpart. */
export function flowPairs(report: CompareReport): Array<{ flows: PointSummary; single: PointSummary | undefined }> {
  const main = mainPoints(report);
  return report.summary.points
    .filter((p) => (p.flows ?? 1) > 1 && !main.includes(p))
    .map((flows) => ({ flows, single: main.find((p) => p.mode === flows.mode && p.mtu === flows.mtu && p.touch === flows.touch && p.sender === flows.sender) }));
}

/** The in-process layout points of a default run, each with its sender-process counterpart. */
export function layoutPairs(report: CompareReport): Array<{ threads: PointSummary; processes: PointSummary | undefined }> {
  const main = mainPoints(report);
  return report.summary.points
    .filter((p) => p.layout === 'threads' && !main.includes(p))
    .map((threads) => ({ threads, processes: mainPoints(report).find((p) => p.mode === threads.mode && p.mtu === threads.mtu && p.touch === threads.touch && p.sender === threads.sender) }));
}

/** Every mode/sender row of one MTU (notouch and touch together), in table order. */
export function rowKeys(report: CompareReport, mtu: number): RowKey[] {
  const keys = new Map<string, RowKey>();
  for (const p of mainPoints(report)) {
    if (p.mtu === mtu) keys.set(`${p.mode}\0${p.sender}`, { mode: p.mode, sender: p.sender });
  }
  return [...keys.values()].sort(rowCompare(report));
}

/** The summary point of one row at an MTU and data (touch/notouch), if it was measured. */
export function pointAt(report: CompareReport, mtu: number, touch: boolean, key: RowKey): PointSummary | undefined {
  return mainPoints(report).find((p) => p.mtu === mtu && p.touch === touch && p.mode === key.mode && p.sender === key.sender);
}

/** Whether a row names its sender: not when it is the run's common sender, nor iperf3 (its own). */
export function showsSender(report: CompareReport, sender: SendMode | 'iperf3'): boolean {
  return sender !== report.config.sender && sender !== 'iperf3';
}

/** Row label: the mode, plus the sender when it is not the run's common sender. */
export function rowLabel(report: CompareReport, p: RowKey): string {
  return showsSender(report, p.sender) ? `${p.mode} (${p.sender} tx)` : p.mode;
}

export function runsOf(report: CompareReport, p: PointSummary): RunResult[] {
  return report.runs.filter(
    (r) =>
      r.mode === p.mode && r.mtu === p.mtu && r.touch === p.touch && r.sender === p.sender && (r.layout === 'threads') === (p.layout === 'threads') && (r.flows?.length ?? 1) === (p.flows ?? 1) &&
      variantChunk(r, report.config.chunkBytes) === p.chunkBytes,
  );
}

/** A point's mode, with its chunk when that is not the run's (the 2 MiB rows): "flip (2 MiB chunk)". */
export function chunkLabel(p: { mode: RowMode; chunkBytes?: number }): string {
  return p.chunkBytes === undefined ? p.mode : `${p.mode} (${bytesLabel(p.chunkBytes)} chunk)`;
}

/**
 * The page-table flip view: at every MTU and data where a flip ran with slots of whole 2 MiB,
 * copy, zerocopy and flip at that chunk beside the run's own flip, with the PMD-path share,
 * TLB flushes per MB and receiver CPU per MB ÷ zerocopy's at the same chunk (paired by repeat).
 */
export interface PmdRow {
  point: PointSummary;
  chunkBytes: number;
  /** Receiver-side CPU-µs/MB median (null: no per-side CPU). */
  receiverUsPerMB: number | null;
  /** Receiver-side CPU-µs/MB ÷ zerocopy's at the same MTU, data and chunk, paired by repeat. */
  vsZerocopy: PairedRatio | null;
  tlbFlushesPerMB: number | null;
}

export function pmdRows(report: CompareReport): PmdRow[] {
  const chunkOf = (p: PointSummary) => p.chunkBytes ?? report.config.chunkBytes;
  const pmdFlip = (p: PointSummary) => p.mode === 'flip' && chunkOf(p) % PMD_BYTES === 0;
  const plain = report.summary.points.filter((p) => p.layout !== 'threads' && (p.flows ?? 1) === 1 && p.sender === report.config.sender);
  const cases = plain.filter(pmdFlip);
  const rows: PmdRow[] = [];
  const byMode = (a: PointSummary, b: PointSummary) => rank(PMD_MODES, a.mode) - rank(PMD_MODES, b.mode) || chunkOf(a) - chunkOf(b);
  for (const mtu of mtuOrder(report))
    for (const touch of touchOrder(report)) {
      const here = cases.filter((p) => p.mtu === mtu && p.touch === touch);
      if (!here.length) continue;
      const chunks = new Set(here.map(chunkOf));
      // Copy and zerocopy at the flip's chunk, and the run's own flip (page moves) for contrast.
      const shown = plain
        .filter((p) => p.mtu === mtu && p.touch === touch && PMD_MODES.includes(p.mode) && (chunks.has(chunkOf(p)) || (p.mode === 'flip' && p.chunkBytes === undefined)))
        .sort(byMode);
      for (const p of shown) {
        const zerocopy = plain.find((z) => z.mode === 'zerocopy' && z.mtu === mtu && z.touch === touch && chunkOf(z) === chunkOf(p));
        const receiverUs = (r: RunResult) => r.sides?.receiver.usPerMB ?? 0;
        rows.push({
          point: p,
          chunkBytes: chunkOf(p),
          receiverUsPerMB: p.receiver?.usPerMB.median ?? null,
          vsZerocopy: zerocopy && p.mode !== 'zerocopy' ? pairedRatio(runsOf(report, p), runsOf(report, zerocopy), receiverUs) : null,
          tlbFlushesPerMB: p.perfPerMB?.[TLB_FLUSH] ?? null,
        });
      }
    }
  return rows;
}

const PMD_MODES: readonly RowMode[] = ['copy', 'zerocopy', 'flip'];

/** Why a PMD row's TLB flushes are n/a: no --perf, or the tracepoint could not be counted. */
export function tlbUnavailable(report: CompareReport): string | null {
  if (!report.config.perf) return `TLB flushes per MB need --perf (the ${TLB_FLUSH} tracepoint)`;
  const reason = perfUnavailable(report).find((u) => u.events.includes(TLB_FLUSH))?.reason;
  return reason ? `${TLB_FLUSH}: ${reason}` : null;
}

/** Perf event names in first-seen order over the points, then the runs. */
export function perfEvents(report: CompareReport): string[] {
  const events = new Set<string>();
  for (const p of report.summary.points) for (const e of Object.keys(p.perfPerMB ?? {})) events.add(e);
  for (const r of report.runs) for (const c of r.perf ?? []) events.add(c.event);
  return [...events];
}

/** Unavailable perf events grouped by the reason given (first reason seen per event). */
export function perfUnavailable(report: CompareReport): Array<{ reason: string; events: string[] }> {
  const reasons = new Map<string, string>();
  for (const r of report.runs) {
    for (const c of r.perf ?? []) {
      if (!c.available && !reasons.has(c.event)) reasons.set(c.event, c.reason ?? 'no reason given');
    }
  }
  const groups = new Map<string, string[]>();
  for (const [event, reason] of reasons) groups.set(reason, [...(groups.get(reason) ?? []), event]);
  return [...groups].map(([reason, events]) => ({ reason, events }));
}

/** Sender order for rows: the run's common sender first. */
export function senderRank(report: CompareReport, sender: SendMode | 'iperf3'): number {
  return rank([report.config.sender, ...SENDER_ORDER.filter((s) => s !== report.config.sender)], sender);
}

export interface RowNote {
  /** 1-based footnote number. */
  index: number;
  point: PointSummary;
  text: string;
}

/**
 * Footnotes for rows: distinct run notes per point (with the repeats they came from) and
 * verification mismatches, which must never pass unnoticed in a touch run.
 */
export function rowNotes(report: CompareReport): RowNote[] {
  const notes: RowNote[] = [];
  for (const mtu of mtuOrder(report)) {
    for (const touch of touchOrder(report)) {
      for (const p of blockPoints(report, mtu, touch)) {
        const byText = new Map<string, number[]>();
        for (const r of runsOf(report, p)) {
          if (r.note === null) continue;
          const repeats = byText.get(r.note) ?? [];
          repeats.push(r.repeat);
          byText.set(r.note, repeats);
        }
        const where = `${rowLabel(report, p)}, MTU ${mtu}, ${touchLabel(touch)}`;
        for (const [text, repeats] of byText) {
          const which = repeats.length === 1 ? `repeat ${repeats[0]}` : `repeats ${repeats.join(', ')}`;
          notes.push({ index: notes.length + 1, point: p, text: `${where}, ${which}: ${text}` });
        }
        if (p.mismatches > 0) {
          notes.push({ index: notes.length + 1, point: p, text: `${where}: ${p.mismatches} mismatched bytes in verification` });
        }
      }
    }
  }
  return notes;
}

export function notesFor(notes: RowNote[], p: PointSummary): number[] {
  return notes.filter((n) => n.point === p).map((n) => n.index);
}

/** Human-readable one-line description of what was run. */
export function configLine(report: CompareReport): string {
  const c = report.config;
  const length = c.seconds !== null ? `${sig3(c.seconds)} s` : c.bytes !== null ? bytesLabel(c.bytes) : 'default length';
  const parts = [
    `sender ${c.sender}`,
    `${c.repeats} repeat${c.repeats === 1 ? '' : 's'} × ${length} (+${sig3(c.warmupSeconds)} s warm-up)`,
    `chunk ${bytesLabel(c.chunkBytes)}`,
    c.cpus ? `rx CPU ${c.cpus.rx}, tx CPU ${c.cpus.tx}` : 'unpinned',
    `network ${c.network}${c.peer ? ` (peer ${c.peer})` : ''}`,
    `perf ${c.perf ? 'on' : 'off'}`,
  ];
  if (c.quick) parts.push('quick');
  return parts.join(', ');
}

/** Start time in UTC and how long the whole comparison took. */
export function when(report: CompareReport): string {
  const start = Date.parse(report.startedAt);
  const end = Date.parse(report.finishedAt);
  if (Number.isNaN(start)) return report.startedAt;
  const stamp = new Date(start).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  if (Number.isNaN(end) || end < start) return stamp;
  const s = Math.round((end - start) / 1000);
  return `${stamp}, took ${s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`}`;
}

export function hostLine(h: HostInfo): string {
  const mhz = h.cpuMHz === null ? '' : ` (${Math.round(h.cpuMHz)} MHz)`;
  return `Linux ${h.kernel} ${h.machine}, ${h.cpuModel}${mhz}, ${h.cpus} CPUs, page ${h.pageSize} B, THP ${h.thp ?? NA}, Node ${h.node}, pageflip ${h.pageflip}`;
}
