// README's figures come from one saved run, bench/results/quick.json, and from nowhere else: the
// text between `<!-- figures:NAME -->` and `<!-- /figures:NAME -->` is generated here from that file.
//   node --import=tsx bench/readme-figures.ts          check (exit 1 on a mismatch)
//   node --import=tsx bench/readme-figures.ts --write  rewrite the regions
// While bench/results/PENDING exists (the saved results predate the current code and wait for
// `npm run results` on a quiet machine), the regions must say exactly that instead of any figure.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pairedRatio, receiverJudgement } from '../lib/experiment/stats.js';
import type { BestRow, CompareReport, PairedRatio, RunResult, VerdictCase } from '../lib/experiment/types.js';
import { parseReport } from '../lib/report/json.js';
import { renderTable } from '../lib/report/table.js';

export const REGIONS = ['quick-output', 'quick-summary'] as const;
export type RegionName = (typeof REGIONS)[number];

const root = fileURLToPath(new URL('..', import.meta.url));
export const README = join(root, 'README.md');
export const QUICK_JSON = join(root, 'bench', 'results', 'quick.json');
export const PENDING = join(root, 'bench', 'results', 'PENDING');

const PENDING_TEXT =
  '_Figures pending: the saved results in `bench/results/` predate the current measurement code and are ' +
  'regenerated with `npm run results` on a quiet machine; this paragraph is then generated from `bench/results/quick.json`._';

/** The terminal output of the run, shortened: header, the first MTU block, then best-vs-copy, calls and the verdict. */
function outputExcerpt(report: CompareReport): string {
  const text = renderTable(report, { width: 100 }).trimEnd();
  const blocks = text.split('\n\n');
  const firstMtu = blocks.findIndex((b) => b.startsWith('MTU '));
  const keep = (prefix: string) => blocks.filter((b) => b.startsWith(prefix));
  const rest = blocks.length - 1 - firstMtu;
  const excerpt = [
    ...blocks.slice(0, firstMtu + 1),
    `  …  (${rest} more sections in bench/results/quick.txt: the other MTUs, notes, method, warnings)`,
    ...keep('Best page-moving vs copy'),
    ...keep('Receiver calls per MB'),
    ...keep('Verdict'),
  ];
  return ['```text', ...excerpt.join('\n\n').split('\n'), '```'].join('\n');
}

const range = (values: number[], digits = 2) => {
  const lo = Math.min(...values).toFixed(digits);
  const hi = Math.max(...values).toFixed(digits);
  return lo === hi ? lo : `${lo}–${hi}`;
};
const medians = (ratios: PairedRatio[]) => range(ratios.map((r) => r.median));

/** The summary paragraph: every figure computed here from the report's runs and summary. */
function summaryText(report: CompareReport): string {
  const { summary, config } = report;
  const sentences: string[] = [];
  const sender = config.sender === 'zerocopy' ? '`MSG_ZEROCOPY`' : `\`${config.sender}\``;
  const judged = (cases: VerdictCase[], best: BestRow[], what: string) => {
    const modes = [...new Set(cases.map((c) => c.mode))];
    const perMode = modes.map((mode) => {
      const own = cases.filter((c) => c.mode === mode);
      const count = (call: string) => own.filter((c) => c.call === call).length;
      const parts = [
        count('lower') ? `less efficient than one copy in ${count('lower')}` : '',
        count('higher') ? `more efficient in ${count('higher')}` : '',
        count('none') ? `no measurable difference in ${count('none')}` : '',
      ].filter(Boolean);
      return `\`${mode}\` was ${parts.join(', ')} of ${own.length} cases (efficiency ÷ copy ${medians(own.map((c) => c.ratio))})`;
    });
    const same = best.map((b) => b.sameSender?.ratio).filter((r): r is PairedRatio => Boolean(r));
    const bestText = same.length ? ` The best page-moving mode against copy, same sender: ${medians(same)}×.` : '';
    return `${what}: ${perMode.join('; ')}.${bestText}`;
  };
  sentences.push(
    `In this run (${config.repeats} repeats of ${config.seconds ?? config.bytes} ${config.seconds !== null ? 's' : 'bytes'} per point, MTUs ${config.mtus.join(', ')}), with the same (${sender}) sender, per MTU × touch/notouch case (medians of per-repeat ratios; a difference is called only when every repeat agrees).`,
  );
  const receiver = receiverJudgement(report.runs);
  if (receiver) sentences.push(judged(receiver.cases, receiver.best, '**Receiver host** (Mbit/s ÷ receiver-side CPU %, what the paper measured)'));
  sentences.push(judged(summary.cases, summary.best, receiver ? 'Whole box (sender included)' : 'Efficiency'));
  const senderAlone = summary.best.map((b) => b.senderEffect?.ratio).filter((r): r is PairedRatio => Boolean(r));
  const across = summary.best.map((b) => b.ratio).filter((r): r is number => r !== null);
  if (senderAlone.length)
    sentences.push(`The sender alone (copy receive fed by \`write()\` ÷ fed by ${sender}, whole box): ${medians(senderAlone)}×, which is why best-vs-best across senders reads ${range(across)}×.`);
  // copy ← write against iperf3, per MTU (notouch), paired by repeat.
  const runsOf = (mode: string, sender: string, mtu: number) => report.runs.filter((r: RunResult) => r.mode === mode && r.sender === sender && r.mtu === mtu && !r.touch);
  const vsIperf = config.mtus
    .map((mtu) => ({ mtu, ratio: pairedRatio(runsOf('copy', 'write', mtu), runsOf('iperf3', 'iperf3', mtu), (r) => r.efficiency) }))
    .filter((x): x is { mtu: number; ratio: PairedRatio } => x.ratio !== null);
  if (vsIperf.length)
    sentences.push(
      `pageflip's copy path (\`copy ← write\`) against iperf3, notouch: ${vsIperf.map((x) => `${x.ratio.median.toFixed(2)}× at ${x.mtu}`).join(', ')} in efficiency.`,
    );
  return sentences.join(' ');
}

export function regionsFor(report: CompareReport | null): Record<RegionName, string> {
  if (!report) return { 'quick-output': PENDING_TEXT, 'quick-summary': PENDING_TEXT };
  return { 'quick-output': outputExcerpt(report), 'quick-summary': summaryText(report) };
}

// A region's text sits on its own lines between the two markers (empty: the markers are adjacent lines).
const pattern = (name: string) => new RegExp(`(<!-- figures:${name} -->\\n)([\\s\\S]*?)(<!-- /figures:${name} -->)`);
const body = (text: string) => `${text}\n`;

/** What differs between the README's regions and the generated ones (empty: they agree). */
export function checkReadme(readme: string, regions: Record<RegionName, string>): string[] {
  const problems: string[] = [];
  for (const name of REGIONS) {
    const match = pattern(name).exec(readme);
    if (!match) {
      problems.push(`README has no <!-- figures:${name} --> region`);
      continue;
    }
    if (match[2] === body(regions[name])) continue;
    const have = match[2].split('\n');
    const want = body(regions[name]).split('\n');
    const line = want.findIndex((l, i) => l !== have[i]);
    const at = line < 0 ? have.length : line;
    problems.push(`README region ${name} differs from the saved run at its line ${at + 1}:\n  README:    ${have[at] ?? '(missing)'}\n  generated: ${want[at] ?? '(nothing)'}`);
  }
  return problems;
}

export function writeRegions(readme: string, regions: Record<RegionName, string>): string {
  let out = readme;
  for (const name of REGIONS) {
    if (!pattern(name).test(out)) throw new Error(`README has no <!-- figures:${name} --> region`);
    out = out.replace(pattern(name), (_all, open: string, _old: string, close: string) => `${open}${body(regions[name])}${close}`);
  }
  return out;
}

/** The saved run, or null while the results are pending. */
export function savedReport(): CompareReport | null {
  if (existsSync(PENDING)) return null;
  return parseReport(readFileSync(QUICK_JSON, 'utf8'));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const regions = regionsFor(savedReport());
  const readme = readFileSync(README, 'utf8');
  if (process.argv.includes('--write')) {
    writeFileSync(README, writeRegions(readme, regions));
    console.log(`README regions ${REGIONS.join(', ')} rewritten from ${existsSync(PENDING) ? 'the pending note' : QUICK_JSON}`);
  } else {
    const problems = checkReadme(readme, regions);
    for (const p of problems) console.error(p);
    if (problems.length) {
      console.error('README and bench/results/quick.json disagree: run `npm run readme:figures -- --write` (or `npm run results`)');
      process.exit(1);
    }
    console.log(`README figures match ${existsSync(PENDING) ? 'the pending note (bench/results/PENDING)' : QUICK_JSON}`);
  }
}
