// The data model of one `pageflip compare` run, shared by the runner, the reports and the JSON
// file (schema "pageflip-compare/1", documented in README.md). Every number here is measured in
// the run that produced it; absent measurements are null with a reason, never 0.

import type { ReceiveMode, SendMode } from '../native.js';
export type { ReceiveMode, SendMode } from '../native.js';
/** Rows that are not a pageflip receive mode: Node's own net.Socket reader, and iperf3. */
export type ReferenceMode = 'node' | 'iperf3' | 'iperf3-Z';
export type RowMode = ReceiveMode | ReferenceMode;

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
  syscalls: number | null; // receiver syscalls
  perf: PerfCounter[] | null; // null when --perf was not asked for
  /** Set when the run did not do what its mode promises, e.g. "copy fallback: 0% of bytes mapped". */
  note: string | null;
  remote: { cpu: CpuUsage } | null; // the other host's CPU in --peer runs
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

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
  /** Median of this point divided by the copy point with the same MTU/touch/sender; null for copy itself or without copy. */
  vsCopy: { gbps: number; usPerMB: number; efficiency: number } | null;
  perfPerMB: Record<string, number | null> | null; // median per-MB of each perf event
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

export interface Summary {
  points: PointSummary[];
  /** Per MTU/touch: best page-moving configuration vs best copy configuration (write+copy, iperf3). */
  best: Array<{ mtu: number; touch: boolean; moving: BestEntry | null; copying: BestEntry | null; ratio: number | null }>;
  verdict: string;
}

/** The paper's published efficiencies (Mbit/s ÷ CPU %), Figures 1-2 of the OLS 2004 paper. */
export interface PaperFigure {
  mtu: number;
  cpuGHz: number;
  copy: number;
  flip: number;
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
}
