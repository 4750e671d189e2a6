// The calibration's result is checked for shape and internal consistency only: the machine is
// shared and noisy, so no absolute time or speed ratio is asserted.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { inspect } from 'node:util';
import {
  crossoverSummary,
  formatCalibration,
  runCalibration,
  type CalibrationResult,
  type PageOpFigure,
} from '../lib/experiment/calibrate.js';
import { mappingCount, virtualBytes } from './helpers/procfs.js';
import { capabilities } from '../lib/capabilities.js';
import { modelTerms, predict } from '../lib/experiment/model.js';
import { binding } from '../lib/native.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZES = [4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB, 16 * MiB, 64 * MiB];
const PAGES = [1, 4, 16, 64, 256, 512];

function threadCount(): number {
  return Number(readFileSync('/proc/self/status', 'utf8').match(/^Threads:\s+(\d+)/m)?.[1]);
}

// Subtest type, as tap hands it to a test callback.
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

function positive(t: Test, value: unknown, what: string): void {
  t.ok(typeof value === 'number' && Number.isFinite(value) && value > 0, `${what} = ${String(value)} is finite and > 0`);
}

function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

const result: CalibrationResult = await runCalibration({ quick: true });
// Baseline for the leak check, taken after a first run: glibc keeps the malloc arena and the cached
// stacks of exited threads mapped for reuse (~150 MiB of address space), so the later runs must
// leave everything where it is now. Reading a file through fs.promises starts libuv's thread pool
// now rather than later.
await readFile('/proc/self/status');
const threadsBefore = threadCount();
const mapsBefore = mappingCount();
const vsizeBefore = virtualBytes();

t.test('describes the machine, the options and the method', async (t) => {
  t.ok(Number.isInteger(result.cpus) && result.cpus >= 1, `cpus = ${result.cpus}`);
  t.ok(Number.isInteger(result.pageSize) && result.pageSize >= 4096, `pageSize = ${result.pageSize}`);
  t.same(result.options, { quick: true, cellMs: 4, trials: 3, coldPoolMiB: 64 }, 'quick defaults echoed');
  t.ok(Number.isInteger(result.measureCpu) && result.measureCpu >= 0);
  // Usable CPUs are the affinity mask's (taskset), not the online count.
  t.equal(result.secondThreadCpu === null, availableParallelism() < 2, 'a second thread ran exactly when 2+ CPUs are usable');
  if (result.secondThreadCpu !== null) t.not(result.secondThreadCpu, result.measureCpu, 'on another CPU');
  t.match(result.mremapFlags, /^MREMAP_MAYMOVE\|MREMAP_FIXED(\|MREMAP_DONTUNMAP)?$/);
  positive(t, result.elapsedMs, 'elapsedMs');
  t.ok(result.method.length >= 8 && result.method.every((line) => typeof line === 'string' && line.length > 20), 'method lines');
  const method = result.method.join('\n');
  for (const word of ['CLOCK_MONOTONIC', 'memcpy hot', 'memcpy cold', 'mremap', 'MADV_DONTNEED', 'crossover'])
    t.ok(method.includes(word), `method explains ${word}`);
});

t.test('memcpy: every size, hot and cold, consistent units', async (t) => {
  const expected = [...new Set([...SIZES, ...PAGES.map((n) => n * result.pageSize)])].sort((a, b) => a - b);
  t.same(
    result.memcpy.map((row) => row.bytes),
    expected,
    'listed sizes plus each page count',
  );
  for (const row of result.memcpy) {
    for (const kind of ['hot', 'cold'] as const) {
      const f = row[kind];
      const what = `${row.bytes} B ${kind}`;
      positive(t, f.gbPerSec, `${what} GB/s`);
      positive(t, f.nsPerCall, `${what} ns/call`);
      t.ok(Number.isInteger(f.calls) && f.calls >= result.options.trials, `${what}: ${f.calls} calls timed`);
      t.ok(close(f.nsPerPage, (f.nsPerCall * result.pageSize) / row.bytes), `${what} ns/page = ns/call / pages`);
      t.ok(close(f.gbPerSec, row.bytes / f.nsPerCall), `${what} GB/s = bytes / ns`);
    }
  }
});

function checkFigure(t: Test, f: PageOpFigure, pages: number, what: string): void {
  positive(t, f.usPerCall, `${what} µs/call`);
  t.ok(close(f.usPerPage, f.usPerCall / pages), `${what} µs/page = µs/call / pages`);
  t.ok(Number.isInteger(f.calls) && f.calls > 0, `${what}: ${f.calls} calls`);
  t.ok(f.tlbIpisPerCall === null || (Number.isFinite(f.tlbIpisPerCall) && f.tlbIpisPerCall >= 0), `${what} IPIs/call`);
}

t.test('mremap and madvise: every page count, alone and with a second thread', async (t) => {
  for (const [name, rows] of [
    ['mremap', result.mremap],
    ['madvise', result.madvise],
  ] as const) {
    t.same(
      rows.map((row) => row.pages),
      PAGES,
      `${name} page counts`,
    );
    for (const row of rows) {
      checkFigure(t, row.alone, row.pages, `${name} ${row.pages} alone`);
      t.equal(row.alone.secondThreadOnCpu, undefined, 'no second-thread share when alone');
      if (result.secondThreadCpu === null) {
        t.equal(row.secondThread, null);
        t.equal(row.slowdown, null);
        continue;
      }
      const busy = row.secondThread!;
      checkFigure(t, busy, row.pages, `${name} ${row.pages} with second thread`);
      const share = busy.secondThreadOnCpu!;
      // Anything else runnable on that CPU (tap, V8 helpers) may take it from the thread: only a range.
      t.ok(share >= 0 && share <= 1.05, `second thread on CPU ${(share * 100).toFixed(0)}% of the cell`);
      t.ok(close(row.slowdown!, busy.usPerCall / row.alone.usPerCall), 'slowdown = busy / alone');
    }
  }
});

t.test('crossover: one per copy case and mover, consistent with the figures it cites', async (t) => {
  const movers = result.secondThreadCpu === null ? ['alone'] : ['alone', 'secondThread'];
  t.same(
    result.crossover.map((c) => `${c.copy}/${c.mover}`).sort(),
    ['hot', 'cold'].flatMap((copy) => movers.map((mover) => `${copy}/${mover}`)).sort(),
  );
  for (const c of result.crossover) {
    const what = `${c.copy} copy, ${c.mover}`;
    t.same(
      c.points.map((p) => p.pages),
      PAGES,
      `${what}: a point per page count`,
    );
    for (const p of c.points) {
      const move = result.mremap.find((row) => row.pages === p.pages)!;
      const figure = c.mover === 'alone' ? move.alone : move.secondThread!;
      const copy = result.memcpy.find((row) => row.bytes === p.pages * result.pageSize)!;
      t.ok(close(p.moveUsPerPage, figure.usPerPage), `${what} @${p.pages}: move cost is the mremap row's`);
      t.ok(close(p.copyUsPerPage, copy[c.copy].nsPerPage / 1000), `${what} @${p.pages}: copy cost is the memcpy row's`);
    }
    const first = c.points.find((p) => p.moveUsPerPage < p.copyUsPerPage);
    t.equal(c.pages, first ? first.pages : null, `${what}: crossover = ${c.pages}`);
    t.ok(c.pages === null || PAGES.includes(c.pages), 'null or a listed page count');
  }
});

t.test('the terminal report and summary show every figure', async (t) => {
  const text = formatCalibration(result);
  for (const heading of ['memcpy', 'page moves: mremap(', 'page drops: madvise(MADV_DONTNEED)', 'crossover', 'method:'])
    t.ok(text.includes(heading), `has ${heading}`);
  for (const label of ['4 KiB', '256 KiB', '2 MiB', '64 MiB']) t.match(text, new RegExp(`^\\s+${label}\\s`, 'm'), `row ${label}`);
  for (const pages of PAGES) t.match(text, new RegExp(`^\\s+${pages}\\s+\\d`, 'm'), `row ${pages} pages`);
  t.equal(text.split('\n').filter((line) => / copy, /.test(line)).length, result.crossover.length, 'a line per crossover');
  t.ok(text.split('\n').every((line) => line.length <= 120), 'lines fit a terminal');
  t.match(text, /^  - timing: clock_gettime/m, 'method lines are listed');
  const summary = crossoverSummary(result);
  t.notOk(summary.includes('\n'), 'the summary is one line');
  for (const c of result.crossover) {
    const name = `${c.copy} copy${c.mover === 'alone' ? '' : ' + 2nd thread'}`;
    t.ok(summary.includes(`${name}: ${c.pages === null ? 'never' : `${c.pages} pages`}`), `summary has ${name}`);
  }
  t.match(summary, /Moving one page costs [\d.]+ µs alone/);
});

t.test('the report copes with a single CPU, no crossover and a descheduled second thread', async (t) => {
  const single: CalibrationResult = structuredClone(result);
  single.secondThreadCpu = null;
  for (const row of [...single.mremap, ...single.madvise]) {
    row.secondThread = null;
    row.slowdown = null;
    row.alone.tlbIpisPerCall = null;
  }
  single.crossover = single.crossover.filter((c) => c.mover === 'alone').map((c) => ({ ...c, pages: null }));
  const text = formatCalibration(single);
  t.match(text, /second thread not measured/);
  t.match(text, /never up to 512 pages/);
  t.match(text, /\bn\/a\b/);
  t.notMatch(text, /note: in \d+ of/);
  t.match(crossoverSummary(single), /hot copy: never; cold copy: never\. Moving one page costs [\d.]+ µs alone; copying/);

  const descheduled: CalibrationResult = structuredClone(result);
  descheduled.secondThreadCpu ??= 1;
  for (const row of [...descheduled.mremap, ...descheduled.madvise]) {
    row.secondThread = { ...row.alone, secondThreadOnCpu: 1 };
    row.slowdown = 1;
  }
  const row = descheduled.mremap[2];
  row.secondThread = { ...row.alone, usPerCall: 1234.4, secondThreadOnCpu: 0.5 };
  descheduled.madvise[0].secondThread!.secondThreadOnCpu = 0.7;
  const text2 = formatCalibration(descheduled);
  t.match(text2, /in 2 of 12 cells the second thread was on its CPU only 50%-70% of the time/);
  t.match(text2, /^\s+16\s.*\s50%\s/m, 'the share is in the table');
  t.match(text2, /^\s+16\s.*\s1234\s/m, 'large figures print without exponent');
});

t.test('socket terms, flows, faults and reads: every chunk size, consistent shapes', async (t) => {
  t.equal(result.schema, 'pageflip-calibrate/1');
  const socket = result.socket;
  const bytes = [1, 4, 16, 64, 256].map((n) => n * result.pageSize);
  t.equal(socket.segmentBytes, result.pageSize, 'one page per segment');
  t.same(socket.recvCopy.map((row) => row.bytes), bytes, 'recv copy at every chunk size');
  for (const row of socket.recvCopy) {
    positive(t, row.hotUsPerCall, `recv ${row.bytes} hot`);
    positive(t, row.coldUsPerCall, `recv ${row.bytes} cold`);
    t.ok(Number.isInteger(row.calls) && row.calls > 0);
  }
  if (capabilities().zerocopyReceive.supported) {
    t.equal(socket.zerocopyMissing, null, 'zero-copy receive measured where the kernel has it');
    t.same(socket.zerocopy?.map((row) => row.bytes), bytes);
    for (const row of socket.zerocopy ?? []) {
      positive(t, row.mapUsPerCall, `map ${row.bytes}`);
      positive(t, row.zapUsPerCall, `zap ${row.bytes}`);
      t.ok(Number.isFinite(row.touchUsPerCall) && row.touchUsPerCall >= 0, `touch ${row.bytes}: ${row.touchUsPerCall} µs, finite and ≥ 0`);
    }
    // Reading 1 MiB of just-mapped pages takes real time, whatever the zap medians do around it.
    t.ok(Math.max(...(socket.zerocopy ?? []).map((row) => row.touchUsPerCall)) > 0, 'touch of the largest chunks measured above zero');
    for (const row of socket.zerocopy ?? [])
      t.ok(Number.isFinite(row.flipMoveUsPerCall) && row.flipMoveUsPerCall > 0, `flip's move + release ${row.bytes}: ${row.flipMoveUsPerCall} µs, finite and > 0`);
  }
  t.equal(socket.flow.chunkBytes, 256 * KiB);
  t.equal(socket.flow.senderCpu, result.secondThreadCpu, 'the flow sender ran where the second thread did');
  positive(t, socket.flow.truncateUsPerMB, 'floor µs/MB');
  positive(t, socket.flow.copyUsPerMB, 'flow copy µs/MB');
  for (const f of [socket.fault, socket.readHot, socket.readCold]) positive(t, f.usPerPage, 'µs/page');
  positive(t, result.virtualization.faultUs, 'virtualization fault µs');
  t.match(result.virtualization.summary, /page fault costs/);
  const method = result.method.join('\n');
  for (const word of ['socket terms', 'TCP_ZEROCOPY_RECEIVE', 'flow:', 'MSG_TRUNC', 'fault:']) t.ok(method.includes(word), `method explains ${word}`);
  const p = predict(modelTerms(result), { mtu: 4148, chunkBytes: 256 * KiB, touch: false, otherCpus: 0 });
  t.ok(p.every((x) => (x.usPerMB !== null && x.usPerMB > 0) || x.missing.length > 0), 'each mode predicted, or its missing terms named');
  t.match(formatCalibration(result), /predicted receiver CPU-µs per MB[\s\S]*predicted crossover[\s\S]*host: /);
});

t.test('without zero-copy receive: the model says so and predicts only what it can', async (t) => {
  binding.setTestSwitch('noZerocopy', true);
  t.teardown(() => binding.setTestSwitch('noZerocopy', false));
  const without = await runCalibration({ quick: true, cellMs: 1, trials: 1 });
  t.equal(without.socket.zerocopy, null);
  t.match(without.socket.zerocopyMissing, /disabled by the test switch/);
  const terms = modelTerms(without);
  t.match(terms.missing.join('\n'), /zero-copy receive.*disabled by the test switch/);
  const p = predict(terms, { mtu: 4148, chunkBytes: 256 * KiB, touch: true, otherCpus: 0 });
  t.same(p.filter((x) => x.usPerMB === null).map((x) => x.mode), ['zerocopy', 'flip'], 'no figure for the modes that need it');
  const text = formatCalibration(without);
  t.match(text, /TCP_ZEROCOPY_RECEIVE\s+not measured/);
  t.match(text, /not measured here \(predictions that need these are n\/a\):/);
  t.match(text, /zerocopy\s+notouch\s+MTU 4148: cannot predict/);
});

t.test('bad options reject with typed errors', async (t) => {
  const cases: Array<[unknown, string, ErrorConstructor]> = [
    ['quick', 'ERR_PAGEFLIP_INVALID_ARG_TYPE', TypeError],
    [null, 'ERR_PAGEFLIP_INVALID_ARG_TYPE', TypeError],
    [[], 'ERR_PAGEFLIP_INVALID_ARG_TYPE', TypeError],
    [() => 1, 'ERR_PAGEFLIP_INVALID_ARG_TYPE', TypeError],
    [{ quick: 1 }, 'ERR_PAGEFLIP_INVALID_ARG_TYPE', TypeError],
    [{ cellMs: '5' }, 'ERR_PAGEFLIP_INVALID_ARG_TYPE', TypeError],
    [{ cellMs: 5n }, 'ERR_PAGEFLIP_INVALID_ARG_TYPE', TypeError],
    [{ cellMs: NaN }, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [{ cellMs: -1 }, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [{ cellMs: 0 }, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [{ cellMs: Infinity }, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [{ trials: 0 }, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [{ trials: -3 }, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [{ trials: 2.5 }, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [{ trials: NaN }, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [{ trials: 1000 }, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [{ trials: '3' }, 'ERR_PAGEFLIP_INVALID_ARG_TYPE', TypeError],
    [{ trials: { valueOf: () => 3 } }, 'ERR_PAGEFLIP_INVALID_ARG_TYPE', TypeError],
    [{ coldPoolMiB: 1 }, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [{ coldPoolMiB: -64 }, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [{ coldPoolMiB: 2 ** 53 }, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [{ coldPoolMiB: Math.ceil(totalmem() / MiB) }, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [{ coldPoolMiB: null }, 'ERR_PAGEFLIP_INVALID_ARG_TYPE', TypeError],
  ];
  for (const [options, code, type] of cases) {
    await t.rejects(runCalibration(options as never), { code, constructor: type }, `runCalibration(${inspect(options)})`);
  }
  const getter = {
    get quick(): boolean {
      throw new Error('hostile getter');
    },
  };
  await t.rejects(runCalibration(getter), { message: 'hostile getter' }, 'a throwing getter rejects, nothing crashes');
});

t.test('one calibration at a time per process', async (t) => {
  const first = runCalibration({ quick: true, cellMs: 1, trials: 1 });
  await t.rejects(runCalibration(), { code: 'ERR_PAGEFLIP_BUSY' }, 'a second concurrent run is refused');
  const done = await first;
  t.same(done.options, { quick: true, cellMs: 1, trials: 1, coldPoolMiB: 64 }, 'explicit options override quick');
  const again = await runCalibration({ quick: true, cellMs: 1, trials: 1 });
  positive(t, again.elapsedMs, 'a later run is accepted');
});

t.test('leaves no threads or mappings behind', async (t) => {
  // Four runs since the baseline (three above, one here); each maps 192 MiB of buffers, 96 MiB of
  // madvise pools and 14 MiB of mremap ranges in about 70 mappings, and starts two threads.
  await runCalibration({ quick: true, cellMs: 1, trials: 1 });
  t.equal(threadCount(), threadsBefore, `thread count back to ${threadsBefore}: every thread joined`);
  const grown = virtualBytes() - vsizeBefore;
  t.ok(grown < 32 * MiB, `address space grew by ${(grown / MiB).toFixed(1)} MiB (one run's leak would be >= 96 MiB)`);
  // V8 (and ASan's allocator, in the sanitizer run) map and unmap heap pages as they like: between
  // -83 and +46 VMAs over the same four runs here. A leak would be ~70 VMAs per run, +280 by now.
  const extraMaps = mappingCount() - mapsBefore;
  t.ok(extraMaps <= 140, `mapping count near baseline (${extraMaps >= 0 ? '+' : ''}${extraMaps} VMAs)`);
});
