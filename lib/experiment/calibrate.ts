// `pageflip calibrate`: what one page move costs on this machine compared with copying, and from
// how many pages per call moving beats copying. Everything is measured natively on its own thread
// (native/calibrate.cc); this file only forwards the options and prints the result.
import { binding, type CalibrationOptions, type NativeCalibration, type PageOpFigure, type PageOpRow } from '../native.js';
import { CALIBRATION_SCHEMA, type CalibrationResult } from './calibration-file.js';
import { crossoverChunk, modelTerms, predict, termRows, type ModelTerms, type TermRow } from './model.js';
import { DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, MODEL_MODES, MOVING_MODES, PMD_BYTES } from '../vocabulary.js';
import { virtualizationInfo, type VirtualizationInfo } from './virtualization.js';

export type {
  CalibrationCrossover,
  CalibrationOptions,
  MemcpyFigure,
  MemcpyRow,
  PageOpFigure,
  PageOpRow,
} from '../native.js';
export type { CalibrationResult } from './calibration-file.js';

/** Below this share of a cell's wall time on its CPU, the second thread was often descheduled: say so. */
const BUSY_SHARE_WARNING = 0.9;

/**
 * Runs the whole calibration on a dedicated native thread: about 10 s by default (at most 15 s is the aim),
 * about 5 s with `quick`. Bad options reject with a TypeError/RangeError carrying an ERR_PAGEFLIP_* code.
 */
export async function runCalibration(options: CalibrationOptions = {}): Promise<CalibrationResult> {
  const result = await binding.calibrate(options);
  return { schema: CALIBRATION_SCHEMA, ...result, virtualization: virtualizationInfo() };
}

/** Three significant digits, never in exponent notation. */
function num(value: number): string {
  return value >= 1000 ? value.toFixed(0) : value.toPrecision(3);
}

function size(bytes: number): string {
  const MiB = 1024 * 1024;
  return bytes >= MiB && bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes / 1024} KiB`;
}

/** Right-aligned columns, two spaces apart, indented by two. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => `  ${cells.map((cell, i) => cell.padStart(widths[i])).join('  ')}`.trimEnd();
  return [line(header), ...rows.map(line)];
}

/** Word-wraps text to `width` columns; the first line starts with `first`, later ones with `rest`. */
function wrap(text: string, width: number, first: string, rest: string): string[] {
  const lines: string[] = [];
  let current = first;
  let words = 0; // on the current line
  for (const word of text.split(' ')) {
    if (words > 0 && current.length + 1 + word.length > width) {
      lines.push(current);
      current = rest;
      words = 0;
    }
    current += words++ > 0 ? ` ${word}` : word;
  }
  lines.push(current);
  return lines;
}

function ipis(figure: PageOpFigure | null): string {
  return figure?.tlbIpisPerCall == null ? 'n/a' : figure.tlbIpisPerCall.toFixed(2);
}

function share(figure: PageOpFigure | null): string {
  return figure?.secondThreadOnCpu === undefined ? 'n/a' : `${(figure.secondThreadOnCpu * 100).toFixed(0)}%`;
}

function pageOpTable(rows: PageOpRow[]): string[] {
  return table(
    ['pages', 'µs/call', 'µs/page', 'IPIs/call', '2nd thread: µs/call', 'µs/page', 'IPIs/call', 'on CPU', 'slowdown'],
    rows.map((row) => [
      String(row.pages),
      num(row.alone.usPerCall),
      num(row.alone.usPerPage),
      ipis(row.alone),
      row.secondThread ? num(row.secondThread.usPerCall) : 'n/a',
      row.secondThread ? num(row.secondThread.usPerPage) : 'n/a',
      ipis(row.secondThread),
      share(row.secondThread),
      row.slowdown === null ? 'n/a' : `${row.slowdown.toFixed(2)}x`,
    ]),
  );
}

/** One note when the second thread was often off its CPU: its IPIs were then partly spared. */
function busyWarning(result: CalibrationResult): string[] {
  const shares = [...result.mremap, ...result.madvise]
    .map((row) => row.secondThread?.secondThreadOnCpu)
    .filter((value): value is number => value !== undefined);
  const low = shares.filter((value) => value < BUSY_SHARE_WARNING);
  if (low.length === 0) return [];
  const pct = (value: number) => `${(value * 100).toFixed(0)}%`;
  return wrap(
    `note: in ${low.length} of ${shares.length} cells the second thread was on its CPU only ` +
      `${pct(Math.min(...low))}-${pct(Math.max(...low))} of the time ("on CPU"): something else ran there, so fewer ` +
      'flushes needed an IPI and those slowdowns (and the second-thread crossovers) are understated. Rerun on a quiet machine.',
    100,
    '',
    '  ',
  );
}

/** A readable terminal report: memcpy table, mremap and madvise tables, crossover lines, method. */
export function formatCalibration(result: CalibrationResult): string {
  const second = result.secondThreadCpu === null ? 'not measured (fewer than 2 usable CPUs)' : `on CPU ${result.secondThreadCpu}`;
  const out = [
    `pageflip calibrate: ${result.cpus} CPUs, ${result.pageSize}-byte pages, ${(result.elapsedMs / 1000).toFixed(1)} s`,
    `measured on CPU ${result.measureCpu}, second thread ${second}`,
    '',
    'memcpy (hot: same buffers every call; cold: source evicted from the caches first)',
    ...table(
      ['size', 'hot GB/s', 'cold GB/s', 'hot ns/page', 'cold ns/page'],
      result.memcpy.map((row) => [
        size(row.bytes),
        num(row.hot.gbPerSec),
        num(row.cold.gbPerSec),
        num(row.hot.nsPerPage),
        num(row.cold.nsPerPage),
      ]),
    ),
    '',
    `page moves: mremap(${result.mremapFlags}), alone and with a second thread busy on another CPU`,
    ...pageOpTable(result.mremap),
    '',
    'page drops: madvise(MADV_DONTNEED), alone and with a second thread busy on another CPU',
    ...pageOpTable(result.madvise),
    '',
    'crossover: smallest pages per mremap call at which a move costs less per page than memcpy of the same bytes',
  ];
  for (const c of result.crossover) {
    const label = `${c.copy} copy, ${c.mover === 'alone' ? 'mover alone' : 'with 2nd thread'}`.padEnd(28);
    const at = c.points.find((p) => p.pages === c.pages) ?? c.points[c.points.length - 1];
    const verdict = c.pages === null ? `never up to ${at.pages} pages` : `${c.pages} pages`;
    out.push(`  ${label}${verdict}  (at ${at.pages}: move ${num(at.moveUsPerPage)} vs copy ${num(at.copyUsPerPage)} µs/page)`);
  }
  const warning = busyWarning(result);
  if (warning.length) out.push('', ...warning);
  out.push('', ...formatPrediction(result));
  out.push('', 'method:');
  for (const line of result.method) out.push(...wrap(line, 100, '  - ', '    '));
  return out.join('\n');
}

/** One line: where moving starts to beat copying here, and what a single page costs either way. */
export function crossoverSummary(result: CalibrationResult): string {
  const cases = result.crossover.map(
    (c) => `${c.copy} copy${c.mover === 'alone' ? '' : ' + 2nd thread'}: ${c.pages === null ? 'never' : `${c.pages} pages`}`,
  );
  const one = result.mremap[0];
  // Every page count's size is among the memcpy sizes, so the one-page row exists.
  const page = result.memcpy.find((row) => row.bytes === one.pages * result.pageSize)!;
  const busy = one.secondThread ? `, ${num(one.secondThread.usPerCall)} µs with a 2nd thread` : '';
  return (
    `crossover (pages per mremap call from which moving beats memcpy): ${cases.join('; ')}. ` +
    `Moving one page costs ${num(one.alone.usPerCall)} µs alone${busy}; copying it ${num(page.hot.nsPerPage / 1000)} µs hot, ` +
    `${num(page.cold.nsPerPage / 1000)} µs cold.`
  );
}

/** The compare defaults the prediction is printed for. */
const PREDICTION_MTUS = [4148, 8244];
const PREDICTION_CHUNK = DEFAULT_CHUNK_BYTES;

/** A term's cost in the units it has. */
function cost(row: TermRow): string {
  const parts = [
    row.perMBUs === null ? null : `${num(row.perMBUs)} µs/MB`,
    row.perCallUs === null ? null : `${num(row.perCallUs)} µs/call`,
    row.perPageUs === null ? null : `${num(row.perPageUs)} µs/page`,
  ].filter((p) => p !== null);
  return parts.length ? parts.join(' + ') : 'not measured';
}

/** The model's terms (fitted per call + per page) and its prediction for compare's default runs. */
export function formatPrediction(result: CalibrationResult, terms: ModelTerms = modelTerms(result)): string[] {
  const pmdShootdown = terms.mremapPmd?.shootdownUs;
  const out = [
    'cost model terms (fitted: per call + per page; see README "The cost model")',
    // padEnd: left-aligned names (the table right-aligns every column).
    ...table(['term'.padEnd(36), 'cost'], termRows(terms).map((row) => [row.term.padEnd(36), cost(row)])),
    `  check (not in the equations): the floor's flow, copying: ${num(terms.flowCopyUsPerMB)} µs/MB`,
    ...(pmdShootdown == null ? [] : [`  a 2 MiB page-table move with +1 CPU: +${num(pmdShootdown)} µs/call`]),
    '',
    `predicted receiver CPU-µs per MB at ${PREDICTION_CHUNK / 1024} KiB chunks (× copy); other CPUs = CPUs running threads of the process`,
  ];
  const rows: string[][] = [];
  for (const mtu of PREDICTION_MTUS)
    for (const touch of [false, true])
      for (const otherCpus of [1, 0]) {
        const p = predict(terms, { mtu, chunkBytes: PREDICTION_CHUNK, touch, otherCpus });
        rows.push([
          String(mtu),
          touch ? 'touch' : 'notouch',
          String(otherCpus),
          ...p.map((x) => (x.usPerMB === null ? 'n/a' : `${num(x.usPerMB)}${x.ratio === null ? '' : ` (${x.ratio.toFixed(2)}x)`}`)),
        ]);
      }
  out.push(...table(['MTU', 'data', 'other CPUs', ...MODEL_MODES], rows));
  const pmd = (chunkBytes: number) => predict(terms, { mtu: 4148, chunkBytes, touch: false, otherCpus: terms.shootdown[1] ? 1 : 0 }, ['copy', 'zerocopy', 'flip']);
  const [, zc2, flip2] = pmd(PMD_BYTES);
  if (zc2.usPerMB !== null && flip2.usPerMB !== null)
    out.push(`  at 2 MiB chunks (flip moves page tables), 4148 notouch: flip ÷ zerocopy ${(flip2.usPerMB / zc2.usPerMB).toFixed(2)}x, flip ÷ copy ${flip2.ratio!.toFixed(2)}x`);
  out.push('', `predicted crossover (smallest chunk, 4 KiB to ${size(MAX_CHUNK_BYTES)}, from which the mode costs the receiver less than copy)`);
  for (const mode of MOVING_MODES)
    for (const touch of [false, true]) {
      const c = crossoverChunk(terms, mode, { mtu: 4148, touch, otherCpus: terms.shootdown[1] ? 1 : 0 });
      const at = !c.predictable ? 'cannot predict (terms missing)' : c.chunkBytes === null ? `never up to ${size(MAX_CHUNK_BYTES)}` : `from ${size(c.chunkBytes)} chunks`;
      out.push(`  ${mode.padEnd(9)} ${touch ? 'touch  ' : 'notouch'}  MTU 4148: ${at}`);
    }
  if (terms.missing.length) {
    out.push('', 'not measured here (predictions that need these are n/a):');
    for (const m of terms.missing) out.push(...wrap(m, 100, '  - ', '    '));
  }
  out.push('', ...wrap(`host: ${result.virtualization.summary}`, 100, '', '  '));
  return out;
}
