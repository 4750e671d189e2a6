// The saved reports in bench/results/ rendered again by today's report code: text, CSV, HTML and
// JSON must come out byte for byte as `npm run results` wrote them. A refactor that changes what
// a report says fails here; a deliberate change regenerates the saved results (npm run results).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { parseReport, renderCsv, renderHtml, renderJson, renderTable } from '../lib/report/index.js';

const saved = (name: string) => readFileSync(new URL(`../bench/results/${name}`, import.meta.url), 'utf8');

for (const name of ['quick', 'full']) {
  t.test(`bench/results/${name}.json renders as saved`, async (t) => {
    const report = parseReport(saved(`${name}.json`));
    // The CLI writes the table (no colour, default width: stdout was a file) and a newline.
    t.equal(`${renderTable(report)}\n`, saved(`${name}.txt`), `${name}.txt`);
    t.equal(renderCsv(report), saved(`${name}.csv`), `${name}.csv`);
    t.equal(renderHtml(report), saved(`${name}.html`), `${name}.html`);
    t.equal(renderJson(report), saved(`${name}.json`), `${name}.json`);
  });
}
