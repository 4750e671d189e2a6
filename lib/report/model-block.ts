// The cost model's block in the terminal table and its section in the HTML page: predicted beside
// measured receiver CPU per MB and ratio to copy, the crossover, and what the model could not
// measure. Nothing here computes a prediction; it only prints report.model.
import { ratioError } from '../experiment/model-report.js';
import type { CompareReport, ModelReport, ModelRow } from '../experiment/types.js';
import { escapeXml as esc } from './svg.js';
import { MAX_CHUNK_BYTES } from '../vocabulary.js';
import { bytesLabel } from './format.js';

const NA = 'n/a';

function fixed(value: number | null, digits = 0): string {
  return value === null ? NA : value.toFixed(digits);
}

function ratio(value: number | null): string {
  return value === null ? (NA) : `${value.toFixed(2)}x`;
}

function error(row: ModelRow): string {
  const e = ratioError(row);
  return e === null ? '' : `${e >= 0 ? '+' : ''}${(e * 100).toFixed(0)}%`;
}

function chunk(bytes: number | null): string {
  if (bytes === null) return `never up to ${chunk(MAX_CHUNK_BYTES)}`;
  return bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB` : `${bytes / 1024} KiB`;
}

/** One line per mode and outcome, naming the MTU/touch cases that share it. */
function crossoverLines(model: ModelReport): string[] {
  const groups = new Map<string, string[]>();
  for (const c of model.crossover) {
    const key = `${c.mode}: ${c.predictable ? chunk(c.chunkBytes) : 'cannot predict (terms missing)'}`;
    groups.set(key, [...(groups.get(key) ?? []), `${c.mtu} ${c.touch ? 'touch' : 'notouch'}`]);
  }
  return [...groups].map(([key, cases]) => `${key} (${cases.join(', ')})`);
}

function cells(row: ModelRow): string[] {
  return [
    String(row.mtu),
    row.touch ? 'touch' : 'notouch',
    row.chunkBytes === undefined ? row.mode : `${row.mode} (${bytesLabel(row.chunkBytes)} chunk)`,
    fixed(row.predictedUsPerMB),
    fixed(row.measuredUsPerMB),
    row.mode === 'copy' ? '—' : ratio(row.predictedRatio),
    row.mode === 'copy' ? '—' : ratio(row.measuredRatio),
    row.mode === 'copy' ? '—' : range(row),
    error(row),
  ];
}

function range(row: ModelRow): string {
  const s = row.measuredSpread;
  return s ? `${s.min.toFixed(2)}–${s.max.toFixed(2)}x (${s.pairs})` : NA;
}

const HEADER = ['MTU', 'data', 'mode', 'pred µs/MB', 'meas µs/MB', 'pred ÷copy', 'meas ÷copy', 'meas min–max (pairs)', 'pred/meas−1'];

const SIDE_HEADER = ['MTU', 'data', 'mode', 'pred ÷copy', 'meas ÷copy', 'meas min–max (pairs)', 'pred/meas−1'];

/** The receiver-side rows (rows with receiverSide), as cells. */
function sideCells(model: ModelReport): string[][] {
  return model.rows.flatMap((row) => {
    const side = row.receiverSide;
    if (!side) return [];
    const e = side.predictedRatio / side.measuredRatio - 1;
    const s = side.measuredSpread;
    return [[String(row.mtu), row.touch ? 'touch' : 'notouch', row.mode, ratio(side.predictedRatio), ratio(side.measuredRatio), `${s.min.toFixed(2)}–${s.max.toFixed(2)}x (${s.pairs})`, `${e >= 0 ? '+' : ''}${(e * 100).toFixed(0)}%`]];
  });
}

/** What the receiver-side table is, in one sentence (terminal and HTML). */
function sideCaption(model: ModelReport): string {
  const floors = (model.receiverSideFloor ?? []).map((f) => `${f.mtu}: ${f.usPerMB.toFixed(0)} µs/MB`).join(', ');
  return `On the receiver's CPUs (/proc/stat, softirq included: the receiving host's bill, as the paper measured): predicted ÷copy = (D + mode − F) ÷ (D + copy − F), with D this compare's discard floor there (${floors}) for calibrate's floor F`;
}

/** A header and rows as indented lines: the first three columns (MTU, data, mode) left-aligned, figures right-aligned. */
function alignedLines(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `  ${r.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')}`.trimEnd();
  return [header, ...rows].map(line);
}

/** Terminal lines (no colour); empty when the report has no model. */
export function modelTableLines(report: CompareReport, wrap: (text: string, first: string, rest: string) => string[]): string[] {
  const model = report.model;
  if (!model) return [];
  const out = [
    ...wrap(`Cost model: predicted vs measured receiver-thread CPU per MB (${model.chunkBytes / 1024} KiB chunks, ${model.otherCpus} other CPU(s) running the process); measured ratios to copy are per repeat (median, min–max)`, '', '  '),
    ...alignedLines(HEADER, model.rows.map(cells)),
    ...wrap(`crossover (predicted): ${crossoverLines(model).join('; ')}`, '  ', '    '),
  ];
  const side = sideCells(model);
  if (side.length) out.push(...wrap(sideCaption(model), '  ', '    '), ...alignedLines(SIDE_HEADER, side));
  for (const m of model.missing) out.push(...wrap(`not measured: ${m}`, '  ', '    '));
  out.push(...wrap(`calibration: ${model.source}`, '  ', '    '), ...wrap(`host: ${model.host}`, '  ', '    '));
  return out;
}

/** One HTML section after a line break; empty when the report has no model (the page is then unchanged). */
export function modelHtmlSection(report: CompareReport): string {
  const model = report.model;
  if (!model) return '';
  const rows = model.rows.map((row) => `<tr>${cells(row).map((c, i) => `<td${i >= 3 ? ' class="n"' : ''}>${esc(c)}</td>`).join('')}</tr>`);
  const terms = model.terms.map(
    (t) => `<tr><td>${esc(t.term)}</td><td class="n">${t.perCallUs === null ? NA : t.perCallUs.toPrecision(3)}</td><td class="n">${t.perPageUs === null ? NA : t.perPageUs.toPrecision(3)}</td><td class="n">${t.perMBUs === null ? NA : t.perMBUs.toPrecision(3)}</td></tr>`,
  );
  const list = (items: string[]) => (items.length ? `<ul>\n${items.map((i) => `<li>${esc(i)}</li>`).join('\n')}\n</ul>` : '');
  return `\n<section id="model">
<h2>Cost model <small>predicted vs measured receiver-thread CPU per MB, ${model.chunkBytes / 1024} KiB chunks</small></h2>
<p class="lede">${esc(`Predicted from terms measured on this host (${model.source}); ${model.otherCpus} other CPU(s) assumed to run threads of the receiving process. ${model.host}`)}</p>
<div class="tablewrap"><table class="data"><thead><tr>${HEADER.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table></div>
${sideCells(model).length ? `<h3>On the receiver's CPUs</h3>
<p>${esc(sideCaption(model))}</p>
<div class="tablewrap"><table class="data"><thead><tr>${SIDE_HEADER.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>
<tbody>
${sideCells(model).map((r) => `<tr>${r.map((c, i) => `<td${i >= 3 ? ' class="n"' : ''}>${esc(c)}</td>`).join('')}</tr>`).join('\n')}
</tbody></table></div>` : ''}
<h3>Predicted crossover</h3>
${list(crossoverLines(model))}
<h3>Terms</h3>
<div class="tablewrap"><table class="data"><thead><tr><th>term</th><th>µs/call</th><th>µs/page</th><th>µs/MB</th></tr></thead>
<tbody>
${terms.join('\n')}
</tbody></table></div>
${model.missing.length ? `<h3>Not measured here</h3>\n${list(model.missing)}` : ''}
</section>`;
}
