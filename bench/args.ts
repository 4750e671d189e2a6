// Tiny flag reader shared by the benches (`--name value` and `--flag`), and their number and
// column formatting.
import { spread } from '../lib/experiment/stats.js';

export function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

export function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} needs a positive number`);
  return value;
}

export function median(values: number[]): number {
  return spread(values).median;
}

export interface ColumnOptions {
  /** Indexes of the text (left-aligned) columns; the others are numbers. Default: the first. */
  left?: number[];
  /** A dash rule under the header. */
  rule?: boolean;
  /** Trailing spaces cut from every line (a blank last cell leaves none). */
  trim?: boolean;
}

/** Columns two spaces apart under a header: text columns left-aligned, numbers right-aligned. */
export function columns(header: string[], rows: string[][], { left = [0], rule = false, trim = false }: ColumnOptions = {}): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => {
    const text = cells.map((c, i) => (left.includes(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    return trim ? text.trimEnd() : text;
  };
  return [line(header), ...(rule ? [widths.map((w) => '-'.repeat(w)).join('  ')] : []), ...rows.map(line)].join('\n');
}

export function fixed(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}
