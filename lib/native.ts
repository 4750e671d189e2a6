// The one place that loads the compiled addon and says what it exports.
// node-gyp-build picks build/Release when present, else prebuilds/<platform>-<arch>. The
// PAGEFLIP_PREBUILD environment variable (node-gyp-build's <NAME>_PREBUILD) names another
// directory to look in instead: `.ci/asan` points it at its sanitizer build (build-asan/).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { LoopReceiveMode, ReceiveMode, SendMode } from './vocabulary.js';

export interface Feature {
  supported: boolean;
  reason: string;
}

export interface NativeCapabilities {
  kernelRelease: string;
  machine: string;
  pageSize: number;
  cpus: number;
  mremapDontUnmap: Feature;
  externalBuffers: Feature;
  /** TCP_ZEROCOPY_RECEIVE, with the struct ABI the kernel speaks ('4.18' | '5.7' | '5.11' | '5.12'). */
  zerocopyReceive: Feature & { abi: string | null };
  msgZerocopy: Feature;
  splice: Feature;
}

export interface RegionOptions {
  hugePages?: boolean;
  populate?: boolean;
}

export interface NativeRegion {
  buffer(): ArrayBuffer;
  address(): bigint;
  /** Bytes; 0 once closed (close() frees the native object, PageRegion keeps its own copy). */
  length(): number;
  closed(): boolean;
  moveTo(destination: NativeRegion): void;
  remap(): bigint;
  close(): void;
}

/** binding.vocabulary: native/vocabulary.h's names and limits (test/vocabulary.test.ts holds them equal to lib/vocabulary.ts). */
export interface NativeVocabulary {
  receiveModes: LoopReceiveMode[];
  /** The chunk-by-chunk Receiver takes the first this many (not discard). */
  receiverModeCount: number;
  sendModes: SendMode[];
  defaultChunkSize: number;
  maxChunkSize: number;
  maxDefaultLowWater: number;
  maxCopybuf: number;
  maxSlots: number;
  minLinkMtu: number;
  maxLinkMtu: number;
  pmdBytes: number;
}

/** Doubles per segment in NativeReceiver.info(): id, offset, address, mapped, copied, mismatches. */
export const LEASE_INFO_FIELDS = 6;

export interface ReceiveCounters {
  mode: ReceiveMode;
  requestedMode: ReceiveMode;
  fallbackReason: string | null;
  zerocopyAbi: string | null;
  bytes: number;
  mappedBytes: number;
  copiedBytes: number;
  remappedBytes: number;
  /** Flips of whole 2 MiB-aligned slots (chunk a multiple of 2 MiB): eligible for the kernel's page-table (PMD) move. */
  pmdMoves: number;
  /** Every syscall the receiver made: receive, wait and page-table calls, and the rest (vmsplice, probes). */
  syscalls: number;
  /** recv, getsockopt(TCP_ZEROCOPY_RECEIVE), splice: the calls that bring stream bytes in. */
  receiveCalls: number;
  /** poll() waits for readable data (loops: the low-water wait before calls that do not wait themselves). */
  waitCalls: number;
  /** mremap, mmap, madvise: page-table work. */
  pageCalls: number;
  wouldBlock: number;
  verifiedBytes: number;
  mismatches: number;
  firstMismatchOffset: number | null;
}

export interface ReceiverStats extends ReceiveCounters {
  closed: boolean;
  outstandingLeases: number;
  collectedLeases: number;
  /** Released leases whose view was transferred: their slots stay untouched until the alias is collected. */
  quarantinedLeases: number;
}

export interface ReceiverLayout {
  copy: bigint | null;
  map: bigint | null;
  dest: bigint | null;
  staging: bigint | null;
  slotBytes: number;
}

export interface NativeReceiver {
  /** One segment's buffer, or two (mapped part, then copied part); described by info(). */
  read(): ArrayBuffer | [ArrayBuffer, ArrayBuffer] | 'wait' | 'full' | null;
  /** Filled by read(): LEASE_INFO_FIELDS numbers per returned segment, valid until the next read. */
  info(): Float64Array;
  release(id: number): void;
  stats(): ReceiverStats;
  layout(): ReceiverLayout;
  /** The receiver's own duplicate of the socket (valid until close()). */
  fd(): number;
  close(): void;
}

export interface ThreadTimes {
  seconds: number;
  userSeconds: number;
  systemSeconds: number;
  cpuSeconds: number;
  voluntarySwitches: number;
  involuntarySwitches: number;
  endReason: 'bytes' | 'time' | 'eof' | 'stopped';
  /** With options.window: each file's text read at the loop's first and last instant ('' if unreadable). */
  windowStart?: string[];
  windowEnd?: string[];
}

export type ReceiveLoopStats = ThreadTimes & ReceiveCounters;

export interface SendLoopStats extends ThreadTimes {
  mode: SendMode;
  bytes: number;
  syscalls: number;
  wouldBlock: number;
  zerocopySends: number;
  completions: number;
  completionsCopied: number;
  enobufs: number;
  /** zerocopy with allowFallback: sends made by copy because MSG_ZEROCOPY was refused (ENOBUFS) with nothing in flight. */
  copiedSends: number;
  copiedBytes: number;
}

export interface RegionSendStats {
  bytes: number;
  syscalls: number;
  zerocopySends: number;
  completions: number;
  completionsCopied: number;
  copiedSends: number;
  copiedBytes: number;
}

export interface NativeLoop<T> {
  start(): Promise<T>;
  stop(): void;
}

export interface SocketInfo {
  stream: boolean;
  mss: number;
  rcvbuf: number;
  sndbuf: number;
  zerocopy: boolean;
  /** SO_RCVLOWAT: bytes queued before the socket reads as readable. */
  rcvlowat: number;
  /** TCP_INQ: each read reports the bytes still queued (a Receiver turns it on while open). */
  inq: boolean;
  /** SIOCINQ: bytes received and not yet read (-1 when the kernel does not say). */
  receiveQueue: number;
  /** SIOCOUTQ: bytes written and not yet acknowledged by the peer (-1 when the kernel does not say). */
  sendQueue: number;
  nonBlocking: boolean;
}

export interface SocketOptions {
  rcvbuf?: number;
  sndbuf?: number;
  rcvlowat?: number;
  noDelay?: boolean;
  zerocopy?: boolean;
  /** Close with a zero linger, which resets the connection (RST) instead of FIN. */
  linger0?: boolean;
}

export interface SocketAddress {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

export interface NativeFdWatcher {
  /** One-shot; `events` is 0 when `timeoutMs` passed first. */
  wait(events: 'readable' | 'writable', callback: (error: Error | null, events: number) => void, timeoutMs?: number): void;
  close(): void;
}

/** Options of calibrate(); every field is optional and validated natively (no coercion). */
export interface CalibrationOptions {
  /** Small time budgets for tests and `pageflip calibrate --quick`: 4 ms cells, 3 trials, 64 MiB pool. */
  quick?: boolean;
  /** Time budget per measured cell, ms (1 to 60000; default 40, quick 4). */
  cellMs?: number;
  /** Trials per cell; the median is reported (1 to 99; default 5, quick 3). */
  trials?: number;
  /** Cold-copy source pool, MiB (at least 64; default 256, quick 64). */
  coldPoolMiB?: number;
}

/** memcpy of `bytes` per call: median over trials. */
export interface MemcpyFigure {
  gbPerSec: number; // 10^9 bytes/s
  nsPerCall: number;
  nsPerPage: number; // nsPerCall / (bytes / pageSize)
  calls: number; // calls timed in the trials
}

export interface MemcpyRow {
  bytes: number;
  hot: MemcpyFigure; // same source and destination every call
  cold: MemcpyFigure; // source evicted from the caches before each batch
}

/** One page operation (mremap move, madvise drop) of `pages` pages per call: median over trials. */
export interface PageOpFigure {
  usPerCall: number;
  usPerPage: number; // usPerCall / pages
  calls: number;
  /** TLB shootdown IPIs per call (system-wide /proc/interrupts delta); null where not reported. */
  tlbIpisPerCall: number | null;
  /** With a second thread: the share of the cell's wall time that thread was on its CPU (0-1). */
  secondThreadOnCpu?: number;
}

export interface PageOpRow {
  pages: number;
  alone: PageOpFigure;
  /** With a second thread of the process busy on another CPU; null with fewer than 2 usable CPUs. */
  secondThread: PageOpFigure | null;
  slowdown: number | null; // secondThread.usPerCall / alone.usPerCall
}

export interface CalibrationCrossover {
  copy: 'hot' | 'cold';
  mover: 'alone' | 'secondThread';
  /** Smallest page count per call where a move costs less per page than copying; null if none. */
  pages: number | null;
  points: Array<{ pages: number; moveUsPerPage: number; copyUsPerPage: number }>;
}

/** The terms a socket receive pays (native/calibrate_socket.cc); one row per chunk size, µs per call (median over calls). */
export interface SocketTermsResult {
  segmentBytes: number; // payload per loopback segment during these cells (one page, as at MTU 4148)
  recvCopy: Array<{ bytes: number; hotUsPerCall: number; coldUsPerCall: number; calls: number }>;
  /**
   * TCP_ZEROCOPY_RECEIVE (map), the madvise(DONTNEED) of what it mapped (zap), and what reading every word
   * of the just-mapped pages adds to a call (touch: the read plus its zap's extra); null when not measurable here.
   */
  zerocopy: Array<{ bytes: number; mapUsPerCall: number; zapUsPerCall: number; touchUsPerCall: number; flipMoveUsPerCall: number; calls: number; tlbIpisPerCall: number | null }> | null;
  zerocopyMissing: string | null; // why zerocopy is null
  /** Real flows (sender thread on the other CPU): the receiving thread's CPU-µs per 10^6 bytes, median of 3. */
  flow: { chunkBytes: number; senderCpu: number | null; sender: 'zerocopy' | 'write'; truncateUsPerMB: number; copyUsPerMB: number; truncateTwoPagesUsPerMB: number | null };
  fault: { usPerPage: number; pages: number };
  readHot: { usPerPage: number; pages: number };
  readCold: { usPerPage: number; pages: number };
}

/** virtualization(): what the CPU says about a hypervisor, and what page faults and syscalls cost here. */
export interface NativeVirtualization {
  hypervisor: boolean;
  hypervisorVendor: string | null; // cpuid leaf 0x40000000 signature, e.g. "KVMKVMKVM"
  faultUs: number;
  syscallUs: number;
  method: string;
}

export interface NativeCalibration {
  cpus: number;
  pageSize: number;
  options: Required<CalibrationOptions>;
  measureCpu: number;
  secondThreadCpu: number | null;
  lastLevelCacheBytes: number | null;
  mremapFlags: string;
  memcpy: MemcpyRow[];
  mremap: PageOpRow[];
  madvise: PageOpRow[];
  /** One move of a whole, 2 MiB-aligned page table (the PMD path of a 2 MiB-slot flip); null where page tables are not 2 MiB. */
  mremapPmd: PageOpRow | null;
  crossover: CalibrationCrossover[];
  socket: SocketTermsResult;
  elapsedMs: number;
  /** How each figure was measured, in words. */
  method: string[];
}

export interface Binding {
  Region: new (bytes: number | bigint, options?: RegionOptions) => NativeRegion;
  Receiver: new (fd: number, options?: object) => NativeReceiver;
  Loop: {
    new (kind: 'receive', fd: number, options?: object): NativeLoop<ReceiveLoopStats>;
    new (kind: 'send', fd: number, options?: object): NativeLoop<SendLoopStats>;
  };
  RegionSend: new (fd: number, region: NativeRegion, options?: object) => NativeLoop<RegionSendStats>;
  FdWatcher: new (fd: number) => NativeFdWatcher;
  vocabulary: NativeVocabulary;
  capabilities(): NativeCapabilities;
  setTestSwitch(name: 'noZerocopy', on: boolean): void;
  /** Test-only: MSG_ZEROCOPY bookkeeping replayed; bytes in flight after each completion range. */
  zerocopyLedgerReplay(sends: number[], completions: Array<[lo: number, hi: number]>): number[];
  tcpListen(host: string, port: number, backlog?: number): number;
  tcpAccept(fd: number): number | null;
  tcpConnect(host: string, port: number, options?: { mss?: number }): number;
  socketError(fd: number): void;
  socketAddress(fd: number, peer?: boolean): SocketAddress;
  setSocketOptions(fd: number, options: SocketOptions): void;
  socketInfo(fd: number): SocketInfo;
  closeFd(fd: number): void;
  shutdownFd(fd: number, how: 'read' | 'write' | 'both'): void;
  dupFd(fd: number): number;
  netnsCreate(): number;
  netnsCurrent(): number;
  netnsEnter(fd: number): void;
  linkConfigure(ifname: string, options: { up?: boolean; mtu?: number }): void;
  /** Bytes of `bytes` that differ from the test pattern at stream offset `offset`. */
  verifyPattern(bytes: Uint8Array | ArrayBuffer, offset: number, seed: number): number;
  calibrate(options?: CalibrationOptions): Promise<NativeCalibration>;
  virtualization(): NativeVirtualization;
}

const require = createRequire(import.meta.url);
const loadBinding = require('node-gyp-build') as (root: string) => unknown;

/** Package root: lib/.. when running from source, dist/.. when installed. */
export const packageRoot = fileURLToPath(new URL('..', import.meta.url));

export const binding = loadBinding(packageRoot) as Binding;
