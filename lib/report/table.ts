// The terminal report: one block per MTU shaped like the paper's Figures 1-2 (notouch and touch,
// a row per receive mode), then best-vs-best, the verdict, how it was measured, and warnings.
import type { BestEntry, CompareReport, PointSummary } from '../experiment/types.js';
import { modelTableLines } from './model-block.js';
import {
  NA,
  blockPoints,
  configLine,
  hostLine,
  rowKeys,
  mtuOrder,
  notesFor,
  payloadBytes,
  pct1,
  perfEvents,
  perfUnavailable,
  pointAt,
  ratioTone,
  rowNotes,
  sig3,
  touchLabel,
  touchOrder,
  when,
  layoutPairs,
  flowPairs,
  bytesLabel,
  chunkLabel,
  pmdRows,
  tlbUnavailable,
  rowCompare,
  rowLabel,
  runsOf,
  type RowNote,
} from './format.js';
import { spread } from '../experiment/stats.js';

/** The widest the table grows: every column, receiver side included, fits. */
const MAX_WIDTH = 160;

export interface TableOptions {
  /** ANSI colour; the CLI passes process.stdout.isTTY. Off means no escape codes at all. */
  color?: boolean;
  /** Terminal width (default 100, clamped to 60-160): prose wraps to it, wide tables shed min–max columns or split. */
  width?: number;
}

type Style = 'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan';
const SGR: Record<Style, string> = { bold: '1', dim: '2', red: '31', green: '32', yellow: '33', cyan: '36' };
const ANSI = /\x1b\[[0-9;]*m/g;

type Paint = (style: Style, text: string) => string;

function painter(color: boolean): Paint {
  return color ? (style, text) => (text ? `\x1b[${SGR[style]}m${text}\x1b[0m` : text) : (_style, text) => text;
}

function visible(text: string): number {
  return text.replace(ANSI, '').length;
}

interface Column {
  /** Consecutive columns with the same group share one label centred above them. */
  group?: string;
  head: string;
  right?: boolean;
}

/** A row of cells, or a section label (e.g. "  touch") printed as-is. */
type Row = string[] | string;

/** Align cells in columns two spaces apart, under optional group labels and a bold header. */
function align(columns: Column[], rows: Row[], paint: Paint): string[] {
  const widths = columns.map((c, i) => Math.max(visible(c.head), ...rows.map((r) => (typeof r === 'string' ? 0 : visible(r[i])))));
  const spans: Array<{ label: string; from: number; to: number }> = [];
  columns.forEach((c, i) => {
    const last = spans[spans.length - 1];
    if (c.group && last && last.label === c.group && last.to === i - 1) last.to = i;
    else if (c.group) spans.push({ label: c.group, from: i, to: i });
  });
  const spanWidth = (s: { from: number; to: number }) => widths.slice(s.from, s.to + 1).reduce((a, b) => a + b + 2, -2);
  // A group label wider than its columns widens the last of them.
  for (const s of spans) widths[s.to] += Math.max(0, s.label.length - spanWidth(s));
  const indent = '  ';
  const pad = (text: string, i: number) => {
    const fill = ' '.repeat(widths[i] - visible(text));
    return columns[i].right ? fill + text : text + fill;
  };
  const line = (cells: string[]) => (indent + cells.map(pad).join('  ')).trimEnd();
  const out: string[] = [];
  if (spans.length > 0) {
    let text = '';
    for (const s of spans) {
      const start = indent.length + widths.slice(0, s.from).reduce((a, b) => a + b + 2, 0);
      text = text.padEnd(start + Math.floor((spanWidth(s) - s.label.length) / 2)) + s.label;
    }
    out.push(paint('dim', text));
  }
  out.push(paint('bold', line(columns.map((c) => c.head))));
  for (const r of rows) out.push(typeof r === 'string' ? r : line(r));
  return out;
}

function tableWidth(lines: string[]): number {
  return Math.max(...lines.map(visible));
}

/** Greedy word wrap; `first` prefixes line one, `rest` every other line. */
export function wrap(text: string, width: number, first = '', rest = first): string[] {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (!empty && visible(line) + 1 + word.length > width) {
      lines.push(line);
      line = rest + word;
    } else {
      line += (empty ? '' : ' ') + word;
    }
    empty = false;
  }
  lines.push(line);
  return lines;
}

function range(s: { min: number; max: number }, f: (v: number) => string): string {
  const lo = f(s.min);
  const hi = f(s.max);
  return lo === hi ? '' : `${lo}–${hi}`;
}

/** Ratio to copy, green when the mode beats copy on that measure, red when it loses. */
function ratio(value: number | undefined, higherIsBetter: boolean, paint: Paint, baseline: boolean): string {
  if (value === undefined) return baseline ? '—' : NA;
  const text = sig3(value);
  const tone = ratioTone(value, higherIsBetter);
  return tone === null ? text : paint(tone === 'better' ? 'green' : 'red', text);
}

interface MainColumn extends Column {
  cell: (p: PointSummary, notes: RowNote[], paint: Paint) => string;
  /** Dropped (lowest first) when the table is wider than the terminal. */
  drop?: number;
  /** Receiver-side figures: shown when the report has them (reports saved before them do not). */
  receiverSide?: boolean;
}

const MAIN_COLUMNS: MainColumn[] = [
  {
    head: 'mode',
    cell: (p, notes, paint) => {
      const marks = notesFor(notes, p).map((m) => `[${m}]`);
      return marks.length ? `${p.mode} ${paint('yellow', marks.join(''))}` : p.mode;
    },
  },
  { head: 'sender', cell: (p) => p.sender },
  { group: 'Gbit/s', head: 'median', right: true, cell: (p) => sig3(p.gbps.median) },
  { group: 'Gbit/s', head: 'min–max', right: true, drop: 3, cell: (p, _n, paint) => paint('dim', range(p.gbps, sig3)) },
  { group: 'CPU %', head: 'median', right: true, cell: (p) => pct1(p.cpuPercent.median) },
  { group: 'CPU %', head: 'min–max', right: true, drop: 1, cell: (p, _n, paint) => paint('dim', range(p.cpuPercent, pct1)) },
  { group: 'CPU-µs', head: 'per MB', right: true, drop: 6, cell: (p) => sig3(p.usPerMB.median) },
  { group: 'efficiency', head: 'median', right: true, cell: (p, _n, paint) => paint('bold', sig3(p.efficiency.median)) },
  { group: 'efficiency', head: 'min–max', right: true, drop: 2, cell: (p, _n, paint) => paint('dim', range(p.efficiency, sig3)) },
  // What a receiving host would see (its own CPUs only): the paper's measurement.
  { group: 'receiver side', head: 'CPU %', right: true, receiverSide: true, cell: (p, _n, paint) => (p.receiver ? pct1(p.receiver.cpuPercent.median) : paint('dim', NA)) },
  { group: 'receiver side', head: 'eff', right: true, receiverSide: true, cell: (p, _n, paint) => (p.receiver ? paint('bold', sig3(p.receiver.efficiency.median)) : paint('dim', NA)) },
  { group: 'mapped', head: '%', right: true, cell: (p) => pct1(p.mappedPercent) },
  // Copy rows are the baseline (—); any other null means there was no copy point (n/a).
  { group: 'ratio to copy', head: 'Gbit/s', right: true, drop: 5, cell: (p, _n, paint) => ratio(p.vsCopy?.gbps, true, paint, p.mode === 'copy') },
  { group: 'ratio to copy', head: 'µs/MB', right: true, drop: 4, cell: (p, _n, paint) => ratio(p.vsCopy?.usPerMB, false, paint, p.mode === 'copy') },
  { group: 'ratio to copy', head: 'eff', right: true, cell: (p, _n, paint) => ratio(p.vsCopy?.efficiency, true, paint, p.mode === 'copy') },
  { group: 'ratio to copy', head: 'rx eff', right: true, receiverSide: true, cell: (p, _n, paint) => ratio(p.receiver?.vsCopy ?? undefined, true, paint, p.mode === 'copy') },
];

/** The per-MTU block; min–max columns go (CPU first) until it fits the terminal width. */
function mainBlock(report: CompareReport, mtu: number, notes: RowNote[], width: number, paint: Paint): { lines: string[]; hidden: string[] } {
  const sided = report.summary.points.some((p) => p.receiver);
  const all = MAIN_COLUMNS.filter((c) => sided || !c.receiverSide);
  let columns = all;
  for (;;) {
    const rows: Row[] = [];
    for (const touch of touchOrder(report)) {
      const points = blockPoints(report, mtu, touch);
      rows.push(paint('bold', `  ${touchLabel(touch)}`));
      if (points.length === 0) rows.push(paint('dim', '    no runs'));
      for (const p of points) rows.push(columns.map((c) => c.cell(p, notes, paint)));
    }
    const lines = align(columns, rows, paint);
    const droppable = columns.filter((c) => c.drop !== undefined).sort((a, b) => (a.drop as number) - (b.drop as number));
    if (tableWidth(lines) <= width || droppable.length === 0) {
      const hidden = all.filter((c) => !columns.includes(c)).map((c) => `${c.group} ${c.head}`);
      return { lines, hidden };
    }
    columns = columns.filter((c) => c !== droppable[0]);
  }
}

/**
 * Perf counters per MB for one MTU, one row per event and a column per mode (event names are
 * long, modes are short); columns are split into several tables when they do not fit.
 */
function perfBlock(report: CompareReport, mtu: number, events: string[], width: number, paint: Paint): string[] {
  const touches = touchOrder(report);
  const keys = rowKeys(report, mtu); // one column per mode/sender seen at this MTU
  if (keys.length === 0) return [];
  const leadWidth = 2 + Math.max(...events.map((e) => e.length), 'perf event, per MB'.length);
  const groups: Array<typeof keys> = [[]];
  let used = leadWidth;
  for (const k of keys) {
    const w = 2 + Math.max(k.mode.length, k.sender.length, 6);
    const group = groups[groups.length - 1];
    if (group.length > 0 && used + w > width) {
      groups.push([k]);
      used = leadWidth + w;
    } else {
      group.push(k);
      used += w;
    }
  }
  const out: string[] = [];
  for (const group of groups) {
    const columns: Column[] = [{ head: 'perf event, per MB' }, ...group.map((k): Column => ({ group: k.mode, head: k.sender, right: true }))];
    const rows: Row[] = [];
    for (const touch of touches) {
      const points = group.map((k) => pointAt(report, mtu, touch, k));
      if (points.every((p) => p === undefined)) continue; // none of these modes ran with this data
      rows.push(paint('bold', `  ${touchLabel(touch)}`));
      for (const event of events) {
        const cells = points.map((p) => {
          if (!p) return ''; // no such row in this block
          // null (or absent) = the counter could not be read: n/a, never 0.
          const v = p.perfPerMB?.[event];
          return v === null || v === undefined ? paint('dim', NA) : sig3(v);
        });
        rows.push([event, ...cells]);
      }
    }
    out.push('', ...align(columns, rows, paint));
  }
  return out;
}

function bestBlock(
  report: CompareReport,
  paint: Paint,
  width: number,
  best: CompareReport['summary']['best'] = report.summary.best,
  title = 'Best page-moving vs copy (efficiency = Mbit/s ÷ CPU %; ratios: median of the per-repeat ratios)',
): string[] {
  if (best.length === 0) return [];
  const sender = best.find((b) => b.sameSender)?.sameSender?.sender ?? report.config.sender;
  const columns: Column[] = [
    { head: 'MTU', right: true },
    { head: 'data' },
    { group: `same sender (${sender})`, head: 'moving' },
    { group: `same sender (${sender})`, head: '÷ copy', right: true },
    { group: `same sender (${sender})`, head: 'min–max', right: true },
    { group: 'sender alone', head: `write ÷ ${sender}`, right: true },
    { group: 'across senders', head: 'moving' },
    { group: 'across senders', head: 'copy' },
    { group: 'across senders', head: 'ratio', right: true },
  ];
  const who = (e: BestEntry | null) => (e ? `${e.mode}←${e.sender}` : NA);
  const spreadText = (r: { min: number; max: number } | null | undefined) => (r ? paint('dim', range(r, sig3) || sig3(r.min)) : '');
  const rows = best.map((b) => [
    String(b.mtu),
    touchLabel(b.touch),
    b.sameSender?.moving ? b.sameSender.moving.mode : NA,
    b.sameSender?.ratio ? paint('bold', ratio(b.sameSender.ratio.median, true, paint, false)) : NA,
    spreadText(b.sameSender?.ratio),
    b.senderEffect ? sig3(b.senderEffect.ratio.median) : NA,
    who(b.moving),
    who(b.copying),
    b.ratio === null ? NA : ratio(b.ratio, true, paint, false),
  ]);
  return [...wrap(title, width).map((l) => paint('bold', l)), ...align(columns, rows, paint)];
}

/** The 2-flow points beside the same points with one flow: aggregate and per-flow figures. */
function flowsBlock(report: CompareReport, paint: Paint, width: number): string[] {
  const pairs = flowPairs(report);
  if (pairs.length === 0) return [];
  const columns: Column[] = [
    { head: 'MTU', right: true },
    { head: 'data' },
    { head: 'mode' },
    { head: 'flows', right: true },
    { group: 'Gbit/s', head: 'all', right: true },
    { group: 'Gbit/s', head: 'per flow', right: true },
    { group: 'receiver side', head: 'CPU %', right: true },
    { group: 'receiver side', head: 'eff', right: true },
    { head: 'box eff', right: true },
    { head: 'rx thread µs/MB', right: true },
    { head: 'tx thread µs/MB', right: true },
  ];
  const rows: Row[] = [];
  const row = (p: PointSummary) => {
    const runs = runsOf(report, p);
    const perFlow = runs.flatMap((r) => (r.flows ?? [{ mbps: r.mbps }]).map((f) => f.mbps / 1000));
    const thread = runs.map((r) => r.receiverThread?.usPerMB).filter((v): v is number => typeof v === 'number');
    const sender = runs.map((r) => r.senderThread?.usPerMB).filter((v): v is number => typeof v === 'number');
    rows.push([
      String(p.mtu), touchLabel(p.touch), p.mode, String(p.flows ?? 1), sig3(p.gbps.median), perFlow.length ? sig3(spread(perFlow).median) : NA,
      p.receiver ? pct1(p.receiver.cpuPercent.median) : NA, p.receiver ? sig3(p.receiver.efficiency.median) : NA, sig3(p.efficiency.median),
      thread.length ? sig3(spread(thread).median) : NA,
      sender.length ? sig3(spread(sender).median) : NA,
    ]);
  };
  for (const { flows, single } of pairs) {
    if (single) row(single);
    row(flows);
  }
  const title = 'Parallel flows: each flow its own connection, receive thread here and send thread in the sender (receiver threads share one address space)';
  return [...wrap(title, width).map((l) => paint('bold', l)), ...align(columns, rows, paint)];
}

/** Each mode's distance to the discard floor, one sentence per MTU and data, in table order. */
export function floorLines(report: CompareReport): string[] {
  const floor = report.summary.floor ?? [];
  const lines: string[] = [];
  const order = rowCompare(report);
  for (const mtu of mtuOrder(report)) {
    for (const touch of touchOrder(report)) {
      const here = floor.filter((f) => f.mtu === mtu && f.touch === touch).sort(order);
      if (!here.length) continue;
      const sided = here.every((f) => f.receiverUsPerMB !== null);
      const cost = (f: (typeof here)[number]) => `${rowLabel(report, f)} ${sig3(sided ? f.receiverUsPerMB! : f.usPerMB)}`;
      lines.push(`MTU ${mtu} ${touchLabel(touch)}: ${here.map(cost).join(', ')} ${sided ? 'receiver-side' : 'whole-box'} CPU-µs/MB above the floor${touch ? ' (reading every byte included)' : ''}`);
    }
  }
  return lines;
}

/** The in-process layout pair beside the same points with the sender in its own process. */
function layoutBlock(report: CompareReport, paint: Paint, width: number): string[] {
  const pairs = layoutPairs(report);
  if (pairs.length === 0) return [];
  const columns: Column[] = [
    { head: 'MTU', right: true },
    { head: 'data' },
    { head: 'mode' },
    { head: 'sender runs as' },
    { head: 'Gbit/s', right: true },
    { group: 'thread CPU-µs/MB', head: 'receiver', right: true },
    { group: 'thread CPU-µs/MB', head: 'sender', right: true },
    { group: 'efficiency', head: 'box', right: true },
    { group: 'efficiency', head: 'receiver', right: true },
  ];
  const rows: Row[] = [];
  const row = (p: PointSummary, label: string) => {
    const runs = runsOf(report, p);
    const thread = (pick: (r: (typeof runs)[number]) => number | undefined) => {
      const values = runs.map(pick).filter((v): v is number => typeof v === 'number');
      return values.length ? sig3(spread(values).median) : NA;
    };
    rows.push([String(p.mtu), touchLabel(p.touch), p.mode, label, sig3(p.gbps.median), thread((r) => r.receiverThread?.usPerMB), thread((r) => r.senderThread?.usPerMB), sig3(p.efficiency.median), p.receiver ? sig3(p.receiver.efficiency.median) : NA]);
  };
  for (const { threads, processes } of pairs) {
    if (processes) row(processes, 'own process');
    row(threads, 'thread of receiver');
  }
  const title = 'Sender layout: own process (like a second host) vs a thread sharing the receiver\'s address space';
  return [...wrap(title, width).map((l) => paint('bold', l)), ...align(columns, rows, paint)];
}

/** Flips of whole 2 MiB slots beside copy and zerocopy at that chunk and the run's own flip. */
function pmdBlock(report: CompareReport, paint: Paint, width: number): string[] {
  const rows = pmdRows(report);
  if (rows.length === 0) return [];
  const columns: Column[] = [
    { head: 'MTU', right: true },
    { head: 'data' },
    { head: 'mode' },
    { head: 'chunk', right: true },
    { head: 'Gbit/s', right: true },
    { group: 'receiver side CPU-µs/MB', head: 'median', right: true },
    { group: 'receiver side CPU-µs/MB', head: '÷ zerocopy', right: true },
    { group: 'receiver side CPU-µs/MB', head: 'min–max', right: true },
    { group: '÷ copy, same chunk', head: 'eff', right: true },
    { group: '÷ copy, same chunk', head: 'rx eff', right: true },
    { head: 'PMD share', right: true },
    { head: 'TLB flushes/MB', right: true },
  ];
  const cells: Row[] = rows.map((r) => {
    const p = r.point;
    return [
      String(p.mtu), touchLabel(p.touch), p.mode, bytesLabel(r.chunkBytes), sig3(p.gbps.median),
      r.receiverUsPerMB === null ? NA : sig3(r.receiverUsPerMB),
      r.vsZerocopy ? paint('bold', sig3(r.vsZerocopy.median)) : p.mode === 'zerocopy' ? '—' : NA,
      r.vsZerocopy ? paint('dim', range(r.vsZerocopy, sig3)) : '',
      ratio(p.vsCopy?.efficiency, true, paint, p.mode === 'copy'),
      ratio(p.receiver?.vsCopy ?? undefined, true, paint, p.mode === 'copy'),
      p.mode === 'flip' && typeof p.pmdShare === 'number' ? `${pct1(p.pmdShare * 100)}%` : p.mode === 'flip' ? NA : '',
      sig3(r.tlbFlushesPerMB),
    ];
  });
  const title = 'Page-table flips: flip with slots of whole 2 MiB (one PMD entry moved instead of 512 PTEs) beside copy and zerocopy at that chunk and the run\'s own flip';
  const legend = `÷ zerocopy: receiver-side CPU-µs/MB ÷ zerocopy's at the same MTU, data and chunk, median of the per-repeat ratios; PMD share: bytes moved by whole-slot mremaps (the page-table path's conditions met) ÷ bytes remapped${tlbUnavailable(report) ? `; ${tlbUnavailable(report)}` : ''}`;
  return [...wrap(title, width).map((l) => paint('bold', l)), ...align(columns, cells, paint), ...wrap(legend, width, '  ', '  ').map((l) => paint('dim', l))];
}

/** Receiver syscalls per MB (every kind) and KiB per receive call, per mode, MTU and data. */
function callsBlock(report: CompareReport, paint: Paint, width: number): string[] {
  const counted = report.summary.points.filter((p) => p.callsPerMB !== null);
  if (counted.length === 0) return [];
  const lines: string[] = [];
  for (const mtu of mtuOrder(report)) {
    for (const touch of touchOrder(report)) {
      const here = counted.filter((p) => p.mtu === mtu && p.touch === touch);
      if (here.length === 0) continue;
      const cells = here.map(
        (p) => `${chunkLabel(p)}←${p.sender} ${sig3(p.callsPerMB!)}${p.bytesPerReceive !== null ? ` (${sig3(p.bytesPerReceive / 1024)} KiB/receive)` : ''}`,
      );
      lines.push(...wrap(cells.join(', '), width, `  ${mtu} ${touchLabel(touch)}: `, '    '));
    }
  }
  return [paint('bold', 'Receiver calls per MB (receive, wait, mremap, mmap, madvise) and KiB per receive call'), ...lines];
}

export function renderTable(report: CompareReport, options: TableOptions = {}): string {
  const paint = painter(options.color ?? false);
  // Prose wraps at the terminal width, but never narrower than 60 or wider than MAX_WIDTH columns.
  const asked = options.width !== undefined && Number.isFinite(options.width) ? options.width : 100;
  const width = Math.min(MAX_WIDTH, Math.max(60, Math.floor(asked)));
  const notes = rowNotes(report);
  const events = report.config.perf ? perfEvents(report) : [];
  const out: string[] = [];

  out.push(paint('bold', `pageflip compare — ${report.host.hostname}, ${when(report)}`));
  out.push(...wrap(hostLine(report.host), width, 'host    ', '        '));
  if (report.remoteHost) out.push(...wrap(hostLine(report.remoteHost), width, 'remote  ', '        '));
  out.push(...wrap(configLine(report), width, 'run     ', '        '));

  for (const mtu of mtuOrder(report)) {
    out.push('', paint('cyan', paint('bold', `MTU ${mtu}`)) + paint('dim', `  (${payloadBytes(mtu)} B of payload per packet after IPv4+TCP+timestamp headers)`));
    const block = mainBlock(report, mtu, notes, width, paint);
    out.push(...block.lines);
    if (block.hidden.length > 0) {
      out.push(...wrap(`(hidden to fit ${width} columns: ${block.hidden.join(', ')}; see --json or --csv)`, width, '  ', '   ').map((l) => paint('dim', l)));
    }
    if (events.length > 0) out.push(...perfBlock(report, mtu, events, width, paint));
  }

  const legend =
    "efficiency = Mbit/s ÷ CPU % (the paper's figure of merit). Ratio to copy = the median over repeats of this row's " +
    'run ÷ the copy run of the same repeat, at the same MTU, data and sender (the verdict gives their min–max); ' +
    '— = the copy row itself, n/a = no copy point to compare with.';
  out.push('', ...wrap(legend, width).map((l) => paint('dim', l)));
  if (notes.length > 0) {
    out.push('', paint('bold', 'Notes'));
    for (const n of notes) out.push(...wrap(n.text, width, paint('yellow', `  [${n.index}] `), '      '));
  }
  const unavailable = perfUnavailable(report);
  if (report.config.perf && unavailable.length > 0) {
    out.push('', paint('bold', 'Perf counters shown as n/a (not 0: they could not be counted)'));
    for (const { reason, events: which } of unavailable) out.push(...wrap(`${which.join(', ')}: ${reason}`, width, '  ', '    '));
  }

  const layout = layoutBlock(report, paint, width);
  if (layout.length > 0) out.push('', ...layout);
  const flows = flowsBlock(report, paint, width);
  if (flows.length > 0) out.push('', ...flows);
  const pmd = pmdBlock(report, paint, width);
  if (pmd.length > 0) out.push('', ...pmd);
  const floor = floorLines(report);
  if (floor.length > 0) {
    out.push('', ...wrap('Above the floor: discard = recv(MSG_TRUNC), the kernel drops the bytes without copying or mapping them', width).map((l) => paint('bold', l)));
    for (const line of floor) out.push(...wrap(line, width, '  ', '    '));
  }
  const receiverBest = report.summary.receiverBest ? bestBlock(report, paint, width, report.summary.receiverBest, 'Best page-moving vs copy by receiver-host efficiency (Mbit/s ÷ receiver-side CPU %: the paper\'s measurement; ratios: median of the per-repeat ratios)') : [];
  if (receiverBest.length > 0) out.push('', ...receiverBest);
  const best = bestBlock(report, paint, width, report.summary.best, receiverBest.length ? 'The same by whole-box efficiency (Mbit/s ÷ CPU % of every core: sender included)' : undefined);
  if (best.length > 0) out.push('', ...best);
  const calls = callsBlock(report, paint, width);
  if (calls.length > 0) out.push('', ...calls);
  const model = modelTableLines(report, (text, first, rest) => wrap(text, width, first, rest));
  if (model.length > 0) out.push('', ...model);
  if (report.summary.receiverVerdict)
    out.push('', paint('bold', 'Verdict, receiver host (matches the paper\'s measurement: sar on the receiving machine)'), ...wrap(report.summary.receiverVerdict, width, '  '));
  if (report.summary.verdict)
    out.push('', paint('bold', report.summary.receiverVerdict ? 'Verdict, whole box (sender and receiver on one machine: not what the paper measured)' : 'Verdict'), ...wrap(report.summary.verdict, width, '  '));
  if (report.method.length > 0) {
    out.push('', paint('bold', 'Method'));
    for (const m of report.method) out.push(...wrap(m, width, '  - ', '    '));
  }
  if (report.warnings.length > 0) {
    out.push('', paint('bold', paint('yellow', 'Warnings')));
    for (const w of report.warnings) out.push(...wrap(w, width, paint('yellow', '  ! '), '    '));
  }
  return `${out.join('\n')}\n`;
}
