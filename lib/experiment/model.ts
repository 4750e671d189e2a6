// The cost model (issue 16): turns the terms `pageflip calibrate` measured on this host into the
// receiver CPU per MB each receive mode should cost, and so into predicted zerocopy ÷ copy and
// flip ÷ copy ratios and the chunk size from which moving pages pays. The equations are written
// out in README.md ("The cost model"); this file is their only implementation. A term that was
// not measured is never guessed: every prediction that needs it is null and names it.
import type { CalibrationResult } from './calibration-file.js';
import type { PageOpRow } from '../native.js';
import { IPV4_TCP_HEADERS, MAX_CHUNK_BYTES, MODEL_MODES, PMD_BYTES, type ModelMode } from '../vocabulary.js';

/** cost(n pages in one call) = perCallUs + n × perPageUs, fitted to calls of 1 to 512 pages. */
export interface Linear {
  perCallUs: number;
  perPageUs: number;
}

/** Every term the model reads; null where calibrate could not measure it (see `missing`). */
export interface ModelTerms {
  pageSize: number;
  /** Below this chunk size a copy's destination is taken as cached (hot), else as evicted (cold). */
  lastLevelCacheBytes: number | null;
  /** Receiver CPU per MB of a real flow read with recv(MSG_TRUNC): packets, ACKs, wake-ups; no copy, no mapping. */
  floorUsPerMB: number;
  /** What one more segment per MB costs the receiver (from the floor at one and at two pages per segment); null: not measured. */
  segmentUs: number | null;
  /** The same flow copying (a check on floor + recv, not used by the equations). */
  flowCopyUsPerMB: number;
  /** The flows' sender ran on another CPU (else it shared the receiver's CPU). */
  flowSenderApart: boolean;
  recvHot: Linear; // recv() copying to user, destination cached
  recvCold: Linear; // recv() copying to user, destination evicted
  zerocopyMap: Linear | null; // TCP_ZEROCOPY_RECEIVE
  zerocopyZap: Linear | null; // madvise(DONTNEED) of socket-mapped pages
  /** Touch of pages a zero-copy receive just mapped (first access to new PTEs); null: not in this calibration. */
  zerocopyTouch: Linear | null;
  /** flip's move of mapped pages onto its destination plus the release's madvise there, timed as flip does it; null: not in this calibration. */
  flipMove: Linear | null;
  mremap: Linear; // one move of present PTEs (PTE path)
  /** One move of a whole 2 MiB page table (PMD path), alone and its extra per other CPU; null where not measured. */
  mremapPmd: { usPerCall: number; shootdownUs: number | null } | null;
  zapAnon: Linear; // madvise(DONTNEED) of anonymous pages
  /** mremap measured with MREMAP_DONTUNMAP, as the receiver moves pages; without it the receiver also maps a refill per move (not measured). */
  mremapDontUnmap: boolean;
  /** Extra cost per call when `otherCpus` other CPUs run threads of the process (index 0 is zero). */
  shootdown: Array<{ otherCpus: number; mremap: Linear; zap: Linear } | null>;
  faultUsPerPage: number; // first write to a dropped anonymous page
  readHotUsPerPage: number; // reading a cached page (touch)
  readColdUsPerPage: number; // reading an evicted page (touch of freshly mapped pages)
  /** Terms that could not be measured here, and why. */
  missing: string[];
}

/** One term as calibrate prints it and the report carries it: per call, per page or per MB (null: not that kind, or not measured). */
export interface TermRow {
  term: string;
  perCallUs: number | null;
  perPageUs: number | null;
  perMBUs: number | null;
}

/** The model's terms in print order: the one list `calibrate`, the table, the HTML and the JSON show. */
export function termRows(terms: ModelTerms): TermRow[] {
  const row = (term: string, line: Linear | null): TermRow => ({ term, perCallUs: line?.perCallUs ?? null, perPageUs: line?.perPageUs ?? null, perMBUs: null });
  const shoot = terms.shootdown[1];
  return [
    { term: 'floor (MSG_TRUNC flow)', perCallUs: null, perPageUs: null, perMBUs: terms.floorUsPerMB },
    { term: 'one segment (µs/segment in µs/call)', perCallUs: terms.segmentUs, perPageUs: null, perMBUs: null },
    row('recv copy (hot)', terms.recvHot),
    row('recv copy (cold)', terms.recvCold),
    row('TCP_ZEROCOPY_RECEIVE', terms.zerocopyMap),
    row('zap (socket pages)', terms.zerocopyZap),
    row('touch, just mapped', terms.zerocopyTouch),
    row("flip's move + release", terms.flipMove),
    row('zap (anonymous)', terms.zapAnon),
    row('mremap', terms.mremap),
    { term: 'mremap 2 MiB page table', perCallUs: terms.mremapPmd?.usPerCall ?? null, perPageUs: null, perMBUs: null },
    row('shootdown +1 CPU: mremap', shoot?.mremap ?? null),
    row('shootdown +1 CPU: zap', shoot?.zap ?? null),
    { term: 'page fault', perCallUs: null, perPageUs: terms.faultUsPerPage, perMBUs: null },
    { term: 'touch, hot', perCallUs: null, perPageUs: terms.readHotUsPerPage, perMBUs: null },
    { term: 'touch, cold', perCallUs: null, perPageUs: terms.readColdUsPerPage, perMBUs: null },
  ];
}

export interface Scenario {
  mtu: number;
  chunkBytes: number;
  touch: boolean;
  /** Other CPUs running threads of the receiving process (the sender thread, when in-process). */
  otherCpus: number;
}

export interface Prediction {
  mode: ModelMode;
  usPerMB: number | null;
  /** usPerMB ÷ copy's usPerMB in the same scenario; null for copy itself or when either is null. */
  ratio: number | null;
  /** Terms this prediction needed and did not have. */
  missing: string[];
}

const MB = 1e6; // the report's MB: 10^6 bytes

/** Weighted least squares a + b·n over (n, y), weights 1/y² (so small calls count as much as large ones); a, b ≥ 0. */
export function fitLinear(points: ReadonlyArray<{ n: number; y: number }>): Linear {
  const usable = points.filter((p) => Number.isFinite(p.y) && p.y > 0 && p.n > 0);
  if (usable.length === 0) throw new RangeError('fitLinear needs at least one positive point');
  let sw = 0, sn = 0, sy = 0, snn = 0, sny = 0;
  for (const { n, y } of usable) {
    const w = 1 / (y * y);
    sw += w; sn += w * n; sy += w * y; snn += w * n * n; sny += w * n * y;
  }
  const det = sw * snn - sn * sn;
  let a = det > 0 ? (sy * snn - sn * sny) / det : 0;
  let b = det > 0 ? (sw * sny - sn * sy) / det : sny / snn;
  if (a < 0) {
    a = 0;
    b = sny / snn; // through the origin
  } else if (b < 0) {
    b = 0;
    a = sy / sw;
  }
  return { perCallUs: a, perPageUs: b };
}

export function cost(line: Linear, pages: number): number {
  return line.perCallUs + pages * line.perPageUs;
}

function difference(busy: Linear, alone: Linear): Linear {
  return { perCallUs: Math.max(0, busy.perCallUs - alone.perCallUs), perPageUs: Math.max(0, busy.perPageUs - alone.perPageUs) };
}

const ZERO: Linear = { perCallUs: 0, perPageUs: 0 };

function fitRows(rows: PageOpRow[], which: 'alone' | 'secondThread'): Linear | null {
  const points = rows.flatMap((row) => (row[which] ? [{ n: row.pages, y: row[which]!.usPerCall }] : []));
  return points.length ? fitLinear(points) : null;
}

/** The model's terms from a calibration (a fresh run or a validated file). */
export function modelTerms(c: CalibrationResult): ModelTerms {
  const page = c.pageSize;
  const missing: string[] = [];
  const pages = (bytes: number) => bytes / page;
  const recvHot = fitLinear(c.socket.recvCopy.map((r) => ({ n: pages(r.bytes), y: r.hotUsPerCall })));
  const recvCold = fitLinear(c.socket.recvCopy.map((r) => ({ n: pages(r.bytes), y: r.coldUsPerCall })));
  let zerocopyMap: Linear | null = null;
  let zerocopyZap: Linear | null = null;
  let zerocopyTouch: Linear | null = null;
  let flipMove: Linear | null = null;
  if (c.socket.zerocopy) {
    zerocopyMap = fitLinear(c.socket.zerocopy.map((r) => ({ n: pages(r.bytes), y: r.mapUsPerCall })));
    zerocopyZap = fitLinear(c.socket.zerocopy.map((r) => ({ n: pages(r.bytes), y: r.zapUsPerCall })));
    const touched = c.socket.zerocopy.map((r) => ({ n: pages(r.bytes), y: r.touchUsPerCall }));
    if (touched.some((p) => typeof p.y !== 'number'))
      missing.push('touch of freshly mapped pages: not in this calibration file (older pageflip), so touch on mapped pages is costed as a cold read and on the moved pages of copy-remap as a hot read');
    else zerocopyTouch = touched.some((p) => p.y > 0) ? fitLinear(touched) : ZERO;
    const moved = c.socket.zerocopy.map((r) => ({ n: pages(r.bytes), y: r.flipMoveUsPerCall }));
    if (moved.some((p) => typeof p.y !== 'number'))
      missing.push("flip's move onto its destination: not in this calibration file (older pageflip), so it is costed as an anonymous mremap plus a zap of socket pages");
    else flipMove = fitLinear(moved);
  } else {
    missing.push(`zero-copy receive (TCP_ZEROCOPY_RECEIVE map and zap): ${c.socket.zerocopyMissing ?? 'not measured'}`);
  }
  if (c.socket.flow.senderCpu === null)
    missing.push("a receiver on its own CPU: with one usable CPU the flows' sender shared it, so the floor includes the sender's work");
  // F at one page per segment minus F at two, over the segments per MB saved.
  const two = c.socket.flow.truncateTwoPagesUsPerMB;
  const segmentUs = two !== null ? Math.max(0, c.socket.flow.truncateUsPerMB - two) / (MB / page - MB / (2 * page)) : null;
  if (segmentUs === null) missing.push('per-segment receive cost: not measured, so the floor at one page per segment is used at every MTU');
  const mremap = fitRows(c.mremap, 'alone')!;
  const zapAnon = fitRows(c.madvise, 'alone')!;
  const pmd = c.mremapPmd;
  const mremapPmd = pmd
    ? { usPerCall: pmd.alone.usPerCall, shootdownUs: pmd.secondThread ? Math.max(0, pmd.secondThread.usPerCall - pmd.alone.usPerCall) : null }
    : null;
  if (!pmd) missing.push('page-table (PMD) moves: page tables are not 2 MiB here, so 2 MiB-slot flips are modelled as PTE moves');
  const mremapDontUnmap = c.mremapFlags.includes('MREMAP_DONTUNMAP');
  if (!mremapDontUnmap)
    missing.push('mremap with MREMAP_DONTUNMAP: not supported here, so a page move is a plain move plus a refill mmap, whose cost was not measured (flip and copy-remap not predicted)');
  const shootdown: ModelTerms['shootdown'] = [{ otherCpus: 0, mremap: ZERO, zap: ZERO }];
  const busyMove = fitRows(c.mremap, 'secondThread');
  const busyZap = fitRows(c.madvise, 'secondThread');
  if (busyMove && busyZap) shootdown.push({ otherCpus: 1, mremap: difference(busyMove, mremap), zap: difference(busyZap, zapAnon) });
  else missing.push('TLB shootdown to another CPU: fewer than 2 usable CPUs, so no second thread could be measured');
  return {
    pageSize: page,
    lastLevelCacheBytes: c.lastLevelCacheBytes,
    floorUsPerMB: c.socket.flow.truncateUsPerMB,
    segmentUs,
    flowCopyUsPerMB: c.socket.flow.copyUsPerMB,
    flowSenderApart: c.socket.flow.senderCpu !== null,
    recvHot,
    recvCold,
    zerocopyMap,
    zerocopyZap,
    zerocopyTouch,
    flipMove,
    mremap,
    mremapPmd,
    zapAnon,
    mremapDontUnmap,
    shootdown,
    faultUsPerPage: c.socket.fault.usPerPage,
    readHotUsPerPage: c.socket.readHot.usPerPage,
    readColdUsPerPage: c.socket.readCold.usPerPage,
    missing,
  };
}

/** F at an MTU: the floor measured at one page per segment, less the segments per MB a larger packet saves. */
export function floorAt(terms: ModelTerms, mtu: number): number {
  if (terms.segmentUs === null) return terms.floorUsPerMB;
  const payload = mtu - IPV4_TCP_HEADERS;
  return Math.max(0, terms.floorUsPerMB - terms.segmentUs * (MB / terms.pageSize - MB / payload));
}

/** Payload bytes per packet, and how many of them sit in whole pages a zero-copy receive can map. */
export function mappable(mtu: number, pageSize: number): { payload: number; mapped: number } {
  const payload = mtu - IPV4_TCP_HEADERS;
  return { payload, mapped: Math.floor(payload / pageSize) * pageSize };
}

/**
 * Receiver CPU-µs per MB for one mode (the equations of README.md's "The cost model"):
 *   calls per MB  C = 10^6 / chunk;  pages per call n = chunk / page;  pages per MB P = 10^6 / page
 *   copy       = F + C·recv(n)                                         + touch·P·readHot
 *   zerocopy   = F + C·(map(n') + zap(n') + S_zap(n'))   + tail        + touch·T
 *   flip       = F + C·(map(n') + flipMove(n') + S_mremap(n') + S_zap(n')) + tail + touch·T
 *   copy-remap = F + C·(recv(n) + mremap(n) + zapAnon(n) + S_mremap(n) + S_zap(n)) + P·fault + touch·(P·readHot + C·pte(n))
 * F = floorAt(mtu): what every mode pays for the packets whatever it does with the bytes, measured
 * at one page per segment and corrected by segmentUs for the segments per MB the MTU saves.
 * recv is recvHot when the chunk fits in half the last-level cache, else recvCold; n' = the pages of
 * a chunk that arrive in whole pages (payload % page == 0: all of them); tail = the bytes that do not,
 * which the receiver copies with one recv per packet: (10^6 / payload)·recvCold(rest / page).
 * T = C·mappedTouch(n') + (P − C·n')·readCold: the first read of pages just mapped costs what calibrate
 * timed right after TCP_ZEROCOPY_RECEIVE (new PTEs; on shadow paging each is a hypervisor exit), the
 * copied rest a cold read. Flip's moved pages are taken to cost the same (not timed apart).
 * pte(n) = max(0, mappedTouch(n) − n·readCold): what new PTEs add to a first read; copy-remap's
 * moved pages are cached (just copied) and pay it on top of a hot read (not timed apart either).
 * flipMove = the move onto a destination that holds the last move's (dropped) socket VMA, plus the
 * release's madvise there, timed as flip does it; a file without it: mremap(n') + zap(n').
 * S_x = the extra per-call cost of x with `otherCpus` other CPUs running the process's threads.
 * A flip of whole 2 MiB slots (chunk a multiple of 2 MiB, whole pages per packet) moves page
 * tables: flipMove(n') + S_mremap(n') becomes zap(n') + (chunk / 2 MiB)·(pmdMove + S_pmdMove).
 */
export function predictMode(terms: ModelTerms, mode: ModelMode, s: Scenario): { usPerMB: number | null; missing: string[] } {
  const page = terms.pageSize;
  const calls = MB / s.chunkBytes;
  const n = s.chunkBytes / page;
  const pagesPerMB = MB / page;
  const missing: string[] = [];
  const recv = terms.lastLevelCacheBytes !== null && s.chunkBytes <= terms.lastLevelCacheBytes / 2 ? terms.recvHot : terms.recvCold;
  const shoot = terms.shootdown[s.otherCpus] ?? null;
  if (s.otherCpus > 0 && !shoot) missing.push(`TLB shootdown with ${s.otherCpus} other CPU(s) running the process: not measured`);
  if ((mode === 'flip' || mode === 'copy-remap') && !terms.mremapDontUnmap) missing.push('page moves without MREMAP_DONTUNMAP (move + refill mmap): not measured');
  const sMove = shoot ? shoot.mremap : null;
  const sZap = shoot ? shoot.zap : null;
  const F = floorAt(terms, s.mtu);
  if (mode === 'copy') return { usPerMB: F + calls * cost(recv, n) + (s.touch ? pagesPerMB * terms.readHotUsPerPage : 0), missing };
  if (mode === 'copy-remap') {
    if (missing.length) return { usPerMB: null, missing };
    const perCall = cost(recv, n) + cost(terms.mremap, n) + cost(terms.zapAnon, n) + cost(sMove!, n) + cost(sZap!, n);
    // Moved pages are cached (just copied) but their PTEs are new: a hot read plus what a new
    // PTE adds to a first read (mappedTouch over a cold read; 0 without mappedTouch).
    const freshPte = terms.zerocopyTouch ? Math.max(0, cost(terms.zerocopyTouch, n) - n * terms.readColdUsPerPage) : 0;
    const touch = pagesPerMB * terms.readHotUsPerPage + calls * freshPte;
    return { usPerMB: F + calls * perCall + pagesPerMB * terms.faultUsPerPage + (s.touch ? touch : 0), missing };
  }
  if (!terms.zerocopyMap || !terms.zerocopyZap) missing.push('zero-copy receive terms: not measured on this host');
  if (missing.length) return { usPerMB: null, missing };
  const { payload, mapped } = mappable(s.mtu, page);
  if (mapped === 0) return { usPerMB: null, missing: [`MTU ${s.mtu}: a packet carries less than a page, so nothing is mapped (the mode falls back to copying)`] };
  const share = mapped / payload;
  const nMapped = n * share;
  let perCall = cost(terms.zerocopyMap!, nMapped) + cost(sZap!, nMapped);
  perCall += mode === 'flip' ? flipMoveAndRelease(terms, s, n, nMapped, sMove!) : cost(terms.zerocopyZap!, nMapped);
  const rest = payload - mapped;
  const tail = rest > 0 ? (MB / payload) * cost(terms.recvCold, rest / page) : 0;
  const touch = terms.zerocopyTouch
    ? calls * cost(terms.zerocopyTouch, nMapped) + (pagesPerMB - calls * nMapped) * terms.readColdUsPerPage
    : pagesPerMB * terms.readColdUsPerPage;
  return { usPerMB: F + calls * perCall + tail + (s.touch ? touch : 0), missing };
}

/** flip's move of the mapped pages and the release's drop of them at the destination, per call. */
function flipMoveAndRelease(terms: ModelTerms, s: Scenario, n: number, nMapped: number, sMove: Linear): number {
  const pmd = terms.mremapPmd;
  const wholeSlots = s.chunkBytes % PMD_BYTES === 0 && nMapped === n;
  const zap = cost(terms.zerocopyZap!, nMapped);
  if (pmd && wholeSlots && !(s.otherCpus > 0 && pmd.shootdownUs === null))
    return zap + (s.chunkBytes / PMD_BYTES) * (pmd.usPerCall + (s.otherCpus > 0 ? pmd.shootdownUs! : 0));
  const move = terms.flipMove ? cost(terms.flipMove, nMapped) : cost(terms.mremap, nMapped) + zap;
  return move + cost(sMove, nMapped);
}

/** Every mode's prediction in one scenario, with its ratio to copy. */
export function predict(terms: ModelTerms, s: Scenario, modes: readonly ModelMode[] = MODEL_MODES): Prediction[] {
  const copy = predictMode(terms, 'copy', s).usPerMB;
  return modes.map((mode) => {
    const { usPerMB, missing } = predictMode(terms, mode, s);
    const ratio = mode === 'copy' || usPerMB === null || copy === null || copy <= 0 ? null : usPerMB / copy;
    return { mode, usPerMB, ratio, missing };
  });
}

/** Chunk sizes the crossover search walks: 4 KiB × 2^k up to the largest chunk (64 MiB). */
export const CROSSOVER_CHUNKS: readonly number[] = Array.from({ length: Math.log2(MAX_CHUNK_BYTES / 4096) + 1 }, (_, k) => 4096 * 2 ** k);

/**
 * The smallest chunk (in CROSSOVER_CHUNKS) at which `mode` is predicted to cost less receiver CPU
 * per MB than copy; null when it never does up to 64 MiB, or when the model cannot predict the mode.
 */
export function crossoverChunk(terms: ModelTerms, mode: ModelMode, s: Omit<Scenario, 'chunkBytes'>): { chunkBytes: number | null; predictable: boolean } {
  let predictable = false;
  for (const chunkBytes of CROSSOVER_CHUNKS) {
    const [p] = predict(terms, { ...s, chunkBytes }, [mode]);
    if (p.ratio === null) continue;
    predictable = true;
    if (p.ratio < 1) return { chunkBytes, predictable };
  }
  return { chunkBytes: null, predictable };
}
