// The cost model's arithmetic on fixed inputs (no measurement): a synthetic calibration whose
// every term is an exact line, so each prediction can be worked out by hand from README's equations.
import t from 'tap';
import type { CalibrationResult } from '../lib/experiment/calibrate.js';
import { parseCalibration } from '../lib/experiment/calibration-file.js';
import { crossoverChunk, fitLinear, floorAt, mappable, modelTerms, predict, predictMode } from '../lib/experiment/model.js';
import { modelReport, otherCpusFor, ratioError, withinMeasuredSpread } from '../lib/experiment/model-report.js';
import { assessVirtualization } from '../lib/experiment/virtualization.js';
import { parseReport, renderHtml, renderJson, renderTable } from '../lib/report/index.js';
import type { PageOpRow } from '../lib/native.js';
import { fixtureReport } from './fixtures/compare-report.js';

const PAGES = [1, 4, 16, 64, 256];
const line = (a: number, b: number) => (n: number) => a + b * n;

function rows(alone: (n: number) => number, busy: ((n: number) => number) | null): PageOpRow[] {
  return [...PAGES, 512].map((pages) => ({
    pages,
    alone: { usPerCall: alone(pages), usPerPage: alone(pages) / pages, calls: 10, tlbIpisPerCall: null },
    secondThread: busy ? { usPerCall: busy(pages), usPerPage: busy(pages) / pages, calls: 10, tlbIpisPerCall: null } : null,
    slowdown: busy ? busy(pages) / alone(pages) : null,
  }));
}

/** recv hot 0.5+0.25n, cold 1+0.5n; map 2+0.2n, zap 1+0.1n, flip's move + release 6+0.4n; mremap 3+0.05n (+2/call with a 2nd CPU); anon zap 1+0.3n (+1/call). */
function calibration(overrides: { zerocopy?: boolean; cpus?: 1 | 2; recvHot?: (n: number) => number; dontunmap?: boolean; llc?: number; pmd?: boolean; segment?: boolean } = {}): CalibrationResult {
  const two = (overrides.cpus ?? 2) === 2;
  const hot = overrides.recvHot ?? line(0.5, 0.25);
  const zerocopy = overrides.zerocopy ?? true;
  return {
    schema: 'pageflip-calibrate/1',
    cpus: two ? 2 : 1,
    pageSize: 4096,
    options: { quick: true, cellMs: 4, trials: 3, coldPoolMiB: 64 },
    measureCpu: 0,
    secondThreadCpu: two ? 1 : null,
    lastLevelCacheBytes: overrides.llc ?? 32 * 2 ** 20,
    mremapFlags: overrides.dontunmap === false ? 'MREMAP_MAYMOVE|MREMAP_FIXED' : 'MREMAP_MAYMOVE|MREMAP_FIXED|MREMAP_DONTUNMAP',
    memcpy: [],
    mremap: rows(line(3, 0.05), two ? line(5, 0.05) : null),
    madvise: rows(line(1, 0.3), two ? line(2, 0.3) : null),
    mremapPmd: overrides.pmd === false ? null : rows(line(4, 0), two ? line(7, 0) : null)[5],
    crossover: [],
    socket: {
      segmentBytes: 4096,
      recvCopy: PAGES.map((n) => ({ bytes: n * 4096, hotUsPerCall: hot(n), coldUsPerCall: 1 + 0.5 * n, calls: 10 })),
      zerocopy: zerocopy ? PAGES.map((n) => ({ bytes: n * 4096, mapUsPerCall: 2 + 0.2 * n, zapUsPerCall: 1 + 0.1 * n, touchUsPerCall: 0.5 + 1.5 * n, flipMoveUsPerCall: 6 + 0.4 * n, calls: 10, tlbIpisPerCall: null })) : null,
      zerocopyMissing: zerocopy ? null : 'TCP_ZEROCOPY_RECEIVE disabled by the test switch',
      flow: { chunkBytes: 262144, senderCpu: two ? 1 : null, sender: 'zerocopy', truncateUsPerMB: 100, copyUsPerMB: 150, truncateTwoPagesUsPerMB: overrides.segment === false ? null : 80 },
      fault: { usPerPage: 2, pages: 100 },
      readHot: { usPerPage: 0.1, pages: 100 },
      readCold: { usPerPage: 0.4, pages: 100 },
    },
    elapsedMs: 1,
    method: [],
    virtualization: { hypervisor: null, faultUs: 0.3, syscallUs: 0.1, pageTableWorkExpensive: false, hints: [], summary: 'bare metal', method: 'fixed' },
  };
}

const C = 1e6 / 262144; // calls per MB at 256 KiB
// The fixture's floor: 100 at one page per segment, 80 at two, so a segment costs 20 / (P - P/2).
const SEGMENT = 20 / (1e6 / 4096 / 2);
const floor = (mtu: number) => 100 - SEGMENT * (1e6 / 4096 - 1e6 / (mtu - 52));
const P = 1e6 / 4096; // pages per MB
const near = (actual: number | null, expected: number) => actual !== null && Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected));

t.test('fitLinear recovers exact lines and clamps negative terms', async (t) => {
  const fit = fitLinear([1, 4, 16, 64].map((n) => ({ n, y: 2 + 0.5 * n })));
  t.ok(near(fit.perCallUs, 2) && near(fit.perPageUs, 0.5), `2 + 0.5n recovered: ${JSON.stringify(fit)}`);
  // y = 2n - 1 would need a negative per-call cost: the fit goes through the origin instead.
  const clamped = fitLinear([1, 2, 4].map((n) => ({ n, y: 2 * n - 1 })));
  t.equal(clamped.perCallUs, 0);
  t.ok(clamped.perPageUs > 0);
  // Falling costs would need a negative per-page cost: a constant instead.
  const flat = fitLinear([{ n: 1, y: 4 }, { n: 2, y: 3 }]);
  t.equal(flat.perPageUs, 0);
  t.ok(flat.perCallUs > 3 && flat.perCallUs < 4);
  t.throws(() => fitLinear([{ n: 1, y: 0 }]), RangeError, 'no positive point: no fit');
});

t.test('predictions follow the equations (MTU 4148, 256 KiB, notouch and touch, one other CPU)', async (t) => {
  const terms = modelTerms(calibration());
  t.same(terms.missing, [], 'everything measured');
  const s = { mtu: 4148, chunkBytes: 262144, touch: false, otherCpus: 1 };
  const copy = 100 + C * (0.5 + 0.25 * 64);
  const zerocopy = 100 + C * (2 + 0.2 * 64 + (1 + 0.1 * 64) + 1); // map + zap + shootdown on the zap
  const flip = zerocopy - C * (1 + 0.1 * 64) + C * (6 + 0.4 * 64 + 2); // the zap in place becomes flip's move + release, + the move's shootdown
  const copyRemap = 100 + C * (0.5 + 0.25 * 64 + 3 + 0.05 * 64 + 1 + 0.3 * 64 + 2 + 1) + P * 2;
  const p = predict(terms, s);
  t.same(p.map((x) => x.mode), ['copy', 'zerocopy', 'flip', 'copy-remap']);
  for (const [i, expected] of [copy, zerocopy, flip, copyRemap].entries()) t.ok(near(p[i].usPerMB, expected), `${p[i].mode}: ${p[i].usPerMB} = ${expected}`);
  t.equal(p[0].ratio, null, 'copy has no ratio to itself');
  t.ok(near(p[1].ratio, zerocopy / copy) && near(p[2].ratio, flip / copy), 'ratios are prediction ÷ copy prediction');
  const touch = predict(terms, { ...s, touch: true });
  t.ok(near(touch[0].usPerMB, copy + P * 0.1), 'touch adds a hot read per page to copy');
  t.ok(near(touch[1].usPerMB, zerocopy + C * (0.5 + 1.5 * 64)), 'and the first touch of just-mapped pages per call to zerocopy');
  t.ok(near(touch[2].usPerMB, flip + C * (0.5 + 1.5 * 64)), 'flip\'s moved pages cost the same first touch');
  // copy-remap's moved pages: a hot read, plus what new PTEs add to a first read over a cold one.
  t.ok(near(touch[3].usPerMB, copyRemap + P * 0.1 + C * (0.5 + 1.5 * 64 - 64 * 0.4)), 'copy-remap: a hot read plus the new-PTE surcharge');
  // A file saved before touchUsPerCall existed: read, said, and touch on mapped pages is a cold read.
  const old = calibration();
  for (const row of old.socket.zerocopy!) delete (row as { touchUsPerCall?: number }).touchUsPerCall;
  const oldTerms = modelTerms(old);
  t.equal(oldTerms.zerocopyTouch, null);
  t.match(oldTerms.missing.join(), /touch of freshly mapped pages: not in this calibration file/);
  t.ok(near(predict(oldTerms, { ...s, touch: true })[1].usPerMB, zerocopy + P * 0.4), 'an older file: a cold read per mapped page');
  t.ok(near(predict(oldTerms, { ...s, touch: true })[3].usPerMB, copyRemap + P * 0.1), 'and copy-remap a hot read, no new-PTE surcharge');
  // A file from before flipMoveUsPerCall: flip's move is an anonymous mremap plus a zap in place.
  for (const row of old.socket.zerocopy!) delete (row as { flipMoveUsPerCall?: number }).flipMoveUsPerCall;
  const olderTerms = modelTerms(old);
  t.equal(olderTerms.flipMove, null);
  t.match(olderTerms.missing.join(), /flip's move onto its destination: not in this calibration file/);
  t.ok(near(predict(olderTerms, s)[2].usPerMB, zerocopy + C * (3 + 0.05 * 64 + 2)), 'an older file: flip = zerocopy + mremap + its shootdown');
  // Touch that cost nothing measurable on any chunk is a zero line, not a failed fit.
  const free = calibration();
  for (const row of free.socket.zerocopy!) row.touchUsPerCall = 0;
  t.ok(near(predict(modelTerms(free), { ...s, touch: true })[1].usPerMB, zerocopy), 'touch measured as free adds nothing');
  const alone = predict(terms, { ...s, otherCpus: 0 });
  t.ok(near(alone[1].usPerMB, zerocopy - C), 'no other CPU: no shootdown term');
  // Above half the last-level cache a copy lands in evicted memory.
  const big = predictMode(terms, 'copy', { ...s, chunkBytes: 32 * 2 ** 20 });
  t.ok(near(big.usPerMB, 100 + (1e6 / 2 ** 25) * (1 + 0.5 * 8192)), 'large chunks use the cold copy');
});

t.test('2 MiB-slot flips move page tables: one PMD move per 2 MiB instead of 512 PTEs', async (t) => {
  const terms = modelTerms(calibration());
  const s = { mtu: 4148, chunkBytes: 4 * 2 ** 20, touch: false, otherCpus: 1 };
  const C4 = 1e6 / (4 * 2 ** 20);
  const n = 1024;
  const zerocopy = 100 + C4 * (2 + 0.2 * n + (1 + 0.1 * n) + 1);
  t.ok(near(predictMode(terms, 'flip', s).usPerMB, zerocopy + C4 * 2 * (4 + 3)), 'two PMD moves (4 µs + 3 µs shootdown) per 4 MiB chunk');
  const tail = predictMode(terms, 'flip', { ...s, mtu: 61512 });
  const nMapped = n * (61440 / 61460);
  const expected = floor(61512) + C4 * (2 + 0.2 * nMapped + 1 + 6 + 0.4 * nMapped + 2) + (1e6 / 61460) * (1 + 0.5 * (20 / 4096));
  t.ok(near(tail.usPerMB, expected), 'a packet tail breaks whole slots: flip\'s PTE move');
  const noPmd = modelTerms(calibration({ pmd: false }));
  t.match(noPmd.missing.join(), /page tables are not 2 MiB here/);
  t.ok(near(predictMode(noPmd, 'flip', s).usPerMB, zerocopy - C4 * (1 + 0.1 * n) + C4 * (6 + 0.4 * n + 2)), 'without the PMD term: flip\'s PTE move');
  const oneCpu = modelTerms(calibration({ cpus: 1 }));
  t.ok(near(predictMode(oneCpu, 'flip', { ...s, otherCpus: 0 }).usPerMB, 100 + C4 * (2 + 0.2 * n + 1 + 0.1 * n) + C4 * 2 * 4), 'alone: PMD moves without shootdown');
});

t.test('MTUs whose payload is not whole pages: a copied tail per packet; below a page, nothing mapped', async (t) => {
  const terms = modelTerms(calibration());
  t.same(mappable(61512, 4096), { payload: 61460, mapped: 61440 });
  const s = { mtu: 61512, chunkBytes: 262144, touch: false, otherCpus: 0 };
  const n = 64 * (61440 / 61460);
  const tail = (1e6 / 61460) * (1 + 0.5 * (20 / 4096));
  t.ok(near(predictMode(terms, 'zerocopy', s).usPerMB, floor(61512) + C * (2 + 0.2 * n + 1 + 0.1 * n) + tail));
  t.ok(floor(61512) < 100 && near(floor(4148), 100), 'fewer segments per MB at a larger MTU: a lower floor');
  t.ok(near(predictMode(terms, 'copy', { ...s, mtu: 8244 }).usPerMB, 80 + C * (0.5 + 0.25 * 64)), 'at 8244 (two pages per segment) the floor is the two-page flow');
  const flat = modelTerms(calibration({ segment: false }));
  t.match(flat.missing.join(), /per-segment receive cost: not measured/);
  t.ok(near(predictMode(flat, 'copy', { ...s, mtu: 8244 }).usPerMB, 100 + C * (0.5 + 0.25 * 64)), 'without it, one floor for every MTU');
  const small = predictMode(terms, 'flip', { ...s, mtu: 1500 });
  t.equal(small.usPerMB, null);
  t.match(small.missing.join(), /less than a page/);
});

t.test('missing features: named, and no figure made up', async (t) => {
  const s = { mtu: 4148, chunkBytes: 262144, touch: false, otherCpus: 1 };
  const noZc = modelTerms(calibration({ zerocopy: false }));
  t.match(noZc.missing.join('\n'), /zero-copy receive.*disabled by the test switch/);
  const p = predict(noZc, s);
  t.ok(p[0].usPerMB !== null && p[3].usPerMB !== null, 'copy and copy-remap still predicted');
  t.same([p[1].usPerMB, p[2].usPerMB, p[1].ratio], [null, null, null], 'zerocopy and flip are not');
  t.match(p[1].missing.join(), /zero-copy receive terms/);
  t.same(crossoverChunk(noZc, 'zerocopy', s), { chunkBytes: null, predictable: false });

  const oneCpu = modelTerms(calibration({ cpus: 1 }));
  t.match(oneCpu.missing.join('\n'), /TLB shootdown to another CPU: fewer than 2 usable CPUs/);
  t.match(oneCpu.missing.join('\n'), /floor includes the sender's work/);
  const shared = predict(oneCpu, s);
  t.same(shared.slice(1).map((x) => x.usPerMB), [null, null, null], 'no shootdown term: page-moving modes with another CPU not predicted');
  t.match(shared[1].missing.join(), /TLB shootdown with 1 other CPU/);
  t.ok(predict(oneCpu, { ...s, otherCpus: 0 }).every((x) => x.usPerMB !== null), 'alone on its CPU, all predicted');
  t.equal(predictMode(modelTerms(calibration()), 'zerocopy', { ...s, otherCpus: 2 }).usPerMB, null, 'two other CPUs were never measured');

  const noDontUnmap = modelTerms(calibration({ dontunmap: false }));
  t.match(noDontUnmap.missing.join(), /MREMAP_DONTUNMAP: not supported/);
  const moves = predict(noDontUnmap, { ...s, otherCpus: 0 });
  t.same(moves.map((x) => x.usPerMB === null), [false, false, true, true], 'copy and zerocopy predicted; the modes that move pages are not');
  t.match(moves[2].missing.join(), /without MREMAP_DONTUNMAP/);
});

t.test('crossover: the smallest chunk where moving costs the receiver less than copying', async (t) => {
  const s = { mtu: 4148, touch: false, otherCpus: 0 };
  // copy 0.5 + 0.5n against zerocopy (2 + 0.2n) + (1 + 0.1n) per call: cheaper once 0.2n > 2.5, from n = 16 pages.
  t.same(crossoverChunk(modelTerms(calibration({ recvHot: line(0.5, 0.5) })), 'zerocopy', s), { chunkBytes: 16 * 4096, predictable: true });
  // flip 6 + 0.35n never beats a hot copy 0.5 + 0.25n, but beats the cold one (1 + 0.5n) once chunks
  // outgrow half the 32 MiB last-level cache.
  t.same(crossoverChunk(modelTerms(calibration()), 'flip', s), { chunkBytes: 32 * 2 ** 20, predictable: true }, 'at 32 MiB');
  t.same(crossoverChunk(modelTerms(calibration({ llc: 2 ** 30 })), 'flip', s), { chunkBytes: null, predictable: true }, 'never');
});

t.test('the model beside a compare report: rows, measured ratios, JSON round trip, table and HTML', async (t) => {
  const report = fixtureReport();
  const threads = { ...report.config, layout: 'threads' as const, cpus: { rx: 0, tx: 1 } };
  t.equal(otherCpusFor(threads), 1, 'a sender thread on another CPU of the receiving process');
  t.equal(otherCpusFor({ ...threads, cpus: { rx: 0, tx: 0 } }), 0, 'the same CPU: no other CPU to shoot down');
  t.equal(otherCpusFor({ ...threads, layout: 'processes' }), 0, 'a sender process shares no page tables');
  t.equal(otherCpusFor({ ...report.config, network: 'peer' }), 0);
  const before = { table: renderTable(report), html: renderHtml(report) };
  t.notMatch(before.table, /Cost model/, 'no calibration, no block');
  t.notMatch(before.html, /id="model"/);
  report.model = modelReport(report, calibration(), 'fixture');
  const m = report.model;
  const modes = report.config.modes.filter((mode) => ['copy', 'zerocopy', 'flip', 'copy-remap'].includes(mode));
  t.equal(m.rows.length, report.config.mtus.length * report.config.touch.length * modes.length, 'a row per MTU, touch and modelled mode');
  const medianOf = (xs: number[]) => {
    xs = [...xs].sort((a, b) => a - b);
    return xs.length % 2 ? xs[(xs.length - 1) / 2] : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;
  };
  t.ok(m.rows.some((r) => r.measuredSpread), 'the fixture has paired rows');
  for (const row of m.rows.filter((r) => r.mode !== 'copy' && r.measuredRatio !== null)) {
    const runsOf = (mode: string) => report.runs.filter((r) => r.mode === mode && r.mtu === row.mtu && r.touch === row.touch && r.sender === row.sender && r.receiverThread);
    const copyByRepeat = new Map(runsOf('copy').map((r) => [r.repeat, r.receiverThread!.usPerMB]));
    const ratios = runsOf(row.mode).filter((r) => copyByRepeat.has(r.repeat)).map((r) => r.receiverThread!.usPerMB / copyByRepeat.get(r.repeat)!);
    t.ok(near(row.measuredRatio, medianOf(ratios)), `${row.mode} ${row.mtu} ${row.touch}: measured ratio is the median of the per-repeat ratios`);
    t.same(row.measuredSpread, { min: Math.min(...ratios), max: Math.max(...ratios), pairs: ratios.length }, 'with their min–max and count');
    t.ok(near(ratioError(row), row.predictedRatio! / row.measuredRatio! - 1));
    t.equal(withinMeasuredSpread(row), row.predictedRatio! >= row.measuredSpread!.min && row.predictedRatio! <= row.measuredSpread!.max);
  }
  // Runs from separate compares (no repeat has both): the medians' ratio, no spread.
  const unpaired = { ...report, runs: report.runs.map((r) => (r.mode === 'copy' ? { ...r, repeat: r.repeat + 1000 } : r)) };
  const lone = modelReport(unpaired, calibration(), 'fixture').rows.find((r) => r.mode !== 'copy' && r.measuredRatio !== null)!;
  const usOf = (mode: string) => medianOf(unpaired.runs.filter((r) => r.mode === mode && r.mtu === lone.mtu && r.touch === lone.touch && r.sender === lone.sender && r.receiverThread).map((r) => r.receiverThread!.usPerMB));
  t.ok(near(lone.measuredRatio, usOf(lone.mode) / usOf('copy')), 'unpaired: the medians\' ratio');
  t.equal(lone.measuredSpread, undefined, 'unpaired: no spread');
  t.equal(withinMeasuredSpread(lone), null);
  const back = parseReport(renderJson(report));
  t.same(back.model, m, 'the model survives the JSON round trip and validates');
  t.match(renderTable(report), /Cost model: predicted vs measured/);
  t.match(renderHtml(report), /<section id="model">[\s\S]*Predicted crossover/);
  // A report with a damaged model section is refused like any other damage.
  const broken = JSON.parse(renderJson(report));
  broken.model.rows[0].mode = 'teleport';
  t.throws(() => parseReport(JSON.stringify(broken)), { code: 'ERR_PAGEFLIP_BAD_REPORT', message: /model\.rows\[0\]\.mode/ });
});

t.test("the model on the receiver's CPUs: this compare's discard floor D for calibrate's F", async (t) => {
  const report = fixtureReport();
  t.equal(modelReport(report, calibration(), 'fixture').receiverSideFloor, undefined, 'no discard runs: no floor');
  t.ok(modelReport(report, calibration(), 'fixture').rows.every((r) => r.receiverSide === undefined), 'and no receiver-side ratios');
  // Discard runs made from copy's notouch runs, their receiver side at 80 % of copy's.
  const discard = report.runs
    .filter((r) => r.mode === 'copy' && r.sender === 'zerocopy' && !r.touch)
    .map((r) => ({ ...r, mode: 'discard' as const, sides: { ...r.sides!, receiver: { ...r.sides!.receiver, usPerMB: r.sides!.receiver.usPerMB * 0.8 } } }));
  report.runs.push(...discard);
  report.config.modes = [...report.config.modes, 'discard'];
  const m = modelReport(report, calibration(), 'fixture');
  const terms = modelTerms(calibration());
  const medianOf = (xs: number[]) => {
    xs = [...xs].sort((a, b) => a - b);
    return xs.length % 2 ? xs[(xs.length - 1) / 2] : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;
  };
  for (const mtu of report.config.mtus) {
    const D = medianOf(discard.filter((r) => r.mtu === mtu).map((r) => r.sides.receiver.usPerMB));
    t.same(m.receiverSideFloor?.find((f) => f.mtu === mtu), { mtu, usPerMB: D }, `${mtu}: D is discard's receiver-side median`);
  }
  const sided = m.rows.filter((r) => r.receiverSide);
  t.ok(sided.length > 0 && sided.every((r) => r.mode !== 'copy'), 'ratios for the modes beside copy');
  for (const row of sided) {
    const D = m.receiverSideFloor!.find((f) => f.mtu === row.mtu)!.usPerMB;
    const F = floorAt(terms, row.mtu);
    const copy = m.rows.find((r) => r.mode === 'copy' && r.mtu === row.mtu && r.touch === row.touch)!;
    t.ok(near(row.receiverSide!.predictedRatio, (D + row.predictedUsPerMB! - F) / (D + copy.predictedUsPerMB! - F)), `${row.mode} ${row.mtu} ${row.touch}: (D + mode − F) ÷ (D + copy − F)`);
    const runsOf = (mode: string) => report.runs.filter((r) => r.mode === mode && r.mtu === row.mtu && r.touch === row.touch && r.sender === 'zerocopy');
    const copyByRepeat = new Map(runsOf('copy').map((r) => [r.repeat, r.sides!.receiver.usPerMB]));
    const ratios = runsOf(row.mode).filter((r) => copyByRepeat.has(r.repeat)).map((r) => r.sides!.receiver.usPerMB / copyByRepeat.get(r.repeat)!);
    t.ok(near(row.receiverSide!.measuredRatio, medianOf(ratios)), 'measured: the per-repeat receiver-side ratios');
    t.same(row.receiverSide!.measuredSpread, { min: Math.min(...ratios), max: Math.max(...ratios), pairs: ratios.length });
  }
  report.model = m;
  t.same(parseReport(renderJson(report)).model, m, 'survives the JSON round trip and validates');
  t.match(renderTable(report), /On the receiver's CPUs[\s\S]*discard\s+floor[\s\S]*pred\/meas−1/);
  t.match(renderHtml(report), /<h3>On the receiver's CPUs<\/h3>/);
});

t.test('calibration files: the good one reads back, foreign and corrupt ones get a coded error', async (t) => {
  const good = calibration();
  t.same(parseCalibration(JSON.stringify(good), 'good.json').socket, good.socket);
  const bad = (text: string, message: RegExp, what: string) =>
    t.throws(() => parseCalibration(text, 'f.json'), { code: 'ERR_PAGEFLIP_BAD_CALIBRATION', message }, what);
  bad('{"schema":', /^f\.json: not JSON/, 'torn file');
  bad(JSON.stringify({ schema: 'pageflip-compare/1' }), /a "pageflip-compare\/1" file/, 'a compare report');
  bad('null', /not a calibration file/, 'null');
  bad(JSON.stringify({ ...good, pageSize: 'big' }), /\$\.pageSize: expected integer/, 'wrong type');
  bad(JSON.stringify({ ...good, mremap: [] }), /\$\.mremap: expected at least 1 items/, 'empty rows');
  bad(JSON.stringify({ ...good, socket: { ...good.socket, fault: { usPerPage: -1 } } }), /\$\.socket\.fault\.usPerPage: expected ≥/, 'negative cost');
  bad(JSON.stringify({ ...good, socket: { ...good.socket, zerocopy: null, zerocopyMissing: null } }), /zerocopy is null without a reason/, 'missing term without a reason');
  const negativeTouch = good.socket.zerocopy!.map((row, i) => (i === 0 ? { ...row, touchUsPerCall: -1 } : row));
  bad(JSON.stringify({ ...good, socket: { ...good.socket, zerocopy: negativeTouch } }), /\$\.socket\.zerocopy\[0\]\.touchUsPerCall: expected ≥/, 'a negative touch');
  const noTouch = good.socket.zerocopy!.map(({ touchUsPerCall: _, ...row }) => row);
  t.same(parseCalibration(JSON.stringify({ ...good, socket: { ...good.socket, zerocopy: noTouch } }), 'old.json').socket.zerocopy, noTouch, 'a file from before touchUsPerCall still reads');
  const noFlipMove = good.socket.zerocopy!.map(({ flipMoveUsPerCall: _, ...row }) => row);
  t.same(parseCalibration(JSON.stringify({ ...good, socket: { ...good.socket, zerocopy: noFlipMove } }), 'old.json').socket.zerocopy, noFlipMove, 'and one from before flipMoveUsPerCall');
  const zeroFlip = good.socket.zerocopy!.map((row, i) => (i === 0 ? { ...row, flipMoveUsPerCall: 0 } : row));
  bad(JSON.stringify({ ...good, socket: { ...good.socket, zerocopy: zeroFlip } }), /\$\.socket\.zerocopy\[0\]\.flipMoveUsPerCall: expected ≥/, 'a zero flip move');
});

t.test('virtualization verdict from measured figures', async (t) => {
  const vm = assessVirtualization({ hypervisor: true, hypervisorVendor: 'KVMKVMKVM', faultUs: 21, syscallUs: 1.4 }, ['nested_pvm=1']);
  t.equal(vm.hypervisor, 'KVM');
  t.equal(vm.pageTableWorkExpensive, true);
  t.match(vm.summary, /KVM guest.*21\.00 µs.*15× a 1\.40 µs syscall.*shadow or nested paging \(kernel command line: nested_pvm=1\).*handicaps/);
  const metal = assessVirtualization({ hypervisor: false, hypervisorVendor: null, faultUs: 0.4, syscallUs: 0.1 }, []);
  t.equal(metal.hypervisor, null);
  t.equal(metal.pageTableWorkExpensive, false);
  t.notMatch(metal.summary, /handicap/);
  const fast = assessVirtualization({ hypervisor: true, hypervisorVendor: null, faultUs: 0.5, syscallUs: 0.1 }, []);
  t.equal(fast.hypervisor, 'unnamed');
  t.match(fast.summary, /hardware-assisted/);
  t.match(assessVirtualization({ hypervisor: false, hypervisorVendor: null, faultUs: 5, syscallUs: 0.1 }, []).summary, /expensive here/);
});

t.test('the model beside the 2 MiB rows: predicted at 2 MiB (page-table moves), measured from the 2 MiB runs only', async (t) => {
  const report = fixtureReport();
  const PMD = 2 * 2 ** 20;
  const twoMiB = report.runs
    .filter((r) => r.mtu === 4148 && r.sender === 'zerocopy' && ['copy', 'zerocopy', 'flip'].includes(r.mode))
    .map((r) => ({ ...r, chunkBytes: PMD, receiverThread: { seconds: 1, usPerMB: r.mode === 'copy' ? 200 : r.mode === 'zerocopy' ? 150 : 165 } }));
  report.runs.push(...twoMiB);
  report.model = modelReport(report, calibration(), 'fixture');
  const rows = report.model.rows.filter((r) => r.chunkBytes === PMD);
  t.same(rows.map((r) => `${r.mtu} ${r.touch} ${r.mode}`).sort(), ['4148 false copy', '4148 false flip', '4148 false zerocopy', '4148 true copy', '4148 true flip', '4148 true zerocopy'], 'only where 2 MiB runs exist');
  for (const r of rows.filter((r) => r.mode !== 'copy')) t.ok(near(r.measuredRatio, r.mode === 'zerocopy' ? 0.75 : 0.825), `${r.mode} ${r.touch}: ÷ copy at 2 MiB`);
  const flipAt = (chunk: number | undefined) => report.model!.rows.find((r) => r.mode === 'flip' && r.mtu === 4148 && !r.touch && r.chunkBytes === chunk)!;
  t.ok(flipAt(PMD).predictedUsPerMB! < flipAt(undefined).predictedUsPerMB!, 'a page-table move costs less per MB than 512 PTE moves');
  t.ok(flipAt(undefined).measuredUsPerMB !== 165, 'the run\'s own rows leave the 2 MiB runs out');
  t.match(renderTable(report, { width: 160 }), /flip \(2\.00 MiB chunk\)/);
  t.same(parseReport(renderJson(report)).model, report.model, 'validates and round-trips');
});
