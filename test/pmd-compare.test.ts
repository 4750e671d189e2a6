// 2 MiB-slot flips in `pageflip compare` (issue 16 §2): per-point chunks in the plan and the runs,
// like-with-like statistics (a 2 MiB row pairs with copy at 2 MiB), the PMD-path share, the
// page-table flip block in every view, and reports saved before per-point chunks still loading.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { compare, localEnvironment, plan, resolveConfig, type CompareOptions } from '../lib/experiment/compare.js';
import { PMD_BYTES } from '../lib/vocabulary.js';
import { mainChunk, mainPoints, pmdShare, summarize } from '../lib/experiment/stats.js';
import type { CompareReport, RunResult } from '../lib/experiment/types.js';
import { checkSchema, compareReportSchema, parseReport, renderCsv, renderHtml, renderJson, renderMarkdown, renderTable } from '../lib/report/index.js';
import { pmdRows, runsOf } from '../lib/report/format.js';
import { capabilities } from '../lib/index.js';
import { fixtureReport } from './fixtures/compare-report.js';
import { netnsSkip } from './helpers/network.js';

const CHUNK = 256 * 1024;

t.test('the full default plan adds copy, zerocopy and flip at 2 MiB, at the paper\'s MTUs, touch and notouch', async (t) => {
  const config = resolveConfig({ orderSeed: 1 }, 'netns', null);
  const points = plan(config, [], false, false, true);
  const pmd = points.filter((p) => p.chunkBytes !== undefined);
  t.equal(pmd.length, 12, '3 modes × 2 MTUs × touch and notouch');
  t.ok(pmd.every((p) => p.chunkBytes === PMD_BYTES && [4148, 8244].includes(p.mtu) && ['copy', 'zerocopy', 'flip'].includes(p.mode)));
  t.same(new Set(pmd.map((p) => `${p.mtu}${p.touch}`)).size, 4);
  t.equal(plan(config, [], false, false, false).filter((p) => p.chunkBytes !== undefined).length, 0, 'not unless asked');
  const at2m = resolveConfig({ orderSeed: 1, chunkBytes: PMD_BYTES }, 'netns', null);
  t.equal(plan(at2m, [], false, false, true).filter((p) => p.chunkBytes !== undefined).length, 0, '--chunk 2m already runs every row at 2 MiB');
  const large = resolveConfig({ orderSeed: 1, mtus: [61492] }, 'netns', null);
  t.equal(plan(large, [], false, false, true).filter((p) => p.chunkBytes !== undefined).length, 0, 'only at the paper\'s MTUs');
});

/** A synthetic run: only what the statistics read is meaningful. */
function run(mode: 'copy' | 'zerocopy' | 'flip', repeat: number, efficiency: number, chunkBytes: number | undefined, remap: RunResult['remap'] | undefined): RunResult {
  const percent = 50;
  const mbps = efficiency * percent;
  const moving = mode !== 'copy';
  return {
    repeat, mode, mtu: 4148, touch: false, sender: 'zerocopy', bytes: 1e9, seconds: 1, gbps: mbps / 1000, mbps,
    cpu: { percent, user: 10, nice: 0, system: 30, irq: 0, softirq: 10, steal: 0, idle: 50, usPerMB: 1e4 / efficiency },
    efficiency, receiverThread: null, senderThread: null, mappedBytes: moving ? 1e9 : 0, copiedBytes: moving ? 0 : 1e9,
    mappedPercent: moving ? 100 : 0, verifiedBytes: 0, mismatches: 0, syscalls: 4000, calls: { receive: 3815, wait: 100, page: 85 },
    perf: null, note: null, remote: null,
    ...(chunkBytes !== undefined ? { chunkBytes } : {}),
    ...(remap !== undefined ? { remap } : {}),
  };
}

t.test('the PMD share: whole-slot moves × 2 MiB ÷ bytes remapped', async (t) => {
  t.equal(pmdShare({ remap: { bytes: 10 * PMD_BYTES, pmdMoves: 8 } }), 0.8);
  t.equal(pmdShare({ remap: { bytes: 3 * PMD_BYTES, pmdMoves: 3 } }), 1);
  t.equal(pmdShare({ remap: { bytes: 5e6, pmdMoves: 0 } }), 0, 'a PTE-path flip');
  t.equal(pmdShare({ remap: { bytes: 0, pmdMoves: 0 } }), null, 'nothing remapped (copy, zerocopy): no share, not 0');
  t.equal(pmdShare({ remap: null }), null, 'not counted (node)');
  t.equal(pmdShare({}), null, 'an older report');
});

t.test('points of another chunk stay apart: ratios pair with copy at the same chunk, the verdict is about the main chunk', async (t) => {
  const remapped = (share: number) => ({ bytes: 100 * PMD_BYTES, pmdMoves: share * 100 });
  const runs = [1, 2, 3].flatMap((repeat) => [
    run('copy', repeat, 100, CHUNK, { bytes: 0, pmdMoves: 0 }),
    run('flip', repeat, 50, CHUNK, remapped(0)),
    run('zerocopy', repeat, 90, CHUNK, { bytes: 0, pmdMoves: 0 }),
    run('copy', repeat, 80, PMD_BYTES, { bytes: 0, pmdMoves: 0 }),
    run('zerocopy', repeat, 100, PMD_BYTES, { bytes: 0, pmdMoves: 0 }),
    run('flip', repeat, 120, PMD_BYTES, remapped([0.9, 1, 0.95][repeat - 1])),
  ]);
  t.equal(mainChunk(runs), CHUNK, 'the chunk most runs used (a tie: the smaller)');
  t.equal(mainChunk(runs.filter((r) => r.mode !== 'zerocopy' || r.chunkBytes !== CHUNK)), PMD_BYTES, 'the chunk most runs used');
  const summary = summarize(runs, CHUNK);
  const flip2m = summary.points.find((p) => p.mode === 'flip' && p.chunkBytes === PMD_BYTES)!;
  const flip = summary.points.find((p) => p.mode === 'flip' && p.chunkBytes === undefined)!;
  t.equal(summary.points.length, 6, 'six points, the 2 MiB ones keyed apart');
  t.equal(flip2m.vsCopy!.efficiency, 1.5, 'flip at 2 MiB ÷ copy at 2 MiB (120 ÷ 80), not ÷ copy at 256 KiB');
  t.equal(flip.vsCopy!.efficiency, 0.5);
  t.equal(flip2m.pmdShare, 0.95, 'median share over repeats');
  t.equal(flip.pmdShare, 0);
  t.equal(summary.points.find((p) => p.mode === 'copy' && p.chunkBytes === undefined)!.pmdShare, null, 'copy remaps nothing');
  t.same(mainPoints(summary.points).map((p) => p.mode), ['copy', 'flip', 'zerocopy'], 'the main view is the run\'s own chunk');
  t.same(summary.cases.map((c) => `${c.mode} ${c.ratio.median}`), ['zerocopy 0.9', 'flip 0.5'], 'the verdict compares like with like');
  t.same(summarize(runs), summary, 'the main chunk defaults to the one most runs used');
});

/** The fixture with 2 MiB-chunk copy, zerocopy and flip runs added at MTU 4148 (what a full default run holds). */
function withPmdRuns(): CompareReport {
  const report = fixtureReport();
  const extra: RunResult[] = [];
  for (const r of report.runs.filter((r) => r.mtu === 4148 && ['copy', 'zerocopy', 'flip'].includes(r.mode) && r.sender === 'zerocopy')) {
    extra.push({ ...r, chunkBytes: PMD_BYTES, remap: r.mode === 'flip' ? { bytes: r.mappedBytes, pmdMoves: Math.floor(r.mappedBytes / PMD_BYTES) } : { bytes: 0, pmdMoves: 0 } });
  }
  for (const r of report.runs) if (r.mode !== 'iperf3') r.chunkBytes = CHUNK;
  report.runs.push(...extra);
  report.summary = { ...summarize(report.runs, CHUNK), verdict: report.summary.verdict };
  return report;
}

t.test('every view labels the 2 MiB rows: table, CSV, HTML, Markdown; the JSON validates', async (t) => {
  const report = withPmdRuns();
  t.equal(checkSchema(compareReportSchema, JSON.parse(renderJson(report))), null, 'schema-valid');
  t.same(parseReport(renderJson(report)), report, 'round trip');
  const rows = pmdRows(report);
  t.ok(rows.some((r) => r.point.mode === 'flip' && r.chunkBytes === PMD_BYTES && r.vsZerocopy !== null), 'flip at 2 MiB ÷ zerocopy at 2 MiB');
  t.ok(rows.some((r) => r.point.mode === 'flip' && r.chunkBytes === CHUNK), 'the run\'s own flip beside it');
  for (const r of rows) t.equal(runsOf(report, r.point).length, 3, `${r.point.mode} at ${r.chunkBytes}: its own three runs`);
  const table = renderTable(report, { width: 160 });
  t.match(table, /Page-table flips/);
  t.match(table, /flip\s+2\.00 MiB/);
  t.match(table, /flip \(2\.00 MiB chunk\)←zerocopy/, 'the calls line names the chunk');
  t.notMatch(table, /TLB flushes per MB need --perf/, 'perf was on');
  const csv = renderCsv(report).split('\r\n');
  const header = csv[0].split(',');
  t.ok(['chunk_bytes', 'remapped_bytes', 'pmd_moves'].every((c) => header.includes(c)), 'per-run chunk and remaps');
  t.ok(csv.some((line) => line.split(',')[header.indexOf('chunk_bytes')] === String(PMD_BYTES)));
  const html = renderHtml(report);
  t.match(html, /<section id="pmd">/);
  t.match(html, /PMD share/);
  t.match(renderMarkdown(report), /## Page-table flips \(2 MiB slots\)/);
  const noPerf = { ...report, config: { ...report.config, perf: false } };
  t.match(renderTable(noPerf, { width: 160 }), /TLB flushes per MB need --perf/, 'says where TLB flushes are not available');
});

t.test('reports saved before per-point chunks still parse and render, without a page-table block', async (t) => {
  // The quick report saved by the last version without per-point chunks (bench/results/quick.json
  // at 921a3f9, measured 2026-12-02 08:37 UTC), kept as it was written.
  for (const name of ['report-before-chunks']) {
    const report = parseReport(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8'));
    t.ok(report.runs.every((r) => r.chunkBytes === undefined), `${name}: no per-run chunk`);
    t.equal(pmdRows(report).length, 0);
    t.notMatch(renderTable(report), /Page-table flips/);
    t.ok(renderCsv(report).split('\r\n')[1].includes(','), 'CSV rows');
    t.notMatch(renderHtml(report), /id="pmd"/);
    // Its own summary is what the same statistics give today.
    t.same(summarize(report.runs, report.config.chunkBytes).points.length, report.summary.points.length);
  }
});

const skip = netnsSkip || (capabilities().zerocopyReceive.supported ? false : 'no TCP_ZEROCOPY_RECEIVE here');

t.test('a real compare with the 2 MiB rows: each run records its chunk, flip at 2 MiB takes the PMD path', { skip }, async (t) => {
  const options: CompareOptions = { modes: ['copy', 'zerocopy', 'flip'], mtus: [4148], touch: 'no', bytes: 16 * 2 ** 20, repeats: 1, warmupSeconds: 0, reference: 'none', pmdRows: true };
  const env = localEnvironment(options, new Map());
  let report: CompareReport;
  try {
    report = await compare(options, env);
  } finally {
    await env.close();
  }
  t.equal(report.error, undefined);
  t.equal(report.runs.length, 7, 'copy, zerocopy, flip, copy ← write at 256 KiB; copy, zerocopy, flip at 2 MiB');
  t.same(report.runs.filter((r) => r.chunkBytes === PMD_BYTES).map((r) => r.mode).sort(), ['copy', 'flip', 'zerocopy']);
  t.ok(report.runs.every((r) => r.bytes === options.bytes && r.mismatches === 0), 'every byte arrived');
  const flip2m = report.summary.points.find((p) => p.mode === 'flip' && p.chunkBytes === PMD_BYTES)!;
  const flip = report.summary.points.find((p) => p.mode === 'flip' && p.chunkBytes === undefined)!;
  t.equal(flip.pmdShare, 0, 'a 256 KiB flip moves PTEs');
  // A busy machine wakes some receives early (partial slots, PTE path); most slots still fill.
  t.ok(flip2m.pmdShare! > 0.5, `PMD share at 2 MiB: ${flip2m.pmdShare}`);
  t.ok(flip2m.vsCopy, 'paired with copy at 2 MiB');
  t.equal(checkSchema(compareReportSchema, JSON.parse(renderJson(report))), null);
  t.match(renderTable(report, { width: 160 }), /Page-table flips/);
  t.match(report.method.join('\n'), /flips of whole 2 MiB slots/);
});
