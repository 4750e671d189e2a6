// Issue 15 §4: README's figures come from one saved run. bench/readme-figures.ts generates the
// README's result regions from bench/results/quick.json; this fails when README and JSON disagree.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { checkReadme, README, regionsFor, savedReport, writeRegions } from '../bench/readme-figures.js';
import { fixtureReport } from './fixtures/compare-report.js';

const skeleton = 'intro\n<!-- figures:quick-output -->\n<!-- /figures:quick-output -->\nmiddle\n<!-- figures:quick-summary -->\n<!-- /figures:quick-summary -->\nend\n';

t.test('README agrees with the saved run (or says the results are pending, with no figure)', async (t) => {
  const problems = checkReadme(readFileSync(README, 'utf8'), regionsFor(savedReport()));
  t.same(problems, [], 'run `npm run readme:figures -- --write` after regenerating bench/results');
});

t.test('regions generated from a report, and any edited figure is caught', async (t) => {
  const report = fixtureReport();
  const regions = regionsFor(report);
  const readme = writeRegions(skeleton, regions);
  t.same(checkReadme(readme, regions), [], 'freshly written regions agree');
  t.ok(readme.startsWith('intro\n<!-- figures:quick-output -->\n```text\n') && readme.endsWith('<!-- /figures:quick-summary -->\nend\n'), 'text outside the regions is kept');
  t.same(writeRegions(readme, regions), readme, 'rewriting is idempotent');

  const output = regions['quick-output'];
  t.match(output, /^```text\npageflip compare — fixture-host/);
  t.match(output, /\nMTU 4148 /);
  t.notMatch(output, /\nMTU 8244 /, 'only the first MTU block');
  t.match(output, /more sections in bench\/results\/quick\.txt/);
  for (const title of ['Best page-moving vs copy', 'Receiver calls per MB', 'Verdict']) t.match(output, title);

  // Every figure of the summary paragraph is the report's.
  const summary = regions['quick-summary'];
  const zc = report.summary.cases.filter((c) => c.mode === 'zerocopy');
  t.match(summary, `\`zerocopy\` was`);
  t.match(summary, `of ${zc.length} cases`);
  const medians = zc.map((c) => c.ratio.median.toFixed(2));
  t.match(summary, `${[...medians].sort()[0]}`);
  t.match(summary, /The sender alone \(copy receive fed by `write\(\)` ÷ fed by `MSG_ZEROCOPY`, whole box\): [\d.–]+×/);
  // The receiver host (the paper's measurement) comes first, then the whole box.
  t.ok(summary.indexOf('**Receiver host**') > 0 && summary.indexOf('**Receiver host**') < summary.indexOf('Whole box'), 'receiver-host figures before whole-box ones');
  t.match(summary, /against iperf3, notouch: [\d.]+× at 4148, [\d.]+× at 8244/);

  // A figure edited by hand is a mismatch, and the message points at it.
  const edited = readme.replace(/(efficiency ÷ copy )([\d.]+)/, (_m, a: string, b: string) => `${a}${(Number(b) + 0.01).toFixed(2)}`);
  t.not(edited, readme);
  const problems = checkReadme(edited, regions);
  t.equal(problems.length, 1);
  t.match(problems[0], /region quick-summary differs from the saved run at its line 1/);
  // A different run is a mismatch too.
  const other = fixtureReport();
  other.runs = other.runs.map((r) => (r.mode === 'zerocopy' ? { ...r, efficiency: r.efficiency * 1.1 } : r));
  const { summarize } = await import('../lib/experiment/stats.js');
  other.summary = { ...summarize(other.runs), verdict: other.summary.verdict };
  t.not(checkReadme(readme, regionsFor(other)).length, 0, 'figures of another run do not pass');
  // Missing regions are named.
  t.match(checkReadme('no regions', regions)[0], /README has no <!-- figures:quick-output --> region/);
  t.throws(() => writeRegions('no regions', regions), /no <!-- figures:quick-output -->/);
});

t.test('while results are pending the regions carry the note and no figure', async (t) => {
  const pending = regionsFor(null);
  for (const text of Object.values(pending)) {
    t.match(text, /Figures pending/);
    t.notMatch(text, /\d+\.\d+/, 'no figure');
  }
  t.not(checkReadme(writeRegions(skeleton, regionsFor(fixtureReport())), pending).length, 0, 'figures where the note belongs are caught');
});
