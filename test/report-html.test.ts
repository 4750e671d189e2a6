import t from 'tap';
import { renderHtml } from '../lib/report/index.js';
import { METRICS } from '../lib/report/html.js';
import { barChart, escapeXml, niceTicks, tickFormat, type BarChart } from '../lib/report/svg.js';
import { fixtureReport } from './fixtures/compare-report.js';
import { checkMarkup, svgFragments } from './fixtures/markup.js';

const HOSTILE = '<script>alert(1)</script>';

t.test('the page is well-formed, every SVG closed, hostile text escaped', async (t) => {
  const report = fixtureReport();
  report.host.hostname = HOSTILE;
  report.host.cpuModel = 'Evil & Co "CPU" <img src=x onerror=alert(2)>';
  report.method.push('</svg><svg onload=alert(3)>');
  report.warnings.push("it's <b>bold</b> & \"quoted\"");
  report.runs[0].note = '</td></tr></table><script>alert(4)</script>';
  report.summary.verdict = `${HOSTILE} verdict`;
  const html = renderHtml(report);

  t.doesNotThrow(() => checkMarkup(html, 'html'), 'balanced tags, no stray < > or &');
  t.notMatch(html, /<script/i, 'no script element anywhere');
  t.notMatch(html, /<img/i, 'no injected elements');
  const tags = html.match(/<[a-zA-Z][^>]*>/g) ?? [];
  t.notOk(tags.some((tag) => /\son\w+=/i.test(tag)), 'no event-handler attributes in any real tag');
  t.match(html, '&#60;script&#62;alert(1)&#60;/script&#62;', 'hostname shown, escaped');
  t.match(html, 'Evil &#38; Co &#34;CPU&#34;', 'quotes and ampersands escaped');

  const svgs = svgFragments(html);
  t.equal(svgs.length, (html.match(/<svg\b/g) ?? []).length, 'every <svg is closed by </svg>');
  for (const svg of svgs) {
    t.doesNotThrow(() => checkMarkup(svg, 'xml'), `well-formed XML: ${/aria-label="([^"]*)"/.exec(svg)?.[1]}`);
    t.match(svg, /^<svg [^>]*role="img" [^>]*aria-label="[^"]+"/, 'role and aria-label');
    t.match(svg, /<title id="[^"]+">[^<]+<\/title>/, '<title>');
    t.match(svg, /<desc id="[^"]+">[^<]+<\/desc>/, '<desc>');
  }
  const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]);
  t.equal(new Set(ids).size, ids.length, 'ids are unique on the page');
});

t.test('one chart per MTU × metric, plus the paper comparison, with axis labels and legends', async (t) => {
  const report = fixtureReport();
  const html = renderHtml(report);
  const svgs = svgFragments(html);
  t.equal(svgs.length, report.config.mtus.length * METRICS.length + 1);
  const byId = (id: string) => svgs.filter((s) => s.includes(`id="${id}-title"`));
  for (const mtu of report.config.mtus) {
    for (const m of METRICS) {
      const found = byId(`chart-${mtu}-${m.id}`);
      t.equal(found.length, 1, `chart ${m.id} at MTU ${mtu}`);
      const svg = found[0];
      t.match(svg, `>${m.yLabel(report)}</text>`, 'y axis label with unit');
      t.match(svg, '>receive mode</text>', 'x axis label');
      t.match(svg, '>page-moving receive</text>', 'legend');
      t.match(svg, '>light = notouch, dark = touch</text>', 'legend says which shade is which');
      for (const mode of report.config.modes) t.match(svg, `>${mode}</text>`, `group for ${mode}`);
      // Bars carry their numbers for hover and screen readers.
      t.match(svg, new RegExp(`<title>flip \\(zerocopy sender\\), notouch, MTU ${mtu}: median `));
    }
  }
  t.match(html, 'Throughput at MTU 4148');
  t.match(html, 'CPU (% of all 2 cores)');
  // iperf3 ran notouch only: its touch slot says so instead of drawing a zero bar.
  t.match(byId('chart-4148-gbps')[0], '>no data</text>');
  t.match(byId('chart-8244-gbps')[0], />copy<\/text>\n<text [^>]*>write tx<\/text>/, 'sender shown under rows with another sender');
  t.match(byId('chart-4148-gbps')[0], />note \[1\]<\/text>/, 'noted rows are marked in charts');
});

t.test('the paper comparison: published values, ratios, and this run beside them', async (t) => {
  const report = fixtureReport();
  const html = renderHtml(report);
  const section = html.slice(html.indexOf('<section id="paper">'), html.indexOf('<section id="summary">'));
  for (const v of ['6.52', '6.48', '8.59', '8.45', '6.86', '6.85', '9.02', '8.93']) t.match(section, `>${v}</td>`, `paper value ${v}`);
  for (const v of ['0.994', '0.984', '0.999', '0.990']) t.match(section, `>${v}</`, `paper ratio ${v}`);
  const svg = svgFragments(section)[0];
  t.match(svg, 'efficiency ratio (page-moving ÷ copy)', 'y label');
  t.match(svg, '>parity with copy</text>', 'reference line at 1');
  t.match(svg, '>paper 1.8 GHz: flip ÷ copy</text>');
  t.match(svg, '>this run: zerocopy ÷ copy, touch</text>');
  t.notMatch(svg, /this run: \w+ ÷ copy, notouch/, 'the paper measured touch only: no notouch bars beside it');
  t.match(section, /<td>notouch \(no paper figure\)<\/td>/, 'notouch rows are marked as having no paper figure');
  t.match(section, /Appendix B "copy then flip"/, 'loopback page moving is the copy-then-flip case');
  t.match(section, /CPU % here is system-wide: it includes the sender/, 'CPU includes the sender, said so');
  const flip = report.summary.points.find((p) => p.mode === 'flip' && p.mtu === 4148 && p.touch && p.sender === 'zerocopy');
  t.match(svg, `this run: flip ÷ copy, touch, MTU 4148: ${flip?.vsCopy?.efficiency.toPrecision(3)}`);
  t.match(svg, '>n/a</text>', 'no copy point at 8244 touch: n/a, not a bar');
  t.match(section, /<td>this run<\/td><td class="n">8244<\/td><td>touch<\/td><td class="n">n\/a<\/td>/);

  // MTUs of the paper that this run did not measure are said so; no paper data, no section.
  const other = fixtureReport();
  other.summary.points = other.summary.points.filter((p) => p.mtu !== 8244);
  t.match(renderHtml(other), /8244<\/td><td>touch<\/td><td colspan="5" class="muted">not measured at this MTU/);
  other.paper = [];
  t.notMatch(renderHtml(other), /id="paper"/);
});

t.test('self-contained: nothing fetched from the network, no script', async (t) => {
  const html = renderHtml(fixtureReport());
  t.notMatch(html, /https?:\/\//i, 'no http(s) URL anywhere');
  t.notMatch(html, /\s(src|href|xlink:href)=/i, 'no src/href attributes');
  t.notMatch(html, /@import|url\(/i, 'no CSS imports or url()');
  t.notMatch(html, /<(script|link|iframe|object|embed)\b/i);
  t.match(html, /^<!DOCTYPE html>\n<html lang="en">/);
  t.match(html, '<meta charset="utf-8">');
});

t.test('summary, notes, perf, best, verdict, method, warnings and the run list', async (t) => {
  const report = fixtureReport();
  const html = renderHtml(report);
  const order = ['id="mtu-4148"', 'id="mtu-8244"', 'id="paper"', 'id="summary"', 'Perf counters per MB', 'id="best"', 'id="verdict"', 'id="method"', 'id="runs"'];
  const at = order.map((s) => html.indexOf(s));
  t.ok(at.every((i) => i > 0), 'all sections present');
  t.same(at, [...at].sort((a, b) => a - b), 'in order');

  const summary = html.slice(html.indexOf('id="summary"'), html.indexOf('Perf counters per MB'));
  for (const p of report.summary.points) {
    t.match(summary, new RegExp(`<td>${p.mode}(?: <sup class="mark">\\[\\d\\]</sup>)*</td><td>${p.sender}</td>`), `row ${p.mode}/${p.sender}`);
  }
  t.match(summary, '<tr class="noted"><td>flip <sup class="mark">[1]</sup></td>', 'noted row marked');
  t.match(summary, /<li><sup class="mark">\[1\]<\/sup> flip, MTU 4148, notouch, repeat 2: copy fallback/, 'note listed');
  t.match(summary, '<td class="n muted">—</td>', 'copy baseline');
  t.match(summary, '<td class="n muted">n/a</td>', 'no copy point');
  t.match(summary, /<td class="n better">1\.50<\/td>/, 'better than copy in green');
  t.match(summary, /<td class="n worse">0\.456<\/td>/, 'worse in red');

  const perf = html.slice(html.indexOf('Perf counters per MB'), html.indexOf('id="best"'));
  t.match(perf, /<tr><td><code>cycles<\/code><\/td>(<td class="n muted">n\/a<\/td>)+<\/tr>/, 'unavailable counter: n/a');
  t.notMatch(perf, /<td><code>cycles<\/code><\/td>.*>0</, 'never 0 for an unavailable counter');
  t.match(perf, /<code>cycles<\/code>, <code>dTLB-load-misses<\/code>: hardware counters are not exposed/);

  t.match(html, /<td>zerocopy <span class="muted">\(zerocopy sender\)<\/span><\/td>/, 'best page-moving');
  t.match(html, `<p class="verdict">${escapeXml(report.summary.verdict)}</p>`);
  for (const m of report.method) t.match(html, `<li>${escapeXml(m)}</li>`);
  for (const w of report.warnings) t.match(html, `<li>${escapeXml(w)}</li>`);
  t.match(html, '2 warnings about this run');
  t.match(html, `<summary>All ${report.runs.length} runs</summary>`);
  const runs = html.slice(html.indexOf('id="runs"'));
  t.equal((runs.match(/<tr( class="noted")?><td class="n">\d+<\/td>/g) ?? []).length, report.runs.length, 'one row per run');
  t.match(runs, /copy fallback: 0% of bytes mapped/);
});

t.test('variants: no perf, one data kind, remote host, empty sections', async (t) => {
  const report = fixtureReport();
  report.config.perf = false;
  report.config.touch = [true];
  report.config.cpus = null;
  report.config.seconds = null;
  report.config.bytes = 2 ** 30;
  report.config.quick = true;
  report.runs = report.runs.filter((r) => r.touch).map((r) => ({ ...r, perf: null, mismatches: r.mode === 'node' ? 3 : 0 }));
  report.summary.points = report.summary.points.filter((p) => p.touch).map((p) => ({ ...p, perfPerMB: null }));
  report.summary.best = [{ mtu: 4148, touch: true, sameSender: null, senderEffect: null, moving: null, copying: null, ratio: null, ratioRange: null }];
  report.remoteHost = { ...report.host, hostname: 'far-away', cpuMHz: null, thp: null };
  report.warnings = ['only one'];
  report.config.mtus.push(61512);
  const html = renderHtml(report);
  t.doesNotThrow(() => checkMarkup(html, 'html'));
  t.notMatch(html, /Perf counters per MB/);
  t.match(html, '>all touch</text>', 'legend names the only data kind');
  t.match(html, '<dt>remote host</dt><dd>far-away</dd>');
  t.match(html, '1 warning about this run');
  t.match(html, '3 × 1.00 GiB per run, 1.00 s warm-up (quick)');
  t.match(html, '<dd>not pinned</dd>');
  t.match(html, /<td class="n worse">3<\/td>/, 'mismatches flagged in the run list');
  t.match(html, /<td class="muted">n\/a<\/td><td class="n muted">n\/a<\/td>/, 'best with no candidates');
  // 16 columns with the receiver side (13 in reports saved before per-side CPU).
  t.match(html, /<th colspan="16">touch<\/th><\/tr>\n<tr><td colspan="16" class="muted">no runs<\/td><\/tr>/, 'MTU 61512: no runs');

  report.warnings = [];
  report.config.seconds = null;
  report.config.bytes = null;
  const quiet = renderHtml(report);
  t.notMatch(quiet, /warnings? about this run|id="warnings"/);
  t.match(quiet, 'default length');
});

t.test('a report without runs still renders', async (t) => {
  const report = fixtureReport();
  report.runs = [];
  report.summary.points = [];
  report.summary.best = [];
  const html = renderHtml(report);
  t.doesNotThrow(() => checkMarkup(html, 'html'));
  t.match(html, '<summary>All 0 runs</summary>');
  t.equal(svgFragments(html).length, report.config.mtus.length * METRICS.length + 1);
});

t.test('svg: bar chart geometry, labels and edge cases', async (t) => {
  const base: BarChart = {
    id: 'c',
    title: 'T & <t>',
    description: 'd',
    yLabel: 'y (units)',
    legend: [{ label: 'a', colors: ['#111'] }],
    groups: [
      { label: 'g1', cells: [{ value: 2, min: 1, max: 3, color: '#123', title: 'two' }, null] },
      { label: 'g2', sublabel: 's', cells: [{ value: 0.5, color: '#456', title: 'half' }, { value: 1234567, color: '#789', title: 'wide' }] },
    ],
    format: (v) => v.toFixed(3),
  };
  const svg = barChart(base);
  t.doesNotThrow(() => checkMarkup(svg, 'xml'));
  t.match(svg, 'aria-label="T &#38; &#60;t&#62;"');
  t.match(svg, /rotate\(-90\)[^>]*>1234567\.000</, 'a label wider than its bar is turned upright');
  t.match(svg, /<line [^>]*stroke="#222"/, 'whiskers drawn');
  t.notMatch(svg, /no data|n\/a/, 'missing cells draw nothing by default');
  t.match(svg, '>s</text>', 'sublabel');

  // Diverging bars around 1 with a reference line; bars below go down, labels under them.
  const ratio = barChart({
    ...base,
    legend: Array.from({ length: 12 }, (_, i) => ({ label: `series number ${i}`, colors: ['#abc', '#def'] })),
    groups: [{ label: 'r', cells: [{ value: 0.8, color: '#000', title: 'below' }, { value: 1.3, min: 1.2, max: 1.4, color: '#000', title: 'above' }] }],
    baseline: 1,
    reference: { value: 1, label: 'parity' },
    missing: 'n/a',
    xLabel: 'x (units)',
  });
  t.doesNotThrow(() => checkMarkup(ratio, 'xml'));
  t.match(ratio, '>parity</text>');
  t.match(ratio, '>x (units)</text>');
  t.ok((ratio.match(/<rect [^>]*rx="2"/g) ?? []).length === 24, 'two swatches per legend item');
  const narrow = barChart({
    ...base,
    width: 200,
    groups: Array.from({ length: 6 }, () => ({ label: 'n', cells: [{ value: -5, color: '#000', title: 'neg' }, { value: 5, color: '#000', title: 'pos' }] })),
    baseline: 0,
    format: (v) => `${v} units`,
    legend: [{ label: 'text only', colors: [] }],
  });
  t.doesNotThrow(() => checkMarkup(narrow, 'xml'));
  t.match(narrow, /text-anchor="end" font-size="10" fill="#222">-5 units</, 'negative labels hang below, turned');
  const empty = barChart({ ...base, groups: [], legend: [] });
  t.doesNotThrow(() => checkMarkup(empty, 'xml'), 'no groups still draws axes');

  t.same(niceTicks(0, 23), [0, 5, 10, 15, 20, 25]);
  t.same(niceTicks(0.8, 1.5), [0.8, 1, 1.2, 1.4, 1.6]);
  t.same(niceTicks(0, 0), [0, 0.2, 0.4, 0.6, 0.8, 1], 'flat data still gets an axis');
  t.same(niceTicks(5, 5), [5, 5.1, 5.2, 5.3, 5.4, 5.5]);
  t.same(niceTicks(0, 12.5).slice(0, 3), [0, 2.5, 5]);
  t.equal(tickFormat([0, 2.5, 5])(5), '5.0');
  t.equal(tickFormat([0, 5, 10])(10), '10');
  t.equal(tickFormat([0, 0.25, 0.5])(0.5), '0.50');
  t.equal(tickFormat([3])(3), '3');
  t.equal(escapeXml(`<a href="x">'&'</a>`), '&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
});

t.test('a report saved before per-side CPU: no receiver columns, no receiver chart, whole-box paper ratios', async (t) => {
  const { stripLayoutFields } = await import('./fixtures/compare-report.js');
  const html = renderHtml(stripLayoutFields(fixtureReport()));
  t.doesNotThrow(() => checkMarkup(html, 'html'));
  t.notMatch(html, /receiver side|rx-efficiency|receiver-host/);
  t.match(html, /<th colspan="13">notouch<\/th>/);
  t.match(html, /whole-box figures \(the sender's CPU included\), which the paper did not measure/);
  const fresh = renderHtml(fixtureReport());
  t.match(fresh, /id="chart-4148-rx-efficiency-title"/, 'receiver-host chart per MTU');
  t.match(fresh, /receiver-host figures \(Mbit\/s ÷ CPU % of the receiver's CPUs\), as the paper measured them/);
  t.match(fresh, /<h3>Receiver host \(Mbit\/s ÷ receiver-side CPU %\): matches the paper's measurement<\/h3>/);
});
