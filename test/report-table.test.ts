import t from 'tap';
import { renderTable } from '../lib/report/index.js';
import { sig3, pct1, bytesLabel, configLine, when } from '../lib/report/format.js';
import { wrap } from '../lib/report/table.js';
import type { CompareReport, PointSummary } from '../lib/experiment/types.js';
import { stripLayoutFields, fixtureReport } from './fixtures/compare-report.js';

const ANSI = /\x1b\[[0-9;]*m/g;

/** Lines of one MTU block, from its heading to the next heading (or the legend after the last). */
function mtuBlock(text: string, mtu: number): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`MTU ${mtu} `));
  const end = lines.findIndex((l, i) => i > start && (/^MTU \d+/.test(l) || l.startsWith('efficiency =')));
  return lines.slice(start, end);
}

/** The main-table rows of one data section ("notouch"/"touch") of an MTU block. */
function section(block: string[], touch: 'notouch' | 'touch'): string[] {
  const start = block.indexOf(`  ${touch}`);
  const rows: string[] = [];
  for (const line of block.slice(start + 1)) {
    if (!line.startsWith('  ') || /^ {2}\S+$/.test(line) || line.startsWith('  (')) break;
    rows.push(line);
  }
  return rows;
}

t.test('every MTU block has a row per mode/sender for notouch and touch, in config order', async (t) => {
  const report = fixtureReport();
  const text = renderTable(report, { width: 120 });
  for (const mtu of report.config.mtus) {
    const block = mtuBlock(text, mtu);
    t.ok(block.length > 0, `MTU ${mtu} block present`);
    for (const touch of [false, true]) {
      const rows = section(block, touch ? 'touch' : 'notouch');
      const points = report.summary.points.filter((p) => p.mtu === mtu && p.touch === touch);
      t.equal(rows.length, points.length, `MTU ${mtu} ${touch ? 'touch' : 'notouch'}: one row per point`);
      for (const p of points) {
        t.ok(
          rows.some((r) => r.trim().split(/\s+/)[0] === p.mode && r.includes(` ${p.sender} `)),
          `MTU ${mtu} ${touch}: row for ${p.mode}/${p.sender}`,
        );
      }
      const modes = rows.map((r) => r.trim().split(/\s+/)[0]);
      const order = modes.map((m) => report.config.modes.indexOf(m as PointSummary['mode']));
      t.same(order, [...order].sort((a, b) => a - b), 'rows follow config.modes');
    }
  }
  // The iperf3 and node reference rows are there; iperf3 ran notouch only.
  t.match(section(mtuBlock(text, 4148), 'notouch').join('\n'), /^ {2}iperf3 +iperf3 /m);
  t.notMatch(section(mtuBlock(text, 4148), 'touch').join('\n'), /iperf3/);
  t.match(section(mtuBlock(text, 4148), 'touch').join('\n'), /^ {2}node +zerocopy /m);
});

t.test('numbers: 3 significant digits for rates, 1 decimal for %, medians and min–max', async (t) => {
  const report = fixtureReport();
  const text = renderTable(report, { width: 160 });
  const p = report.summary.points.find((q) => q.mode === 'zerocopy' && q.mtu === 4148 && !q.touch) as PointSummary;
  const row = section(mtuBlock(text, 4148), 'notouch').find((r) => r.trim().startsWith('zerocopy')) as string;
  t.ok(row.includes(sig3(p.gbps.median)), 'Gbit/s median');
  t.ok(row.includes(`${sig3(p.gbps.min)}–${sig3(p.gbps.max)}`), 'Gbit/s min–max');
  t.ok(row.includes(`${pct1(p.cpuPercent.min)}–${pct1(p.cpuPercent.max)}`), 'CPU % min–max at width 160');
  t.ok(row.includes(sig3(p.efficiency.median)), 'efficiency median');
  t.ok(row.includes(sig3(p.vsCopy?.efficiency)), 'efficiency ratio to copy');

  t.equal(sig3(12.345), '12.3');
  t.equal(sig3(0.98765), '0.988');
  t.equal(sig3(1234.5), '1235');
  t.equal(sig3(2.5e6), '2.50M');
  t.equal(sig3(3.2e9), '3.20G');
  t.equal(sig3(7e12), '7.00T');
  t.equal(sig3(0.00012), '1.20e-4');
  t.equal(sig3(0), '0');
  t.equal(sig3(null), 'n/a');
  t.equal(sig3(Number.NaN), 'n/a');
  t.equal(pct1(49.96), '50.0');
  t.equal(pct1(undefined), 'n/a');
  t.equal(bytesLabel(512), '512 B');
  t.equal(bytesLabel(3 * 2 ** 20), '3.00 MiB');
  t.equal(bytesLabel(5 * 2 ** 30), '5.00 GiB');
});

t.test('unavailable perf counters print n/a, never 0; measured zeros stay 0', async (t) => {
  const report = fixtureReport();
  const text = renderTable(report, { width: 120 });
  const perfLines = text.split('\n').filter((l) => /^ {2}(cycles|dTLB-load-misses) /.test(l));
  t.ok(perfLines.length >= 4, 'unavailable counters have rows');
  for (const line of perfLines) {
    const cells = line.trim().split(/\s+/).slice(1);
    t.ok(cells.length > 0 && cells.every((c) => c === 'n/a'), `all n/a: ${line.trim()}`);
  }
  const flush = text.split('\n').find((l) => l.startsWith('  tlb:tlb_flush ')) as string;
  t.match(flush, /\b0\b/, 'tlb:tlb_flush counted 0 for copy receive shows as 0');
  t.match(text, /cycles, dTLB-load-misses: hardware counters are not exposed in this VM/, 'why they are n/a');

  // No perf columns at all when --perf was off.
  report.config.perf = false;
  for (const p of report.summary.points) p.perfPerMB = null;
  for (const r of report.runs) r.perf = null;
  const off = renderTable(report, { width: 120 });
  t.notMatch(off, /perf event/);
  t.notMatch(off, /Perf counters shown as n\/a/);
});

t.test('notes: noted rows are marked and the notes are listed under the table', async (t) => {
  const report = fixtureReport();
  const text = renderTable(report, { width: 120 });
  const flipRow = section(mtuBlock(text, 4148), 'notouch').find((r) => r.trim().startsWith('flip')) as string;
  t.match(flipRow, /^ {2}flip \[1\] /, 'flip row carries the footnote mark');
  t.match(text, /\n {2}\[1\] flip, MTU 4148, notouch, repeat 2: copy fallback: 0% of bytes mapped/);

  // The same note on several repeats is listed once; mismatches always get a note.
  for (const r of report.runs) if (r.mode === 'splice' && r.mtu === 8244 && r.touch) r.note = 'short read';
  const splice = report.summary.points.find((p) => p.mode === 'splice' && p.mtu === 8244 && p.touch) as PointSummary;
  splice.mismatches = 12;
  const again = renderTable(report, { width: 120 });
  t.match(again, /\[2\] splice, MTU 8244, touch, repeats 1, 2, 3: short read/);
  t.match(again, /\[3\] splice, MTU 8244, touch: 12 mismatched bytes in verification/);
  t.match(again, /^ {2}splice \[2\]\[3\] /m);
});

t.test('ratios: — for the copy rows, n/a without a copy point, values otherwise', async (t) => {
  const report = fixtureReport();
  const text = renderTable(report, { width: 120 });
  const notouch = section(mtuBlock(text, 4148), 'notouch');
  const copy = notouch.find((r) => /^ {2}copy +zerocopy/.test(r)) as string;
  t.match(copy, /— +— +—$/, 'copy is the baseline');
  const touch8244 = section(mtuBlock(text, 8244), 'touch');
  t.notOk(touch8244.some((r) => /^ {2}copy +zerocopy/.test(r)), 'the missing copy point has no row');
  const flip = touch8244.find((r) => r.trim().startsWith('flip')) as string;
  t.match(flip, /n\/a +n\/a +n\/a$/, 'no copy point: ratios are n/a');
  t.notMatch(flip, / 0 +0 +0$/);
});

t.test('best-vs-best, verdict, method and warnings follow the table', async (t) => {
  const report = fixtureReport();
  const text = renderTable(report, { width: 100 });
  const best = text.indexOf('Best page-moving vs copy');
  t.ok(best > text.indexOf('MTU 8244'), 'after the MTU blocks');
  for (const b of report.summary.best) {
    // Sender-matched first (mode, ratio, min–max), then the sender alone, then across senders.
    const same = b.sameSender?.ratio ? `zerocopy +${sig3(b.sameSender.ratio.median)} +${sig3(b.sameSender.ratio.min)}–${sig3(b.sameSender.ratio.max)} +${sig3(b.senderEffect!.ratio.median)}` : 'zerocopy +n/a +n/a';
    t.match(text, new RegExp(`\\n {2}${b.mtu} +${b.touch ? 'touch' : 'notouch'} +${same} +zerocopy←zerocopy +copy←write +${sig3(b.ratio)}\\n`));
  }
  t.match(text, /Receiver calls per MB .*\n {2}4148 notouch: copy←zerocopy 7\.63 \(256 KiB\/receive\)/, 'calls per MB and bytes per receive call');
  // Receiver-host verdict first (the paper's measurement), then the whole-box one, each under its heading.
  const after = (heading: string) => text.indexOf('\n', text.indexOf(heading) + 1);
  const receiverVerdict = text.slice(after('\nVerdict, receiver host'), text.indexOf('\nVerdict, whole box'));
  t.same(receiverVerdict.split(/\s+/).filter(Boolean), report.summary.receiverVerdict!.split(/\s+/), 'receiver verdict words intact');
  const verdict = text.slice(after('\nVerdict, whole box'), text.indexOf('\nMethod\n'));
  t.same(verdict.split(/\s+/).filter(Boolean), report.summary.verdict.split(/\s+/), 'verdict words intact');
  for (const line of text.slice(text.indexOf('\nVerdict'), text.indexOf('\nMethod\n')).split('\n')) t.ok(line.length <= 100, `verdict line fits 100: ${line.length}`);
  t.ok(text.indexOf('by receiver-host efficiency') < text.indexOf('The same by whole-box efficiency'), 'receiver-host best table first');
  // A report saved before per-side CPU: one verdict under the plain heading.
  const old = renderTable(stripLayoutFields(fixtureReport()), { width: 100 });
  const oldVerdict = old.slice(old.indexOf('\nVerdict\n'), old.indexOf('\nMethod\n'));
  t.same(oldVerdict.split(/\s+/).filter(Boolean).slice(1), report.summary.verdict.split(/\s+/), 'old report: verdict words intact');
  t.notMatch(old, /receiver side|receiver-host/, 'old report: no receiver-side columns or tables');
  for (const m of report.method) t.ok(text.replace(/\n {4}/g, ' ').includes(`- ${m}`), `method: ${m}`);
  for (const w of report.warnings) t.ok(text.includes(`! ${w}`), `warning: ${w}`);

  // A side without a candidate prints n/a.
  report.summary.best[0].moving = null;
  report.summary.best[0].ratio = null;
  t.match(renderTable(report), /\n {2}4148 +notouch +zerocopy +[\d.]+ +[\d.–]+ +[\d.]+ +n\/a +copy←write +n\/a\n/);
  report.summary.best = [];
  report.summary.receiverBest = [];
  delete report.summary.receiverVerdict; // it names the best setups too
  t.notMatch(renderTable(report), /Best page-moving/);
});

t.test('fits the terminal: 160 columns shows everything, 100 hides min–max columns and says so', async (t) => {
  const report = fixtureReport();
  for (const width of [100, 120, 160]) {
    const text = renderTable(report, { width });
    const longest = Math.max(...text.split('\n').map((l) => l.length));
    t.ok(longest <= width, `longest line ${longest} ≤ ${width}`);
  }
  t.notMatch(renderTable(report, { width: 160 }), /hidden to fit/);
  t.match(renderTable(report, { width: 100 }), /hidden to fit 100 columns: .*CPU % min–max/);
  // Very narrow terminals are clamped to 60; every min–max goes before anything else.
  const narrow = renderTable(report, { width: 20 });
  t.match(narrow.replace(/\n +/g, ' '), /hidden to fit 60 columns: Gbit\/s min–max, CPU % min–max, .*efficiency min–max/);
});

t.test('color: none when off, ANSI when on, same text underneath', async (t) => {
  const report = fixtureReport();
  const plain = renderTable(report, { color: false });
  const colored = renderTable(report, { color: true });
  t.notMatch(plain, /\x1b/, 'no escape codes without color');
  t.match(colored, /\x1b\[32m/, 'green for a mode that beats copy');
  t.match(colored, /\x1b\[31m/, 'red for one that loses');
  t.equal(colored.replace(ANSI, ''), plain, 'colour changes nothing but colour');
  t.equal(renderTable(report), plain, 'default is no colour');
});

t.test('header lines, remote host, and odd inputs', async (t) => {
  const report = fixtureReport();
  let text = renderTable(report);
  t.match(text, /^pageflip compare — fixture-host, 2025-01-02 03:04 UTC, took 15 min 30 s\n/);
  t.match(text, /\nhost {4}Linux 6\.18\.0-fixture x86_64/);
  t.match(text, /\nrun {5}sender zerocopy, 3 repeats × 5\.00 s/);

  const r2: CompareReport = { ...fixtureReport() };
  r2.remoteHost = { ...r2.host, hostname: 'peer-box', cpuMHz: null, thp: null };
  r2.config = { ...r2.config, seconds: null, bytes: 2 ** 30, repeats: 1, cpus: null, network: 'peer', peer: '10.0.0.2:9000', quick: true };
  r2.finishedAt = '2025-01-02T03:04:50.000Z';
  text = renderTable(r2);
  t.match(text, /\nremote {2}Linux /);
  t.match(text.replace(/\n {8}/g, ' '), /\nremote {2}Linux .*THP n\/a/);
  t.match(configLine(r2), /1 repeat × 1\.00 GiB .*unpinned, network peer \(peer 10\.0\.0\.2:9000\), perf on, quick/);
  t.equal(when(r2), '2025-01-02 03:04 UTC, took 45 s');
  t.equal(when({ ...r2, startedAt: 'yesterday' }), 'yesterday', 'unparsable time is shown as given');
  t.equal(when({ ...r2, finishedAt: 'later' }), '2025-01-02 03:04 UTC');
  t.match(configLine({ ...r2, config: { ...r2.config, bytes: null } }), /default length/);

  // A configured MTU/touch with no points says so; a mode only in the data still gets a row.
  const r3 = fixtureReport();
  r3.config.mtus = [4148, 8244, 61512];
  r3.summary.points = r3.summary.points.filter((p) => !(p.mtu === 8244 && p.touch));
  const extra = { ...r3.summary.points[0], mode: 'iperf3-Z' as const, sender: 'iperf3' as const };
  r3.summary.points.push(extra);
  text = renderTable(r3, { width: 120 });
  t.match(mtuBlock(text, 61512).join('\n'), /notouch\n {4}no runs/);
  t.match(section(mtuBlock(text, 8244), 'touch').join('\n'), /no runs/);
  t.match(section(mtuBlock(text, 4148), 'notouch').at(-1) as string, /^ {2}iperf3-Z +iperf3 /);

  // Empty sections of the report are left out rather than printed empty.
  const r4 = fixtureReport();
  r4.method = [];
  r4.warnings = [];
  r4.summary.verdict = '';
  text = renderTable(r4);
  t.notMatch(text, /\nMethod\n|\nWarnings\n|\nVerdict\n/);
});

t.test('a report without runs, and a width that is not a number', async (t) => {
  const report = fixtureReport();
  report.runs = [];
  report.summary.points = [];
  const text = renderTable(report, { width: Number.NaN });
  t.match(text, /notouch\n {4}no runs\n {2}touch\n {4}no runs/);
  t.notMatch(text, /perf event/, 'no perf table without rows');
  t.ok(Math.max(...text.split('\n').map((l) => l.length)) <= 100, 'NaN width falls back to 100');
});

t.test('wrap', async (t) => {
  t.same(wrap('a bb ccc dddd', 6), ['a bb', 'ccc', 'dddd']);
  t.same(wrap('word', 2, '> ', '  '), ['> word'], 'a long word is never split');
  t.same(wrap('', 10, '- '), ['- ']);
});
