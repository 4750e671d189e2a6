// The data model of one `pageflip compare` run, shared by the runner, the reports and the JSON
// file (schema "pageflip-compare/1", documented in README.md). Every number here is measured in
// the run that produced it; absent measurements are null with a reason, never 0.

import type { ModelMode, MovingMode, RowMode, SendMode } from '../vocabulary.js';
export type { ReceiveMode, ReferenceMode, RowMode, SendMode } from '../vocabulary.js';

export interface HostInfo {
  hostname: string;
  kernel: string;
  machine: string;
  cpuModel: string;
  cpuMHz: number | null;
  cpus: number;
  pageSize: number;
  thp: string | null;
  node: string;
  pageflip: string;
}

export interface CompareConfig {
  modes: RowMode[];
  mtus: number[];
  touch: boolean[]; // which of touch (true) / notouch (false) were run
  chunkBytes: number;
  seconds: number | null; // fixed duration per run, or
  bytes: number | null; // fixed byte count per run
  warmupSeconds: number;
  repeats: number;
  sender: SendMode;
  cpus: { rx: number; tx: number } | null;
  perf: boolean;
  /** How the MTU was realised: lo MTU in a private namespace, TCP_MAXSEG emulation, or a real link. */
  network: 'netns' | 'mss-emulation' | 'peer';
  peer: string | null;
  quick: boolean;
  /** Seed of the per-repeat shuffle of the run order (the same seed gives the same order). */
  orderSeed: number;
  /** Where the sender runs: its own process (default; the paper's two hosts) or a thread of the
   * receiving process (--layout threads). Absent in reports made before the layouts existed. */
  layout?: Layout;
  /** Connections per run, each with its own receive and send loop (--flows). */
  flows?: number;
  /** CPU sets (--cpus with lists): flows spread over them; each side's CPU % is its set's. */
  cpuSets?: { rx: number[]; tx: number[] };
  /** Receive packet steering on the namespace's lo: the mask written, or why it was not set. */
  rps?: { cpus: number[] | null; reason: string | null };
}

export type Layout = 'processes' | 'threads';

/** Busy CPU of one side of the box (the receiver's or the sender's CPUs), from per-CPU /proc/stat. */
export interface SideCpu {
  cpus: number[];
  percent: number; // busy (user+nice+system+irq+softirq) share of those CPUs' non-stolen time, 0-100
  softirq: number; // softirq share of the same
  steal: number; // stolen share of those CPUs' time
  usPerMB: number; // busy CPU-µs on those CPUs per MB received
}

/** One connection of a multi-flow run. */
export interface FlowResult {
  bytes: number;
  seconds: number;
  mbps: number;
  receiverThread: ThreadCpu;
  senderThread: ThreadCpu | null;
}

/** System-wide CPU over one run, from /proc/stat deltas; percentages are of all cores (0-100). */
export interface CpuUsage {
  percent: number; // user + nice + system + irq + softirq (+ steal is NOT included; reported apart)
  user: number;
  nice: number;
  system: number;
  irq: number;
  softirq: number;
  steal: number;
  idle: number; // idle + iowait
  usPerMB: number; // CPU-µs (all cores) spent per MB (10^6 bytes) moved
}

export interface ThreadCpu {
  seconds: number; // user + system of that thread (getrusage RUSAGE_THREAD)
  usPerMB: number;
}

export interface PerfCounter {
  event: string;
  available: boolean;
  value: number | null; // total over the run
  perMB: number | null;
  reason?: string; // why unavailable
}

export interface RunResult {
  repeat: number; // 1-based
  mode: RowMode;
  mtu: number;
  touch: boolean;
  sender: SendMode | 'iperf3';
  bytes: number;
  seconds: number;
  gbps: number; // 10^9 bit/s
  mbps: number; // 10^6 bit/s
  cpu: CpuUsage;
  efficiency: number; // mbps / cpu.percent (the paper's figure of merit)
  receiverThread: ThreadCpu | null; // receiver-thread CPU (null where not measurable, e.g. iperf3)
  senderThread: ThreadCpu | null; // sender-thread CPU (null for iperf3 and --peer)
  mappedBytes: number;
  copiedBytes: number;
  mappedPercent: number;
  verifiedBytes: number;
  mismatches: number;
  syscalls: number | null; // receiver syscalls, every kind
  /** The receiver's calls by kind (null where not counted): receive (recv, TCP_ZEROCOPY_RECEIVE, splice), wait (poll), page (mremap, mmap, madvise). */
  calls: { receive: number; wait: number; page: number } | null;
  perf: PerfCounter[] | null; // null when --perf was not asked for
  /** Set when the run did not do what its mode promises, e.g. "copy fallback: 0% of bytes mapped". */
  note: string | null;
  remote: { cpu: CpuUsage } | null; // the other host's CPU in --peer runs
  // Added with the sender process layout (absent in older reports):
  layout?: Layout | 'peer' | 'iperf3';
  pids?: { receiver: number; sender: number | null } | null; // null: iperf3's own processes
  /** Per side of the box; null when sender and receiver were not pinned apart. */
  sides?: { receiver: SideCpu; sender: SideCpu } | null;
  /** Mbit/s ÷ receiver-side CPU %: what a receiving host's sar would give (the paper's measurement). */
  receiverEfficiency?: number | null;
  /** Other processes' user time during the run, % of the box's non-stolen time; null if not measured. */
  otherCpu?: number | null;
  /** Per connection, when the run had more than one (--flows). */
  flows?: FlowResult[] | null;
  /** Bytes per receive call (the slot) of this run; absent in reports made before per-point chunks (then config.chunkBytes) and for iperf3. */
  chunkBytes?: number;
  /** Bytes moved by mremap (flip, copy-remap) and how many of those moves were whole, aligned 2 MiB slots (the page-table path); null where not counted. */
  remap?: { bytes: number; pmdMoves: number } | null;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface Range {
  min: number;
  max: number;
}

/** A ratio between two points, paired by repeat: median and min–max of the per-repeat ratios. */
export interface PairedRatio extends Spread {
  pairs: number;
}

/** What the data says about a ratio: 'lower'/'higher' only when every paired ratio is on that side of 1 (and there are enough pairs). */
export type Call = 'lower' | 'higher' | 'none';

export interface PointSummary {
  mode: RowMode;
  mtu: number;
  touch: boolean;
  sender: SendMode | 'iperf3';
  runs: number;
  gbps: Spread;
  cpuPercent: Spread;
  usPerMB: Spread;
  efficiency: Spread;
  mappedPercent: number; // median
  mismatches: number; // total
  /** This point ÷ the copy point with the same MTU/touch/sender, paired by repeat: the median of the
   * per-repeat ratios, the efficiency ratios' min–max and how many repeats paired; null for copy
   * itself or without copy. */
  vsCopy: { gbps: number; usPerMB: number; efficiency: number; efficiencyRange: Range; pairs: number } | null;
  /** Median receiver syscalls (every kind) per MB, and bytes per receive call; null where not counted. */
  callsPerMB: number | null;
  bytesPerReceive: number | null;
  perfPerMB: Record<string, number | null> | null; // median per-MB of each perf event
  layout?: Layout | 'peer' | 'iperf3';
  /** Parallel flows of the point's runs, when more than one. */
  flows?: number;
  /** Receiver-side figures (median, min-max), and their ratio to copy; null where not measured. */
  receiver?: { cpuPercent: Spread; usPerMB: Spread; efficiency: Spread; vsCopy: number | null } | null;
  senderCpuPercent?: Spread | null;
  /** The point's chunk when it differs from the run's main chunk (config.chunkBytes): the 2 MiB page-table flip rows of the full default run. */
  chunkBytes?: number;
  /** Median share of the remapped bytes that moved as whole 2 MiB page tables (PMD path), 0-1; null where nothing was remapped or not counted. */
  pmdShare?: number | null;
}

/** One side of the "best page-moving vs best copy" view. */
export interface BestEntry {
  mode: RowMode;
  sender: SendMode | 'iperf3';
  mtu: number;
  touch: boolean;
  efficiency: number;
  gbps: number;
}

export interface BestRow {
  mtu: number;
  touch: boolean;
  /** Sender-matched first: the best page-moving mode and copy, both fed by the same sender. */
  sameSender: { sender: SendMode; moving: BestEntry | null; copying: BestEntry | null; ratio: PairedRatio | null } | null;
  /** The sender alone: copy ← write ÷ copy ← the page-moving sender (efficiency). */
  senderEffect: { sender: SendMode; ratio: PairedRatio } | null;
  /** Across senders: best page-moving configuration vs best copy configuration (write+copy, iperf3). */
  moving: BestEntry | null;
  copying: BestEntry | null;
  ratio: number | null; // median of the paired per-repeat ratios
  ratioRange: Range | null;
}

/** One page-moving mode at one MTU and touch against copy with the same sender (efficiency). */
export interface VerdictCase {
  mode: RowMode;
  mtu: number;
  touch: boolean;
  ratio: PairedRatio;
  call: Call;
}

/** Per mode and MTU: its efficiency ratio to copy with touch ÷ without, paired by repeat. */
export interface TouchEffect {
  mode: RowMode;
  mtu: number;
  ratio: PairedRatio;
  call: Call;
}

export interface Summary {
  points: PointSummary[];
  best: BestRow[];
  cases: VerdictCase[];
  touchEffects: TouchEffect[];
  verdict: string;
  /** The same view and verdict by receiver-host efficiency (Mbit/s ÷ receiver-side CPU %), the
   * paper's measurement; absent when no run had per-side CPU. */
  receiverBest?: BestRow[];
  receiverVerdict?: string;
  /** Each receive point's cost above the discard floor (same MTU and sender, notouch floor):
   * CPU-µs per MB, whole box and receiver side (null without per-side CPU). */
  floor?: FloorDistance[];
}

export interface FloorDistance {
  mode: RowMode;
  mtu: number;
  touch: boolean;
  sender: SendMode | 'iperf3';
  usPerMB: number;
  receiverUsPerMB: number | null;
}

/** The paper's published efficiencies (Mbit/s ÷ CPU %), Figures 1-2 of the OLS 2004 paper. */
export interface PaperFigure {
  mtu: number;
  cpuGHz: number;
  copy: number;
  flip: number;
}

/** One mode at one MTU/touch: the cost model's receiver CPU per MB and ratio to copy beside the measured ones. */
export interface ModelRow {
  mtu: number;
  touch: boolean;
  mode: ModelMode;
  sender: SendMode;
  predictedUsPerMB: number | null; // null: a term it needs was not measured (see missing)
  predictedRatio: number | null; // ÷ copy's prediction; null for copy
  measuredUsPerMB: number | null; // median receiver-thread CPU-µs/MB over repeats
  measuredRatio: number | null; // median of the per-repeat ratios to copy (the medians' ratio when none pair); null for copy
  /** The per-repeat ratios' min–max and how many repeats paired; absent for copy, unpaired rows and older reports. */
  measuredSpread?: { min: number; max: number; pairs: number };
  missing: string[];
  /** The row's chunk when it is not the report's (the 2 MiB rows); absent: model.chunkBytes. */
  chunkBytes?: number;
  /** The ratio on the receiver's CPUs (see ModelReport.receiverSideFloor); absent for copy and where not measured. */
  receiverSide?: { predictedRatio: number; measuredRatio: number; measuredSpread: { min: number; max: number; pairs: number } };
}

/** The cost model (lib/experiment/model.ts) applied to this compare's configuration. */
export interface ModelReport {
  /** Where the calibration came from: a run before compare, or a file. */
  source: string;
  /** Other CPUs assumed to run threads of the receiving process (TLB shootdown targets). */
  otherCpus: number;
  chunkBytes: number;
  terms: Array<{ term: string; perCallUs: number | null; perPageUs: number | null; perMBUs: number | null }>;
  missing: string[];
  rows: ModelRow[];
  /** Smallest chunk (4 KiB to 64 MiB) from which the mode is predicted to beat copy; null: never, or not predictable. */
  crossover: Array<{ mode: MovingMode; mtu: number; touch: boolean; chunkBytes: number | null; predictable: boolean }>;
  /** Hypervisor and page-fault cost, and what that means for page moving. */
  host: string;
  /**
   * Per MTU, the receiver's CPUs' µs/MB (/proc/stat, softirq included) of this compare's discard runs:
   * the packets' receive work as a receiving host pays it (with RPS it runs on the receiver's CPU,
   * in whichever thread is there, which calibrate's flow cannot see). Rows' receiverSide ratios use
   * it for the model's floor. Absent without discard runs with per-side CPU.
   */
  receiverSideFloor?: Array<{ mtu: number; usPerMB: number }>;
}

export interface CompareReport {
  schema: 'pageflip-compare/1';
  startedAt: string; // ISO time
  finishedAt: string;
  host: HostInfo;
  remoteHost: HostInfo | null;
  config: CompareConfig;
  /** How each figure was measured, in words (printed under the table and in the HTML). */
  method: string[];
  warnings: string[];
  runs: RunResult[];
  summary: Summary;
  paper: PaperFigure[];
  /** Only when the run was cut short (interrupted, or a run failed): why. `runs` has what was measured. */
  error?: string;
  /** Predicted beside measured, when compare had a calibration (absent in older reports). */
  model?: ModelReport;
}
