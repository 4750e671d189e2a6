// Hand-written SVG chart primitives for the HTML report: a grouped bar chart with min–max
// whiskers, a legend, axis labels and an optional reference line. Static markup only (no script),
// well-formed XML, every piece of text escaped, ids prefixed per chart so many charts can share
// one HTML page.

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface LegendItem {
  label: string;
  /** One swatch per colour (e.g. light = notouch, dark = touch); none for a text-only key. */
  colors: string[];
}

export interface BarCell {
  value: number;
  /** Whisker from min to max (e.g. over repeats); omitted = no whisker. */
  min?: number;
  max?: number;
  color: string;
  /** Tooltip and screen-reader text for this bar. */
  title: string;
}

export interface BarGroup {
  label: string;
  /** Second, smaller label line under the group (e.g. the sender). */
  sublabel?: string;
  /** One slot per series; null = no data for that slot. */
  cells: Array<BarCell | null>;
}

export interface BarChart {
  /** Unique within the page: prefixes the ids of <title>/<desc>. */
  id: string;
  title: string;
  description: string;
  yLabel: string;
  xLabel?: string;
  legend: LegendItem[];
  groups: BarGroup[];
  /** Bars grow from here (0, or 1 for ratio charts where bars show gain/loss vs parity). */
  baseline?: number;
  reference?: { value: number; label: string };
  format: (v: number) => string;
  /** Text drawn for a null cell; '' draws nothing. */
  missing?: string;
  width?: number;
  height?: number;
}

// Rough advance of the sans-serif glyphs at 1px font size; used only to lay out legends and to
// decide whether a value label fits over its bar, so being a little generous is fine.
const CHAR = 0.6;

function textWidth(text: string, size: number): number {
  return text.length * size * CHAR;
}

/** Tick labels with just the decimals the step needs (0, 2.5, 5 rather than 0.00, 2.50, 5.00). */
export function tickFormat(ticks: number[]): (v: number) => string {
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
  let decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  while (decimals < 6 && Math.abs(Number(step.toFixed(decimals)) - step) > step * 1e-6) decimals++;
  return (v) => v.toFixed(decimals);
}

/** Round-number axis ticks (1, 2, 2.5, 5 × 10^k) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo)) hi = lo + (lo === 0 ? 1 : Math.abs(lo) * 0.1);
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) as number;
  const first = Math.floor(lo / step + 1e-9) * step;
  const ticks: number[] = [];
  for (let v = first; v < hi + step - 1e-9 * step; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

const num = (v: number) => Number(v.toFixed(1)).toString();

export function barChart(chart: BarChart): string {
  const W = chart.width ?? 600;
  const H = chart.height ?? 340;
  const baseline = chart.baseline ?? 0;
  const series = Math.max(1, ...chart.groups.map((g) => g.cells.length));
  const values: number[] = [baseline];
  for (const g of chart.groups) {
    for (const c of g.cells) if (c) values.push(c.value, c.min ?? c.value, c.max ?? c.value);
  }
  if (chart.reference) values.push(chart.reference.value);
  const ticks = niceTicks(Math.min(...values), Math.max(...values));
  const lo = ticks[0];
  const hi = ticks[ticks.length - 1];

  // Legend rows first: the plot starts below them.
  const legendFont = 12;
  const left = 64;
  const right = 16;
  const legendRows: Array<Array<{ item: LegendItem; x: number }>> = [[]];
  let x = left;
  for (const item of chart.legend) {
    const w = item.colors.length * 16 + 4 + textWidth(item.label, legendFont) + 18;
    if (x + w > W - right && legendRows[legendRows.length - 1].length > 0) {
      legendRows.push([]);
      x = left;
    }
    legendRows[legendRows.length - 1].push({ item, x });
    x += w;
  }
  const top = 12 + (chart.legend.length ? legendRows.length * 20 : 0) + 14;
  const hasSub = chart.groups.some((g) => g.sublabel);
  const bottom = 24 + (hasSub ? 14 : 0) + (chart.xLabel ? 20 : 0);
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const y = (v: number) => top + plotH - ((v - lo) / (hi - lo)) * plotH;
  const groupW = plotW / Math.max(1, chart.groups.length);
  const barW = Math.min(48, (groupW * 0.8) / series);

  const out: string[] = [];
  out.push(
    `<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeXml(chart.title)}" ` +
      `aria-describedby="${chart.id}-desc" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif">`,
  );
  out.push(`<title id="${chart.id}-title">${escapeXml(chart.title)}</title>`);
  out.push(`<desc id="${chart.id}-desc">${escapeXml(chart.description)}</desc>`);

  // Legend.
  legendRows.forEach((row, r) => {
    for (const { item, x: lx } of row) {
      const ly = 12 + r * 20;
      item.colors.forEach((c, i) => out.push(`<rect x="${num(lx + i * 16)}" y="${ly}" width="14" height="14" rx="2" fill="${escapeXml(c)}"/>`));
      const tx = lx + item.colors.length * 16 + (item.colors.length ? 4 : 0);
      out.push(`<text x="${num(tx)}" y="${ly + 11.5}" font-size="${legendFont}" fill="#333">${escapeXml(item.label)}</text>`);
    }
  });

  // Grid, ticks and axis labels.
  const tick = tickFormat(ticks);
  for (const t of ticks) {
    const ty = num(y(t));
    out.push(`<line x1="${left}" x2="${W - right}" y1="${ty}" y2="${ty}" stroke="#e3e3e3" stroke-width="1"/>`);
    out.push(`<text x="${left - 8}" y="${ty}" dy="0.32em" text-anchor="end" font-size="11" fill="#555">${escapeXml(tick(t))}</text>`);
  }
  const midY = num(top + plotH / 2);
  out.push(
    `<text transform="translate(16 ${midY}) rotate(-90)" text-anchor="middle" font-size="12" fill="#333">${escapeXml(chart.yLabel)}</text>`,
  );
  if (chart.xLabel) {
    out.push(`<text x="${num(left + plotW / 2)}" y="${H - 6}" text-anchor="middle" font-size="12" fill="#333">${escapeXml(chart.xLabel)}</text>`);
  }

  // Bars, whiskers and value labels.
  chart.groups.forEach((g, gi) => {
    const gx = left + gi * groupW;
    const start = gx + (groupW - barW * series) / 2;
    g.cells.forEach((c, si) => {
      const bx = start + si * barW;
      const cx = bx + barW / 2;
      const yb = y(baseline);
      if (!c) {
        if (chart.missing) {
          out.push(`<text x="${num(cx)}" y="${num(yb - 4)}" text-anchor="middle" font-size="10" fill="#888">${escapeXml(chart.missing)}</text>`);
        }
        return;
      }
      const yv = y(c.value);
      const h = Math.max(Math.abs(yb - yv), 0.5); // a value at the baseline still shows a hairline
      out.push(`<g><title>${escapeXml(c.title)}</title>`);
      out.push(
        `<rect x="${num(bx + 1)}" y="${num(Math.min(yv, yb))}" width="${num(Math.max(barW - 2, 1))}" height="${num(h)}" fill="${escapeXml(c.color)}"/>`,
      );
      let labelY = c.value >= baseline ? Math.min(yv, yb) : Math.max(yv, yb);
      if (c.min !== undefined && c.max !== undefined && c.max > c.min) {
        const cap = Math.min(8, barW * 0.4);
        const y1 = num(y(c.max));
        const y2 = num(y(c.min));
        out.push(`<line x1="${num(cx)}" x2="${num(cx)}" y1="${y1}" y2="${y2}" stroke="#222" stroke-width="1.2"/>`);
        out.push(`<line x1="${num(cx - cap / 2)}" x2="${num(cx + cap / 2)}" y1="${y1}" y2="${y1}" stroke="#222" stroke-width="1.2"/>`);
        out.push(`<line x1="${num(cx - cap / 2)}" x2="${num(cx + cap / 2)}" y1="${y2}" y2="${y2}" stroke="#222" stroke-width="1.2"/>`);
        labelY = c.value >= baseline ? y(c.max) : y(c.min);
      }
      const label = escapeXml(chart.format(c.value));
      const fits = textWidth(chart.format(c.value), 10) <= barW + 2;
      if (c.value >= baseline) {
        out.push(
          fits
            ? `<text x="${num(cx)}" y="${num(labelY - 4)}" text-anchor="middle" font-size="10" fill="#222">${label}</text>`
            : `<text transform="translate(${num(cx)} ${num(labelY - 4)}) rotate(-90)" dy="0.32em" font-size="10" fill="#222">${label}</text>`,
        );
      } else {
        out.push(
          fits
            ? `<text x="${num(cx)}" y="${num(labelY + 12)}" text-anchor="middle" font-size="10" fill="#222">${label}</text>`
            : `<text transform="translate(${num(cx)} ${num(labelY + 4)}) rotate(-90)" dy="0.32em" text-anchor="end" font-size="10" fill="#222">${label}</text>`,
        );
      }
      out.push('</g>');
    });
    const lx = num(gx + groupW / 2);
    out.push(`<text x="${lx}" y="${num(top + plotH + 16)}" text-anchor="middle" font-size="11" fill="#222">${escapeXml(g.label)}</text>`);
    if (g.sublabel) {
      out.push(`<text x="${lx}" y="${num(top + plotH + 30)}" text-anchor="middle" font-size="10" fill="#666">${escapeXml(g.sublabel)}</text>`);
    }
  });

  // Axes last so they sit on top of the bars.
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${num(top + plotH)}" stroke="#444" stroke-width="1"/>`);
  out.push(`<line x1="${left}" x2="${W - right}" y1="${num(y(baseline))}" y2="${num(y(baseline))}" stroke="#444" stroke-width="1"/>`);
  if (chart.reference) {
    const ry = num(y(chart.reference.value));
    out.push(`<line x1="${left}" x2="${W - right}" y1="${ry}" y2="${ry}" stroke="#b00" stroke-width="1" stroke-dasharray="5 4"/>`);
    // Label at the left end, just above the line: bars rarely start right at the axis.
    out.push(`<text x="${left + 6}" y="${num(y(chart.reference.value) - 5)}" font-size="11" fill="#b00">${escapeXml(chart.reference.label)}</text>`);
  }
  out.push('</svg>');
  return out.join('\n');
}
