import t from 'tap';
import { setImmediate as nextImmediate } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PageRegion, capabilities } from '../lib/index.js';
import { isMapped, mappingCount, pageFrameNumbers, rssBytes, virtualBytes } from './helpers/procfs.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const page = PageRegion.pageSize;
// Page frame numbers are only visible to root; without them the frame checks skip with this reason.
const probe = PageRegion.alloc(page, { populate: true });
const pfnSkip = pageFrameNumbers(probe.address, 1, page) ? false : 'page frame numbers need root (/proc/self/pagemap hides PFNs)';
probe.close();

function fill(region: PageRegion, seed: number): void {
  const bytes = region.bytes;
  for (let i = 0; i < bytes.length; i += 97) bytes[i] = (i + seed) & 0xff;
}

function matches(bytes: Uint8Array, seed: number): boolean {
  for (let i = 0; i < bytes.length; i += 97) if (bytes[i] !== ((i + seed) & 0xff)) return false;
  return true;
}

t.test('alloc gives a page-aligned, zeroed, writable region', async (t) => {
  const region = PageRegion.alloc(4 * page);
  t.equal(region.length, 4 * page);
  t.equal(region.bytes.byteLength, 4 * page);
  t.equal(region.pageSize, page);
  t.equal(typeof region.address, 'bigint');
  t.equal(region.address % BigInt(page), 0n, 'address is page aligned');
  t.ok(region.bytes.every((b) => b === 0), 'fresh anonymous pages read as zero');
  region.bytes[5] = 42;
  t.equal(region.bytes[5], 42);
  t.equal(region.bytes, region.bytes, 'the view is cached while valid');
  t.equal(PageRegion.alloc(BigInt(page)).length, page, 'bigint sizes are accepted');
  region.close();
});

t.test('bad sizes and options throw typed errors and map nothing', async (t) => {
  const before = virtualBytes();
  const cases: Array<[unknown, string, ErrorConstructor]> = [
    [0, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [-page, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [NaN, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [Infinity, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [page + 0.5, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [page + 1, 'ERR_PAGEFLIP_NOT_PAGE_MULTIPLE', RangeError],
    [2 ** 53, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [2n ** 60n, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    [-4096n, 'ERR_PAGEFLIP_OUT_OF_RANGE', RangeError],
    ['4096', 'ERR_PAGEFLIP_INVALID_ARG_TYPE', TypeError],
    [{ valueOf: () => 4096 }, 'ERR_PAGEFLIP_INVALID_ARG_TYPE', TypeError],
    [null, 'ERR_PAGEFLIP_INVALID_ARG_TYPE', TypeError],
    [undefined, 'ERR_PAGEFLIP_INVALID_ARG_TYPE', TypeError],
  ];
  for (const [bytes, code, type] of cases) {
    t.throws(() => PageRegion.alloc(bytes as number), { code, constructor: type }, `alloc(${String(bytes)})`);
  }
  t.throws(() => PageRegion.alloc(page, 'huge' as never), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' });
  t.throws(() => PageRegion.alloc(page, { hugePages: 1 as never }), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' });
  t.throws(() => PageRegion.alloc(page, { populate: 'yes' as never }), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' });
  // A valid but impossible size is a syscall failure with errno details, not a crash.
  t.throws(() => PageRegion.alloc(2 ** 52), { code: 'ENOMEM', syscall: 'mmap', errno: -12 });
  const grown = virtualBytes() - before;
  t.ok(grown < 4 * 1024 * 1024, `no mapping left behind by failed allocations (+${grown >> 10} KiB, V8 noise)`);
});

t.test('moveTo moves the physical pages and detaches the source views', async (t) => {
  const source = PageRegion.alloc(8 * page);
  const dest = PageRegion.alloc(8 * page);
  fill(source, 3);
  const sourceView = source.bytes;
  const destView = dest.bytes;
  const framesBefore = pageFrameNumbers(source.address, 8, page);

  source.moveTo(dest);

  t.equal(sourceView.byteLength, 0, 'old source view is detached');
  t.equal(sourceView[0], undefined, 'reading a detached view is harmless');
  t.ok(matches(destView, 3), 'existing destination views show the moved data');
  t.ok(matches(dest.bytes, 3));
  t.ok(source.bytes.every((b) => b === 0), 'source keeps its address and reads as zero pages');
  t.test('page frames', { skip: pfnSkip }, async (t) => {
    t.ok(framesBefore?.every((pfn) => pfn !== 0n), 'source pages were present');
    t.same(pageFrameNumbers(dest.address, 8, page), framesBefore, 'destination has the same page frames: moved, not copied');
  });
  source.close();
  dest.close();
});

t.test('moveTo rejects bad destinations without touching data', async (t) => {
  const a = PageRegion.alloc(2 * page);
  const b = PageRegion.alloc(4 * page);
  fill(a, 9);
  const view = a.bytes;
  t.throws(() => a.moveTo(a), { code: 'ERR_PAGEFLIP_SAME_REGION' });
  t.throws(() => a.moveTo(b), { code: 'ERR_PAGEFLIP_LENGTH_MISMATCH', constructor: RangeError });
  t.throws(() => a.moveTo({} as PageRegion), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE', constructor: TypeError });
  t.throws(() => a.moveTo(null as unknown as PageRegion), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' });
  const closed = PageRegion.alloc(2 * page);
  closed.close();
  t.throws(() => a.moveTo(closed), { code: 'ERR_PAGEFLIP_CLOSED' });
  t.throws(() => closed.moveTo(a), { code: 'ERR_PAGEFLIP_CLOSED' });
  t.equal(view.byteLength, 2 * page, 'failed moves leave the views attached');
  t.ok(matches(view, 9), 'and the data intact');
  a.close();
  b.close();
});

t.test('remap moves pages to a fresh address', async (t) => {
  const region = PageRegion.alloc(4 * page);
  fill(region, 5);
  const view = region.bytes;
  const oldAddress = region.address;
  const frames = pageFrameNumbers(oldAddress, 4, page);
  const newAddress = region.remap();
  t.not(newAddress, oldAddress, 'address changed');
  t.equal(region.address, newAddress);
  t.equal(view.byteLength, 0, 'old view detached');
  t.ok(matches(region.bytes, 5), 'data moved along');
  t.test('page frames', { skip: pfnSkip }, async (t) => {
    t.same(pageFrameNumbers(newAddress, 4, page), frames, 'same page frames after remap');
  });
  region.close();
});

t.test('close unmaps synchronously, detaches views and is idempotent', async (t) => {
  const region = PageRegion.alloc(16 * page);
  const view = region.bytes;
  const alias = new DataView(view.buffer);
  const address = region.address;
  t.ok(isMapped(address));
  region.close();
  t.notOk(isMapped(address), 'unmapped before close() returned');
  t.equal(view.byteLength, 0, 'typed array detached');
  t.equal(alias.buffer.byteLength, 0, 'other views of the same buffer detached');
  t.ok(region.closed);
  t.doesNotThrow(() => region.close(), 'second close is a no-op');
  t.throws(() => region.bytes, { code: 'ERR_PAGEFLIP_CLOSED' });
  t.throws(() => region.address, { code: 'ERR_PAGEFLIP_CLOSED' });
  t.throws(() => region.remap(), { code: 'ERR_PAGEFLIP_CLOSED' });
});

t.test('hugePages aligns to 2 MiB and reports what the kernel gave', async (t) => {
  const caps = capabilities();
  const region = PageRegion.alloc(4 * 1024 * 1024, { hugePages: true, populate: true });
  t.equal(region.address % (2n * 1024n * 1024n), 0n, '2 MiB aligned');
  const huge = region.hugePageBytes();
  t.ok(huge >= 0 && huge <= region.length, `hugePageBytes=${huge} is within the region`);
  if (!caps.transparentHugePages.supported) t.equal(huge, 0, 'no huge pages when THP is off');
  else t.comment(`kernel backed ${huge} of ${region.length} bytes with huge pages (THP ${caps.transparentHugePages.mode})`);
  t.equal(PageRegion.alloc(page).hugePageBytes(), 0, 'a small region has none');
  region.close();
});

t.test('finalizers never unmap an address the region no longer owns', async (t) => {
  // Move and close regions, drop them, then reuse the address space; a stale finalizer that
  // unmapped by address would make the reads below crash the process.
  for (let i = 0; i < 50; i++) {
    const a = PageRegion.alloc(page);
    const b = PageRegion.alloc(page);
    void a.bytes;
    void b.bytes;
    a.remap();
    a.moveTo(b);
    b.close();
  }
  gc();
  const survivors = Array.from({ length: 50 }, (_, i) => {
    const r = PageRegion.alloc(page);
    r.bytes.fill(i);
    return r;
  });
  await nextImmediate();
  gc();
  await nextImmediate();
  t.ok(survivors.every((r, i) => r.bytes[page - 1] === i), 'all later regions intact');
  for (const r of survivors) r.close();
});

t.test('a view keeps its memory alive after the region object is collected', async (t) => {
  let view: Uint8Array | undefined = PageRegion.alloc(page).bytes;
  view.fill(7);
  gc();
  await nextImmediate();
  gc();
  t.equal(view[page - 1], 7, 'still readable');
  view[0] = 1;
  t.equal(view[0], 1, 'still writable');
  view = undefined;
});

t.test('10,000 alloc/move/close cycles leave mappings and RSS at baseline', async (t) => {
  const warm = PageRegion.alloc(page);
  warm.close();
  gc();
  const maps = mappingCount();
  const rss = rssBytes();
  const vsize = virtualBytes();
  for (let i = 0; i < 10_000; i++) {
    const a = PageRegion.alloc(4 * page);
    const b = PageRegion.alloc(4 * page);
    a.bytes[0] = 1;
    a.moveTo(b);
    if (i % 2) b.remap();
    a.close();
    b.close();
  }
  gc();
  await nextImmediate();
  // Tolerances cover V8's own heap growth; a leak of these cycles would be 160 MiB of address space.
  const extraMaps = mappingCount() - maps;
  t.ok(extraMaps <= 8, `mapping count back at baseline (${extraMaps >= 0 ? '+' : ''}${extraMaps} VMAs)`);
  const vgrown = virtualBytes() - vsize;
  t.ok(vgrown < 16 * 1024 * 1024, `address space grew by ${(vgrown / 1024).toFixed(0)} KiB`);
  const grown = rssBytes() - rss;
  // 10,000 cycles touch 160 MiB; a leak would keep most of it. 8 MiB covers JS heap noise; under
  // `.ci/asan` the sanitizer's allocator quarantine (256 MiB) keeps freed memory resident.
  const tolerance = process.env.PAGEFLIP_SANITIZER ? 64 * 1024 * 1024 : 8 * 1024 * 1024;
  t.ok(grown < tolerance, `RSS grew by ${(grown / 1024).toFixed(0)} KiB`);
});
