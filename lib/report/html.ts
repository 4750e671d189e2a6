// The HTML report: one self-contained page (inline CSS and SVG, no script, nothing fetched) that
// can be mailed or attached to a bug. Charts follow the paper's Figures 1-2: per MTU, bars per
// receive mode for notouch and touch, plus the paper's published efficiencies beside this run's.
import { MOVING } from '../vocabulary.js';
import type { CompareReport, HostInfo, PointSummary, RowMode } from '../experiment/types.js';
import {
  NA,
  blockPoints,
  bytesLabel,
  configLine,
  rowKeys,
  type RowKey,
  mtuOrder,
  notesFor,
  payloadBytes,
  pct1,
  perfEvents,
  perfUnavailable,
  pointAt,
  ratioTone,
  rowCompare,
  rowNotes,
  showsSender,
  sig3,
  touchLabel,
  touchOrder,
  when,
  type RowNote,
  pmdRows,
  tlbUnavailable,
} from './format.js';
import { modelHtmlSection } from './model-block.js';
import { barChart, escapeXml as esc, type BarCell, type BarGroup, type LegendItem } from './svg.js';

type Family = 'copy' | 'moving' | 'reference';

function family(mode: RowMode): Family {
  if (MOVING.has(mode)) return 'moving';
  return mode === 'node' || mode === 'discard' || mode.startsWith('iperf3') ? 'reference' : 'copy';
}

// Light = notouch, dark = touch; blue = copy receive, orange = page-moving, grey = reference rows.
const COLORS: Record<Family, { notouch: string; touch: string; name: string }> = {
  copy: { notouch: '#9cc3e6', touch: '#2b6cb0', name: 'copy receive' },
  moving: { notouch: '#f9c28b', touch: '#d2691e', name: 'page-moving receive' },
  reference: { notouch: '#cfcfcf', touch: '#707070', name: 'reference (node, iperf3, discard floor)' },
};

function color(mode: RowMode, touch: boolean): string {
  return COLORS[family(mode)][touch ? 'touch' : 'notouch'];
}

interface Metric {
  id: string;
  title: string;
  yLabel: (report: CompareReport) => string;
  pick: (p: PointSummary) => { median: number; min: number; max: number } | null | undefined;
  format: (v: number) => string;
  unit: string;
  /** Left out of reports whose points never have it (saved before it was measured). */
  optional?: boolean;
}

// The charts promised per MTU, in page order.
export const METRICS: Metric[] = [
  { id: 'gbps', title: 'Throughput', yLabel: () => 'throughput (Gbit/s)', pick: (p) => p.gbps, format: sig3, unit: 'Gbit/s' },
  {
    id: 'cpu',
    title: 'CPU utilisation',
    yLabel: (r) => `CPU (% of all ${r.host.cpus} cores)`,
    pick: (p) => p.cpuPercent,
    format: pct1,
    unit: '% CPU',
  },
  {
    id: 'efficiency',
    title: 'Efficiency',
    yLabel: () => 'efficiency (Mbit/s ÷ CPU %)',
    pick: (p) => p.efficiency,
    format: sig3,
    unit: 'Mbit/s per CPU %',
  },
  {
    // What sar on a receiving host would give: the paper's measurement.
    id: 'rx-efficiency',
    title: 'Receiver-host efficiency',
    yLabel: () => 'efficiency (Mbit/s ÷ receiver-side CPU %)', // the title says receiver host; the axis has room for this
    pick: (p) => p.receiver?.efficiency,
    format: sig3,
    unit: 'Mbit/s per receiver-side CPU %',
    optional: true,
  },
  {
    id: 'usmb',
    title: 'CPU cost per byte',
    yLabel: () => 'CPU-µs per MB (all cores)',
    pick: (p) => p.usPerMB,
    format: sig3,
    unit: 'CPU-µs/MB',
  },
];

function legendFor(report: CompareReport, keys: RowKey[]): LegendItem[] {
  const touches = touchOrder(report);
  const families = (['copy', 'moving', 'reference'] as Family[]).filter((f) => keys.some((k) => family(k.mode) === f));
  const items: LegendItem[] = families.map((f) => ({ label: COLORS[f].name, colors: touches.map((t) => COLORS[f][t ? 'touch' : 'notouch']) }));
  if (touches.length > 1) items.push({ label: 'light = notouch, dark = touch', colors: [] });
  else items.push({ label: `all ${touchLabel(touches[0] ?? false)}`, colors: [] });
  return items;
}

function groupLabel(report: CompareReport, key: RowKey, notes: RowNote[], mtu: number): { label: string; sublabel?: string } {
  const marks = touchOrder(report).flatMap((touch) => {
    const p = pointAt(report, mtu, touch, key);
    return p ? notesFor(notes, p) : [];
  });
  const parts: string[] = [];
  if (showsSender(report, key.sender)) parts.push(`${key.sender} tx`);
  if (marks.length) parts.push(`note ${marks.map((m) => `[${m}]`).join('')}`);
  return parts.length ? { label: key.mode, sublabel: parts.join(' ') } : { label: key.mode };
}

function metricChart(report: CompareReport, mtu: number, metric: Metric, notes: RowNote[]): string {
  const keys = rowKeys(report, mtu);
  const touches = touchOrder(report);
  const groups: BarGroup[] = keys.map((key) => ({
    ...groupLabel(report, key, notes, mtu),
    cells: touches.map((touch): BarCell | null => {
      const p = pointAt(report, mtu, touch, key);
      const s = p ? metric.pick(p) : null;
      if (!p || !s) return null;
      return {
        value: s.median,
        min: s.min,
        max: s.max,
        color: color(key.mode, touch),
        title: `${key.mode} (${key.sender} sender), ${touchLabel(touch)}, MTU ${mtu}: median ${metric.format(s.median)} ${metric.unit} (min ${metric.format(s.min)}, max ${metric.format(s.max)}, ${p.runs} runs)`,
      };
    }),
  }));
  const title = `${metric.title} at MTU ${mtu}`;
  return figure(
    barChart({
      id: `chart-${mtu}-${metric.id}`,
      title,
      description: `Median ${metric.unit} per receive mode for ${touches.map(touchLabel).join(' and ')}, whiskers from min to max over repeats.`,
      yLabel: metric.yLabel(report),
      xLabel: 'receive mode',
      legend: legendFor(report, keys),
      groups,
      format: metric.format,
      missing: 'no data',
    }),
    title,
  );
}

function figure(svg: string, title: string, caption = ''): string {
  const note = caption ? ` <span>${esc(caption)}</span>` : '';
  return `<figure>\n<figcaption><strong>${esc(title)}</strong>${note}</figcaption>\n${svg}\n</figure>`;
}

/** This run's efficiency of a mode at an MTU/touch with the common sender, and its ratio to copy:
 * receiver-host figures when the run has them (what the paper measured), else whole-box. */
function runEfficiency(report: CompareReport, mtu: number, touch: boolean, mode: RowMode) {
  const p = pointAt(report, mtu, touch, { mode, sender: report.config.sender });
  if (p?.receiver) return { efficiency: p.receiver.efficiency.median, ratio: mode === 'copy' ? null : p.receiver.vsCopy, measured: true };
  return { efficiency: p?.efficiency.median ?? null, ratio: p?.vsCopy?.efficiency ?? null, measured: p !== undefined };
}

/** Whether this report's paper comparison uses receiver-host efficiency. */
function receiverSided(report: CompareReport): boolean {
  return report.summary.points.some((p) => p.receiver);
}

function paperSection(report: CompareReport): string {
  if (report.paper.length === 0) return '';
  const mtus = [...new Set(report.paper.map((f) => f.mtu))].sort((a, b) => a - b);
  const ghz = [...new Set(report.paper.map((f) => f.cpuGHz))].sort((a, b) => a - b);
  const paperGrey = ['#c4c4c4', '#7a7a7a', '#4a4a4a'];
  const touches = [...touchOrder(report)].reverse(); // touch first: the paper's numbers are touch
  const series: Array<{ label: string; color: string; value: (mtu: number) => number | null }> = [
    ...ghz.map((g, i) => ({
      label: `paper ${g} GHz: flip ÷ copy`,
      color: paperGrey[Math.min(i, paperGrey.length - 1)],
      value: (mtu: number) => {
        const f = report.paper.find((x) => x.mtu === mtu && x.cpuGHz === g);
        return f ? f.flip / f.copy : null;
      },
    })),
    // The paper measured touched data only: only this run's touch bars stand beside its values.
    ...touches.filter((touch) => touch).flatMap((touch) =>
      (['flip', 'zerocopy'] as const).map((mode) => ({
        label: `this run: ${mode} ÷ copy, ${touchLabel(touch)}`,
        color: mode === 'flip' ? (touch ? '#2f7d4f' : '#9fd8b3') : touch ? '#d2691e' : '#f9c28b',
        value: (mtu: number) => runEfficiency(report, mtu, touch, mode).ratio,
      })),
    ),
  ];
  const groups: BarGroup[] = mtus.map((mtu) => ({
    label: `MTU ${mtu}`,
    sublabel: `${payloadBytes(mtu)} B payload`,
    cells: series.map((s) => {
      const v = s.value(mtu);
      return v === null ? null : { value: v, color: s.color, title: `${s.label}, MTU ${mtu}: ${sig3(v)}` };
    }),
  }));
  const chart = barChart({
    id: 'chart-paper-ratio',
    title: 'Page-moving ÷ copy efficiency: the 2004 paper vs this run',
    description:
      'Ratio of page-moving receive efficiency to copy receive efficiency (Mbit/s ÷ CPU %) at the paper MTUs. ' +
      'Bars above 1 mean page moving was more efficient than copying; below 1, less.',
    yLabel: 'efficiency ratio (page-moving ÷ copy)',
    legend: series.map((s) => ({ label: s.label, colors: [s.color] })),
    groups,
    baseline: 1,
    reference: { value: 1, label: 'parity with copy' },
    format: sig3,
    missing: NA,
    width: 600,
    height: 380,
  });

  const rows: string[] = [];
  for (const mtu of mtus) {
    for (const g of ghz) {
      const f = report.paper.find((x) => x.mtu === mtu && x.cpuGHz === g);
      if (!f) continue;
      rows.push(
        `<tr><td>paper, ${esc(String(g))} GHz</td><td class="n">${mtu}</td><td>touch</td>` +
          `<td class="n">${f.copy.toFixed(2)}</td><td class="n">${f.flip.toFixed(2)}</td><td class="n">—</td>` +
          `<td class="n">${sig3(f.flip / f.copy)}</td><td class="n">—</td></tr>`,
      );
    }
    for (const touch of touches) {
      const copy = runEfficiency(report, mtu, touch, 'copy');
      const dataLabel = touch ? touchLabel(touch) : `${touchLabel(touch)} (no paper figure)`;
      const flip = runEfficiency(report, mtu, touch, 'flip');
      const zc = runEfficiency(report, mtu, touch, 'zerocopy');
      if (!copy.measured && !flip.measured && !zc.measured) {
        rows.push(`<tr class="run"><td>this run</td><td class="n">${mtu}</td><td>${dataLabel}</td><td colspan="5" class="muted">not measured at this MTU</td></tr>`);
        continue;
      }
      rows.push(
        `<tr class="run"><td>this run</td><td class="n">${mtu}</td><td>${dataLabel}</td>` +
          `<td class="n">${sig3(copy.efficiency)}</td><td class="n">${sig3(flip.efficiency)}</td><td class="n">${sig3(zc.efficiency)}</td>` +
          `<td class="n">${sig3(flip.ratio)}</td><td class="n">${sig3(zc.ratio)}</td></tr>`,
      );
    }
  }
  const table =
    '<table class="data paper"><thead><tr><th rowspan="2">source</th><th rowspan="2">MTU</th><th rowspan="2">data</th>' +
    '<th colspan="3">efficiency (Mbit/s ÷ CPU %)</th><th colspan="2">ratio to copy</th></tr>' +
    '<tr><th>copy</th><th>flip</th><th>zerocopy</th><th>flip</th><th>zerocopy</th></tr></thead>\n<tbody>\n' +
    rows.join('\n') +
    '\n</tbody></table>';
  return `<section id="paper">
<h2>Against the 2004 paper</h2>
<p class="lede">The OLS 2004 paper (Figures 1-2: dual Pentium 4, Linux 2.6.4, a NIC that split headers from data) found a
page flip slightly <em>less</em> efficient than one copy. Absolute efficiencies from 2004 and from this machine differ by
orders of magnitude (other CPUs, loopback instead of a NIC), so the chart compares the ratio page-moving ÷ copy; the
table gives the raw numbers. ${receiverSided(report) ? "This run's efficiencies here are receiver-host figures (Mbit/s ÷ CPU % of the receiver's CPUs), as the paper measured them with sar on its receiving host." : "This run's efficiencies here are whole-box figures (the sender's CPU included), which the paper did not measure."} Here <code>flip</code> is zero-copy receive plus
mremap onto the caller's buffer (closest to the paper's flip_page_mapping), <code>zerocopy</code> reads the mapped pages
in place; both are compared with <code>copy</code> receive fed by the same sender (${esc(report.config.sender)}).
What differs from the paper:</p>
<ul class="caveats">
<li>The paper's values are for touched data only: the chart sets only this run's <em>touch</em> ratios beside them; the
table lists notouch as well, marked as having no paper figure.</li>
<li>${
    report.config.network === 'peer'
      ? 'Pages arrive from another host, as in the paper, but only a NIC that splits headers from page-sized payloads lets the kernel map them without a copy.'
      : 'On loopback no NIC places payloads in pages of their own: the kernel first copies the sender\'s data into fresh pages (the deferred copy of a MSG_ZEROCOPY sender), and only then can the receiver map or flip them, which is the paper\'s Appendix B "copy then flip" case, not its NIC case.'
  }</li>
<li>CPU % here is system-wide: it includes the ${report.config.network === 'peer' ? 'receiving host only (the sender is on the other host)' : 'sender on the same machine (its send path and, on loopback, the receive softirq it runs), where the paper measured the receiving host alone; the receiver-thread CPU per MB in the run list is the receiver-side figure'}.</li>
</ul>
<div class="pair">
${figure(chart, 'Page-moving ÷ copy efficiency', 'Above 1: moving pages beat copying. n/a: no such point in this run.')}
<div class="side"><div class="tablewrap">${table}</div>
<p class="muted">Paper: dual Pentium 4 at 1.8 and 2.4 GHz (the same machine, clock set by multiplier), Gigabit Ethernet, 2004.
This run: ${esc(report.host.cpuModel)}, ${report.host.cpus} CPUs, ${esc(report.config.network === 'peer' ? 'two hosts' : 'loopback')}.
Efficiency is the paper's "eff" (Mbit/s ÷ CPU %); this run's values are medians over repeats.</p></div>
</div>
</section>`;
}

/**
 * A ratio-to-copy cell, green/red by ratioTone. No value (undefined or null) is muted: — for the
 * copy row itself (`baseline`), else n/a. `strong` bolds a value, never the muted placeholder.
 */
function ratioCell(value: number | null | undefined, higherIsBetter: boolean, baseline: boolean, strong = false): string {
  if (value === undefined || value === null) return `<td class="n muted">${baseline ? '—' : NA}</td>`;
  const tone = ratioTone(value, higherIsBetter);
  return `<td class="n${strong ? ' strong' : ''}${tone === null ? '' : ` ${tone}`}">${sig3(value)}</td>`;
}

function range(s: { min: number; max: number }, f: (v: number) => string): string {
  return `${f(s.min)}–${f(s.max)}`;
}

function summaryTable(report: CompareReport, mtu: number, notes: RowNote[]): string {
  // Receiver-side columns when the report has them (reports saved before per-side CPU do not).
  const sided = receiverSided(report);
  const span = sided ? 16 : 13;
  const head =
    '<thead><tr><th rowspan="2">mode</th><th rowspan="2">sender</th><th colspan="2">Gbit/s</th><th colspan="2">CPU %</th>' +
    `<th rowspan="2">CPU-µs<br>per MB</th><th colspan="2">efficiency</th>${sided ? '<th colspan="2">receiver side</th>' : ''}<th rowspan="2">mapped<br>%</th><th colspan="${sided ? 4 : 3}">ratio to copy</th></tr>` +
    `<tr><th>median</th><th>min–max</th><th>median</th><th>min–max</th><th>median</th><th>min–max</th>${sided ? '<th>CPU %</th><th>eff</th>' : ''}<th>Gbit/s</th><th>µs/MB</th><th>eff</th>${sided ? '<th>rx eff</th>' : ''}</tr></thead>`;
  const body: string[] = [];
  for (const touch of touchOrder(report)) {
    body.push(`<tr class="section"><th colspan="${span}">${touchLabel(touch)}</th></tr>`);
    const points = blockPoints(report, mtu, touch);
    if (points.length === 0) body.push(`<tr><td colspan="${span}" class="muted">no runs</td></tr>`);
    for (const p of points) {
      const marks = notesFor(notes, p);
      const base = p.mode === 'copy';
      body.push(
        `<tr${marks.length ? ' class="noted"' : ''}><td>${esc(p.mode)}${marks.map((m) => ` <sup class="mark">[${m}]</sup>`).join('')}</td>` +
          `<td>${esc(p.sender)}</td><td class="n">${sig3(p.gbps.median)}</td><td class="n muted">${range(p.gbps, sig3)}</td>` +
          `<td class="n">${pct1(p.cpuPercent.median)}</td><td class="n muted">${range(p.cpuPercent, pct1)}</td>` +
          `<td class="n">${sig3(p.usPerMB.median)}</td><td class="n strong">${sig3(p.efficiency.median)}</td>` +
          `<td class="n muted">${range(p.efficiency, sig3)}</td>` +
          (sided ? `<td class="n">${p.receiver ? pct1(p.receiver.cpuPercent.median) : NA}</td><td class="n strong">${p.receiver ? sig3(p.receiver.efficiency.median) : NA}</td>` : '') +
          `<td class="n">${pct1(p.mappedPercent)}</td>` +
          ratioCell(p.vsCopy?.gbps, true, base) +
          ratioCell(p.vsCopy?.usPerMB, false, base) +
          ratioCell(p.vsCopy?.efficiency, true, base) +
          (sided ? ratioCell(p.receiver?.vsCopy, true, base) : '') +
          '</tr>',
      );
    }
  }
  return `<h3>MTU ${mtu}</h3>\n<div class="tablewrap"><table class="data summary">${head}\n<tbody>\n${body.join('\n')}\n</tbody></table></div>`;
}

/** The page-table flip rows (format.ts pmdRows): 2 MiB slots beside zerocopy and copy at that chunk. */
function pmdSection(report: CompareReport): string {
  const rows = pmdRows(report);
  if (rows.length === 0) return '';
  const body = rows.map(({ point: p, chunkBytes, receiverUsPerMB, vsZerocopy, tlbFlushesPerMB }) => {
    const base = p.mode === 'copy';
    return (
      `<tr><td class="n">${p.mtu}</td><td>${touchLabel(p.touch)}</td><td>${esc(p.mode)}</td><td class="n">${bytesLabel(chunkBytes)}</td><td class="n">${sig3(p.gbps.median)}</td>` +
      `<td class="n">${receiverUsPerMB === null ? NA : sig3(receiverUsPerMB)}</td>` +
      (vsZerocopy ? `<td class="n strong">${sig3(vsZerocopy.median)}</td><td class="n muted">${range(vsZerocopy, sig3)}</td>` : `<td class="n muted">${p.mode === 'zerocopy' ? '—' : NA}</td><td></td>`) +
      ratioCell(p.vsCopy?.efficiency, true, base) +
      ratioCell(p.receiver?.vsCopy, true, base) +
      `<td class="n">${p.mode !== 'flip' ? '' : typeof p.pmdShare === 'number' ? `${pct1(p.pmdShare * 100)}%` : NA}</td>` +
      `<td class="n${tlbFlushesPerMB === null ? ' muted' : ''}">${sig3(tlbFlushesPerMB)}</td></tr>`
    );
  });
  const why = tlbUnavailable(report);
  return `<section id="pmd">
<h2>Page-table flips <small>flip with slots of whole 2 MiB: one PMD entry moved instead of 512 PTEs</small></h2>
<p class="lede">Copy, zerocopy and flip at the 2 MiB chunk beside the run's own flip. ÷ zerocopy: receiver-side CPU-µs/MB ÷ zerocopy's at the same MTU, data and chunk
(median of the per-repeat ratios, min–max). PMD share: bytes moved by whole-slot mremaps (the page-table path's conditions met) ÷ bytes remapped.${why ? ` ${esc(why)}.` : ''}</p>
<div class="tablewrap"><table class="data pmd"><thead><tr><th rowspan="2">MTU</th><th rowspan="2">data</th><th rowspan="2">mode</th><th rowspan="2">chunk</th><th rowspan="2">Gbit/s</th>` +
    `<th colspan="3">receiver side CPU-µs/MB</th><th colspan="2">÷ copy, same chunk</th><th rowspan="2">PMD share</th><th rowspan="2">TLB flushes<br>per MB</th></tr>` +
    `<tr><th>median</th><th>÷ zerocopy</th><th>min–max</th><th>eff</th><th>rx eff</th></tr></thead>
<tbody>
${body.join('\n')}
</tbody></table></div>
</section>`;
}

function perfTable(report: CompareReport, mtu: number, events: string[]): string {
  const keys = rowKeys(report, mtu);
  const head =
    `<thead><tr><th rowspan="2">perf event, per MB</th>${keys.map((k) => `<th>${esc(k.mode)}</th>`).join('')}</tr>` +
    `<tr>${keys.map((k) => `<th class="sub">${esc(k.sender)}</th>`).join('')}</tr></thead>`;
  const body: string[] = [];
  for (const touch of touchOrder(report)) {
    body.push(`<tr class="section"><th colspan="${keys.length + 1}">${touchLabel(touch)}</th></tr>`);
    for (const event of events) {
      const cells = keys.map((k) => {
        const p = pointAt(report, mtu, touch, k);
        if (!p) return '<td></td>';
        const v = p.perfPerMB?.[event];
        // Unavailable counters are n/a, never 0.
        return v === null || v === undefined ? `<td class="n muted">${NA}</td>` : `<td class="n">${sig3(v)}</td>`;
      });
      body.push(`<tr><td><code>${esc(event)}</code></td>${cells.join('')}</tr>`);
    }
  }
  return `<div class="tablewrap"><table class="data perf">${head}\n<tbody>\n${body.join('\n')}\n</tbody></table></div>`;
}

function bestSection(report: CompareReport, best = report.summary.best, heading = 'Best page-moving vs copy', id = 'best'): string {
  if (best.length === 0) return '';
  const entry = (e: (typeof report.summary.best)[number]['moving']) =>
    e
      ? `<td>${esc(e.mode)}${e.sender === 'iperf3' ? '' : ` <span class="muted">(${esc(e.sender)} sender)</span>`}</td><td class="n strong">${sig3(e.efficiency)}</td><td class="n">${sig3(e.gbps)}</td>`
      : `<td class="muted">${NA}</td><td class="n muted">${NA}</td><td class="n muted">${NA}</td>`;
  const sameRange = (r: { min: number; max: number } | null | undefined) => (r ? `<td class="n muted">${sig3(r.min)}–${sig3(r.max)}</td>` : `<td class="n muted">${NA}</td>`);
  const rows = best.map((b) => {
    const same = b.sameSender;
    return (
      `<tr><td class="n">${b.mtu}</td><td>${touchLabel(b.touch)}</td>` +
      `<td>${same?.moving ? esc(same.moving.mode) : NA}</td>${ratioCell(same?.ratio?.median ?? null, true, false, true)}${sameRange(same?.ratio)}` +
      `${ratioCell(b.senderEffect?.ratio.median ?? null, true, false)}` +
      `${entry(b.moving)}${entry(b.copying)}${ratioCell(b.ratio, true, false, true)}</tr>`
    );
  });
  return `<section id="${id}">
<h2>${esc(heading)}</h2>
<p class="lede">First with the same sender for both (the comparison that isolates the receive path), then the sender alone
(copy receive fed by write() ÷ fed by the page-moving sender: on loopback a MSG_ZEROCOPY sender pays a deferred copy),
then the best page-moving configuration beside the best copy configuration across senders (write sender + copy receive, iperf3),
which mixes both effects. Ratios are medians of the per-repeat ratios of efficiency.</p>
<div class="tablewrap"><table class="data best"><thead><tr><th rowspan="2">MTU</th><th rowspan="2">data</th><th colspan="3">same sender</th>` +
    `<th rowspan="2">sender alone<br>copy: write ÷ ${esc(report.config.sender)}</th>` +
    `<th colspan="3">best page-moving, any sender</th><th colspan="3">best copy, any sender</th><th rowspan="2">moving ÷ copy<br>efficiency</th></tr>` +
    `<tr><th>mode</th><th>÷ copy</th><th>min–max</th><th>mode</th><th>eff</th><th>Gbit/s</th><th>mode</th><th>eff</th><th>Gbit/s</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table></div>
</section>`;
}

function runsSection(report: CompareReport, events: string[]): string {
  const perfHead = events.map((e) => `<th><code>${esc(e)}</code><br>per MB</th>`).join('');
  const head =
    '<thead><tr><th>repeat</th><th>mode</th><th>MTU</th><th>data</th><th>sender</th><th>chunk</th><th>bytes</th><th>s</th><th>Gbit/s</th>' +
    '<th>CPU %</th><th>user</th><th>sys</th><th>irq</th><th>softirq</th><th>steal</th><th>CPU-µs/MB</th><th>eff</th>' +
    `<th>rx thread<br>µs/MB</th><th>tx thread<br>µs/MB</th><th>mapped %</th><th>verified</th><th>mismatches</th><th>syscalls</th>${perfHead}<th>note</th></tr></thead>`;
  const mtus = mtuOrder(report);
  const byRow = rowCompare(report);
  const runs = [...report.runs].sort(
    (a, b) => mtus.indexOf(a.mtu) - mtus.indexOf(b.mtu) || Number(a.touch) - Number(b.touch) || byRow(a, b) || a.repeat - b.repeat,
  );
  const rows = runs.map((r) => {
    const perf = events.map((e) => {
      const c = r.perf?.find((x) => x.event === e);
      return c && c.available && c.perMB !== null ? `<td class="n">${sig3(c.perMB)}</td>` : `<td class="n muted">${NA}</td>`;
    });
    return (
      `<tr${r.note ? ' class="noted"' : ''}><td class="n">${r.repeat}</td><td>${esc(r.mode)}</td><td class="n">${r.mtu}</td><td>${touchLabel(r.touch)}</td><td>${esc(r.sender)}</td>` +
      `<td class="n">${r.sender === 'iperf3' ? NA : bytesLabel(r.chunkBytes ?? report.config.chunkBytes)}</td><td class="n">${bytesLabel(r.bytes)}</td><td class="n">${sig3(r.seconds)}</td><td class="n">${sig3(r.gbps)}</td>` +
      `<td class="n">${pct1(r.cpu.percent)}</td><td class="n">${pct1(r.cpu.user)}</td><td class="n">${pct1(r.cpu.system)}</td><td class="n">${pct1(r.cpu.irq)}</td>` +
      `<td class="n">${pct1(r.cpu.softirq)}</td><td class="n">${pct1(r.cpu.steal)}</td><td class="n">${sig3(r.cpu.usPerMB)}</td><td class="n">${sig3(r.efficiency)}</td>` +
      `<td class="n">${sig3(r.receiverThread?.usPerMB)}</td><td class="n">${sig3(r.senderThread?.usPerMB)}</td><td class="n">${pct1(r.mappedPercent)}</td>` +
      `<td class="n">${bytesLabel(r.verifiedBytes)}</td><td class="n${r.mismatches > 0 ? ' worse' : ''}">${r.mismatches}</td><td class="n">${r.syscalls ?? NA}</td>` +
      `${perf.join('')}<td>${r.note ? esc(r.note) : ''}</td></tr>`
    );
  });
  return `<section id="runs">
<details>
<summary>All ${report.runs.length} runs</summary>
<div class="tablewrap"><table class="data runs">${head}
<tbody>
${rows.join('\n')}
</tbody></table></div>
</details>
</section>`;
}

function hostFacts(label: string, h: HostInfo): string {
  const facts: Array<[string, string]> = [
    [label, h.hostname],
    ['kernel', `Linux ${h.kernel} (${h.machine})`],
    ['CPU', `${h.cpuModel}${h.cpuMHz === null ? '' : `, ${Math.round(h.cpuMHz)} MHz`}, ${h.cpus} CPUs`],
    ['memory', `page size ${h.pageSize} B, THP ${h.thp ?? NA}`],
    ['software', `Node ${h.node}, pageflip ${h.pageflip}`],
  ];
  return facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('\n');
}

const CSS = `
:root { color-scheme: light; --ink: #1d2329; --muted: #69737d; --rule: #dde2e7; --band: #f4f6f8; --accent: #2b6cb0; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 28px 32px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 8px; padding-top: 8px; border-top: 2px solid var(--rule); }
h2 small, h3 small { font-weight: normal; color: var(--muted); font-size: 14px; }
h3 { font-size: 16px; margin: 20px 0 6px; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.sub { color: var(--muted); margin: 0 0 16px; }
.lede { max-width: 80ch; margin: 4px 0 12px; }
.caveats { max-width: 80ch; margin: 0 0 12px; padding-left: 20px; }
.muted { color: var(--muted); }
.tight { margin: 0 0 10px; font-size: 14px; }
header dl { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 2px 16px; margin: 0; padding: 12px 16px; background: var(--band); border-radius: 6px; font-size: 14px; }
header dt { color: var(--muted); }
header dd { margin: 0; }
.alert { margin: 12px 0 0; padding: 8px 12px; border-left: 4px solid #d69e2e; background: #fffaf0; font-size: 14px; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 20px 28px; }
.pair { display: grid; grid-template-columns: minmax(0, 1fr) auto; gap: 28px; align-items: start; }
.side { width: min-content; max-width: 100%; } /* as wide as its table; the note wraps under it */
figure { margin: 0; }
figcaption { font-size: 14px; margin-bottom: 4px; }
figcaption span { color: var(--muted); }
svg.chart { width: 100%; height: auto; display: block; }
.tablewrap { overflow-x: auto; }
table.data { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
table.data th, table.data td { padding: 3px 8px; border-bottom: 1px solid var(--rule); text-align: left; white-space: nowrap; }
table.data thead th { background: var(--band); font-weight: 600; vertical-align: bottom; text-align: center; }
table.data thead th.sub { font-weight: normal; color: var(--muted); }
table.data td.n { text-align: right; }
table.data tr.section th { text-align: left; background: #fff; padding-top: 10px; font-size: 13px; color: var(--accent); border-bottom: 1px solid var(--accent); }
table.data tr.noted td { background: #fffbea; }
table.data tr.run td { background: #f3f8fd; }
.strong { font-weight: 600; }
.better { color: #1e7b3c; }
.worse { color: #b42318; }
sup.mark { color: #a16207; font-weight: 600; }
ul.notes { padding-left: 0; list-style: none; font-size: 14px; }
ul.notes li { margin: 2px 0; }
.verdict { font-size: 16px; max-width: 85ch; padding: 12px 16px; background: var(--band); border-left: 4px solid var(--accent); border-radius: 0 6px 6px 0; }
ul.method li, ul.warnings li { margin: 3px 0; max-width: 100ch; }
ul.warnings li { color: #8a4b08; }
details summary { cursor: pointer; font-weight: 600; font-size: 16px; margin: 8px 0; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; }
@media (max-width: 900px) { .grid, .pair { grid-template-columns: 1fr; } header dl { grid-template-columns: max-content 1fr; } }
@media print { main { max-width: none; padding: 0; } details { display: none; } }
`;

export function renderHtml(report: CompareReport): string {
  const notes = rowNotes(report);
  const events = report.config.perf ? perfEvents(report) : [];
  const c = report.config;
  const length = c.seconds !== null ? `${sig3(c.seconds)} s per run` : c.bytes !== null ? `${bytesLabel(c.bytes)} per run` : 'default length';
  const config: Array<[string, string]> = [
    ['modes', c.modes.join(', ')],
    ['MTUs', c.mtus.join(', ')],
    ['data', c.touch.map(touchLabel).join(', ')],
    ['sender', c.sender],
    ['repeats', `${c.repeats} × ${length}, ${sig3(c.warmupSeconds)} s warm-up${c.quick ? ' (quick)' : ''}`],
    ['chunk', bytesLabel(c.chunkBytes)],
    ['CPU pinning', c.cpus ? `receiver CPU ${c.cpus.rx}, sender CPU ${c.cpus.tx}` : 'not pinned'],
    ['network', `${c.network}${c.peer ? `, peer ${c.peer}` : ''}`],
    ['perf', c.perf ? 'on' : 'off'],
  ];
  const title = `pageflip compare — ${report.host.hostname} — ${report.startedAt}`;

  const mtuSections = mtuOrder(report).map(
    (mtu) => `<section class="mtu" id="mtu-${mtu}">
<h2>MTU ${mtu} <small>${payloadBytes(mtu)} B of payload per packet after 52 B of IPv4+TCP+timestamp headers</small></h2>
<p class="muted tight">Bars: median over ${report.config.repeats} repeat${report.config.repeats === 1 ? '' : 's'}; whiskers: min–max. Hover a bar for its numbers.</p>
<div class="grid">
${METRICS.filter((m) => !m.optional || !report.summary.points.length || report.summary.points.some((p) => m.pick(p))).map((m) => metricChart(report, mtu, m, notes)).join('\n')}
</div>
</section>`,
  );

  const unavailable = perfUnavailable(report);
  const notesHtml = notes.length
    ? `<h3>Notes</h3>\n<ul class="notes">\n${notes.map((n) => `<li><sup class="mark">[${n.index}]</sup> ${esc(n.text)}</li>`).join('\n')}\n</ul>`
    : '';
  const perfHtml = events.length
    ? `<h2>Perf counters per MB <small>median over repeats</small></h2>\n${mtuOrder(report)
        .map((mtu) => `<h3>MTU ${mtu}</h3>\n${perfTable(report, mtu, events)}`)
        .join('\n')}` +
      (unavailable.length
        ? `\n<p class="muted">n/a = could not be counted (not zero): ${unavailable
            .map((u) => `${u.events.map((e) => `<code>${esc(e)}</code>`).join(', ')}: ${esc(u.reason)}`)
            .join('; ')}.</p>`
        : '')
    : '';

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="pageflip ${esc(report.host.pageflip)}">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>Page flip vs copy on ${esc(report.host.hostname)}</h1>
<p class="sub">pageflip compare, ${esc(when(report))} · ${esc(configLine(report))}</p>
<dl>
${hostFacts('host', report.host)}
${report.remoteHost ? hostFacts('remote host', report.remoteHost) : ''}
${config.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('\n')}
</dl>
${report.warnings.length ? `<p class="alert">${report.warnings.length} warning${report.warnings.length === 1 ? '' : 's'} about this run: see Warnings at the end of the page.</p>` : ''}
</header>
${mtuSections.join('\n')}
${paperSection(report)}
<section id="summary">
<h2>Summary <small>median and min–max over repeats; efficiency = Mbit/s ÷ CPU %</small></h2>
<p class="lede">Ratio to copy = the median over repeats of this row's run ÷ the <code>copy</code> run of the same repeat, at the same MTU, data and sender
(green: better than copy, red: worse; for µs/MB lower is better). — marks the copy row itself, n/a a row without a copy point.</p>
${mtuOrder(report).map((mtu) => summaryTable(report, mtu, notes)).join('\n')}
${notesHtml}
</section>
${pmdSection(report)}
${perfHtml}
${report.summary.receiverBest ? bestSection(report, report.summary.receiverBest, 'Best page-moving vs best copy setup, receiver-host efficiency (the paper\'s measurement)', 'best-receiver') : ''}
${bestSection(report, report.summary.best, report.summary.receiverBest ? 'Best page-moving vs best copy setup, whole-box efficiency (sender included)' : undefined)}${modelHtmlSection(report)}
<section id="verdict">
<h2>Verdict</h2>
${report.summary.receiverVerdict ? `<h3>Receiver host (Mbit/s ÷ receiver-side CPU %): matches the paper's measurement</h3>\n<p class="verdict">${esc(report.summary.receiverVerdict)}</p>\n<h3>Whole box (sender and receiver on one machine, not what the paper measured)</h3>` : ''}
<p class="verdict">${esc(report.summary.verdict)}</p>
</section>
<section id="method">
<h2>Method</h2>
<ul class="method">
${report.method.map((m) => `<li>${esc(m)}</li>`).join('\n')}
</ul>
${report.warnings.length ? `<h3 id="warnings">Warnings</h3>\n<ul class="warnings">\n${report.warnings.map((w) => `<li>${esc(w)}</li>`).join('\n')}\n</ul>` : ''}
</section>
${runsSection(report, events)}
<footer>Generated by pageflip ${esc(report.host.pageflip)} from a ${esc(report.schema)} report. Paper: J. A. Ronciak, J. Brandeburg, G. Venkatesan,
"Page-Flip Technology for use within the Linux Networking Stack", Ottawa Linux Symposium 2004.</footer>
</main>
</body>
</html>
`;
}
