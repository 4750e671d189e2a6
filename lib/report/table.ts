// The terminal report: one block per MTU shaped like the paper's Figures 1-2 (notouch and touch,
// a row per receive mode), then best-vs-best, the verdict, how it was measured, and warnings.
import type { BestEntry, CompareReport, PointSummary } from '../experiment/types.js';
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
  type RowNote,
} from './format.js';

export interface TableOptions {
  /** ANSI colour; the CLI passes process.stdout.isTTY. Off means no escape codes at all. */
  color?: boolean;
  /** Terminal width (default 100, clamped to 60-120): prose wraps to it, wide tables shed min–max columns or split. */
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
  { group: 'CPU-µs', head: 'per MB', right: true, cell: (p) => sig3(p.usPerMB.median) },
  { group: 'efficiency', head: 'median', right: true, cell: (p, _n, paint) => paint('bold', sig3(p.efficiency.median)) },
  { group: 'efficiency', head: 'min–max', right: true, drop: 2, cell: (p, _n, paint) => paint('dim', range(p.efficiency, sig3)) },
  { group: 'mapped', head: '%', right: true, cell: (p) => pct1(p.mappedPercent) },
  // Copy rows are the baseline (—); any other null means there was no copy point (n/a).
  { group: 'ratio to copy', head: 'Gbit/s', right: true, cell: (p, _n, paint) => ratio(p.vsCopy?.gbps, true, paint, p.mode === 'copy') },
  { group: 'ratio to copy', head: 'µs/MB', right: true, cell: (p, _n, paint) => ratio(p.vsCopy?.usPerMB, false, paint, p.mode === 'copy') },
  { group: 'ratio to copy', head: 'eff', right: true, cell: (p, _n, paint) => ratio(p.vsCopy?.efficiency, true, paint, p.mode === 'copy') },
];

/** The per-MTU block; min–max columns go (CPU first) until it fits the terminal width. */
function mainBlock(report: CompareReport, mtu: number, notes: RowNote[], width: number, paint: Paint): { lines: string[]; hidden: string[] } {
  let columns = MAIN_COLUMNS;
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
      const hidden = MAIN_COLUMNS.filter((c) => !columns.includes(c)).map((c) => `${c.group} ${c.head}`);
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

function bestBlock(report: CompareReport, paint: Paint): string[] {
  if (report.summary.best.length === 0) return [];
  const side = (group: string): Column[] => [
    { group, head: 'mode' },
    { group, head: 'sender' },
    { group, head: 'eff', right: true },
    { group, head: 'Gbit/s', right: true },
  ];
  const columns: Column[] = [
    { head: 'MTU', right: true },
    { head: 'data' },
    ...side('best page-moving'),
    ...side('best copy'),
    { group: 'moving ÷ copy', head: 'eff', right: true },
  ];
  const cells = (e: BestEntry | null) => (e ? [e.mode, e.sender, sig3(e.efficiency), sig3(e.gbps)] : [NA, '', NA, NA]);
  const rows = report.summary.best.map((b) => [
    String(b.mtu),
    touchLabel(b.touch),
    ...cells(b.moving),
    ...cells(b.copying),
    b.ratio === null ? NA : paint('bold', ratio(b.ratio, true, paint, false)),
  ]);
  return [paint('bold', 'Best page-moving vs best copy setup (efficiency = Mbit/s ÷ CPU %)'), ...align(columns, rows, paint)];
}

export function renderTable(report: CompareReport, options: TableOptions = {}): string {
  const paint = painter(options.color ?? false);
  // Prose wraps at the terminal width, but never narrower than 60 or wider than 120 columns.
  const asked = options.width !== undefined && Number.isFinite(options.width) ? options.width : 100;
  const width = Math.min(120, Math.max(60, Math.floor(asked)));
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
      out.push(paint('dim', `  (hidden to fit ${width} columns: ${block.hidden.join(', ')}; see --json or --csv)`));
    }
    if (events.length > 0) out.push(...perfBlock(report, mtu, events, width, paint));
  }

  const legend =
    "efficiency = Mbit/s ÷ CPU % (the paper's figure of merit). Ratio to copy = this row's median ÷ the copy row's " +
    'median at the same MTU, data and sender; — = the copy row itself, n/a = no copy point to compare with.';
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

  const best = bestBlock(report, paint);
  if (best.length > 0) out.push('', ...best);
  if (report.summary.verdict) out.push('', paint('bold', 'Verdict'), ...wrap(report.summary.verdict, width, '  '));
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
