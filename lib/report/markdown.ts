// Markdown export (like hyperfine's --export-markdown): per MTU and data, one table of the
// summary points with the same rows, order and digits as the terminal table, then the verdict.
import type { CompareReport, PointSummary } from '../experiment/types.js';
import { blockPoints, bytesLabel, configLine, hostLine, mtuOrder, NA, pct1, pmdRows, rowLabel, sig3, tlbUnavailable, touchLabel, touchOrder, when } from './format.js';

const HEADER = ['mode', 'Gbit/s (min–max)', 'CPU %', 'CPU-µs/MB', 'efficiency', 'mapped %', 'eff ÷ copy'];

/** Escapes what would end a table cell or start markup. */
function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function row(cells: string[]): string {
  return `| ${cells.map(cell).join(' | ')} |`;
}

function pointRow(report: CompareReport, p: PointSummary): string {
  return row([
    rowLabel(report, p),
    `${sig3(p.gbps.median)} (${sig3(p.gbps.min)}–${sig3(p.gbps.max)})`,
    pct1(p.cpuPercent.median),
    sig3(p.usPerMB.median),
    sig3(p.efficiency.median),
    pct1(p.mappedPercent),
    p.vsCopy ? sig3(p.vsCopy.efficiency) : p.mode === 'copy' ? '—' : NA, // — the copy row itself, as in the table
  ]);
}

export function renderMarkdown(report: CompareReport): string {
  const lines = [
    `# pageflip compare — ${report.host.hostname}, ${when(report)}`,
    '',
    `${hostLine(report.host)}  `,
    configLine(report),
  ];
  if (report.error) lines.push('', `**Cut short:** ${report.error}`);
  for (const mtu of mtuOrder(report)) {
    for (const touch of touchOrder(report)) {
      const points = blockPoints(report, mtu, touch);
      if (!points.length) continue;
      lines.push('', `## MTU ${mtu}, ${touchLabel(touch)}`, '', row(HEADER), `|${HEADER.map((_, i) => (i === 0 ? ':---' : '---:')).join('|')}|`);
      for (const p of points) lines.push(pointRow(report, p));
    }
  }
  const pmd = pmdRows(report);
  if (pmd.length) {
    const head = ['MTU', 'data', 'mode', 'chunk', 'Gbit/s', 'rx CPU-µs/MB', '÷ zerocopy', 'eff ÷ copy', 'PMD share', 'TLB flushes/MB'];
    lines.push('', '## Page-table flips (2 MiB slots)', '', row(head), `|${head.map((_, i) => (i < 3 ? ':---' : '---:')).join('|')}|`);
    for (const r of pmd) {
      const p = r.point;
      lines.push(row([String(p.mtu), touchLabel(p.touch), p.mode, bytesLabel(r.chunkBytes), sig3(p.gbps.median), sig3(r.receiverUsPerMB), r.vsZerocopy ? sig3(r.vsZerocopy.median) : p.mode === 'zerocopy' ? '—' : NA,
        p.vsCopy ? sig3(p.vsCopy.efficiency) : p.mode === 'copy' ? '—' : NA, p.mode !== 'flip' ? '' : typeof p.pmdShare === 'number' ? `${pct1(p.pmdShare * 100)}%` : NA, sig3(r.tlbFlushesPerMB)]));
    }
    const why = tlbUnavailable(report);
    if (why) lines.push('', why);
  }
  lines.push('', '## Verdict', '', report.summary.verdict);
  if (report.warnings.length) lines.push('', '## Warnings', '', ...report.warnings.map((w) => `- ${w}`));
  return `${lines.join('\n')}\n`;
}
