// One CSV row per run (RFC 4180: CRLF line ends, fields quoted when they hold , " CR or LF), for
// spreadsheets and pandas. Numbers keep full precision; absent values are empty cells, never 0.
import type { CompareReport, RunResult } from '../experiment/types.js';
import { perfEvents } from './format.js';

type Cell = string | number | boolean | null;

export function csvField(value: Cell): string {
  if (value === null) return '';
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** `tlb:tlb_flush` → `perf_tlb_tlb_flush_per_mb`; clashes after cleaning get a numeric suffix. */
function perfColumns(events: string[]): Map<string, string> {
  const columns = new Map<string, string>();
  const used = new Set<string>();
  for (const event of events) {
    const base = `perf_${event.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '')}_per_mb`;
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    columns.set(event, name);
  }
  return columns;
}

const COLUMNS: Array<[string, (r: RunResult) => Cell]> = [
  ['repeat', (r) => r.repeat],
  ['mode', (r) => r.mode],
  ['mtu', (r) => r.mtu],
  ['touch', (r) => r.touch],
  ['sender', (r) => r.sender],
  ['bytes', (r) => r.bytes],
  ['seconds', (r) => r.seconds],
  ['gbps', (r) => r.gbps],
  ['mbps', (r) => r.mbps],
  ['cpu_percent', (r) => r.cpu.percent],
  ['cpu_user', (r) => r.cpu.user],
  ['cpu_nice', (r) => r.cpu.nice],
  ['cpu_system', (r) => r.cpu.system],
  ['cpu_irq', (r) => r.cpu.irq],
  ['cpu_softirq', (r) => r.cpu.softirq],
  ['cpu_steal', (r) => r.cpu.steal],
  ['cpu_idle', (r) => r.cpu.idle],
  ['cpu_us_per_mb', (r) => r.cpu.usPerMB],
  ['efficiency', (r) => r.efficiency],
  ['receiver_thread_seconds', (r) => r.receiverThread?.seconds ?? null],
  ['receiver_thread_us_per_mb', (r) => r.receiverThread?.usPerMB ?? null],
  ['sender_thread_seconds', (r) => r.senderThread?.seconds ?? null],
  ['sender_thread_us_per_mb', (r) => r.senderThread?.usPerMB ?? null],
  ['mapped_bytes', (r) => r.mappedBytes],
  ['copied_bytes', (r) => r.copiedBytes],
  ['mapped_percent', (r) => r.mappedPercent],
  ['verified_bytes', (r) => r.verifiedBytes],
  ['mismatches', (r) => r.mismatches],
  ['syscalls', (r) => r.syscalls],
  ['note', (r) => r.note],
  ['remote_cpu_percent', (r) => r.remote?.cpu.percent ?? null],
  ['remote_cpu_us_per_mb', (r) => r.remote?.cpu.usPerMB ?? null],
  // Layout and per-side CPU (empty in reports made before them).
  ['layout', (r) => r.layout ?? null],
  ['receiver_pid', (r) => r.pids?.receiver ?? null],
  ['sender_pid', (r) => r.pids?.sender ?? null],
  ['receiver_cpus_percent', (r) => r.sides?.receiver.percent ?? null],
  ['receiver_cpus_softirq', (r) => r.sides?.receiver.softirq ?? null],
  ['receiver_cpus_us_per_mb', (r) => r.sides?.receiver.usPerMB ?? null],
  ['sender_cpus_percent', (r) => r.sides?.sender.percent ?? null],
  ['sender_cpus_us_per_mb', (r) => r.sides?.sender.usPerMB ?? null],
  ['receiver_efficiency', (r) => r.receiverEfficiency ?? null],
  ['other_cpu_percent', (r) => r.otherCpu ?? null],
  // Per-run chunk and remaps (empty in reports made before them; chunk empty for iperf3).
  ['chunk_bytes', (r) => r.chunkBytes ?? null],
  ['remapped_bytes', (r) => r.remap?.bytes ?? null],
  ['pmd_moves', (r) => r.remap?.pmdMoves ?? null],
];

export function renderCsv(report: CompareReport): string {
  const events = perfEvents(report);
  const perf = perfColumns(events);
  const header = [...COLUMNS.map(([name]) => name), ...events.map((e) => perf.get(e) as string), 'host_kernel', 'host_cpu_model'];
  const rows = report.runs.map((run) => {
    const counters = new Map((run.perf ?? []).map((c) => [c.event, c]));
    return [
      ...COLUMNS.map(([, get]) => get(run)),
      // Unavailable (or not measured in this run) stays empty: 0 would claim "counted, none".
      ...events.map((e) => {
        const c = counters.get(e);
        return c && c.available ? c.perMB : null;
      }),
      report.host.kernel,
      report.host.cpuModel,
    ];
  });
  return [header, ...rows].map((row) => `${row.map(csvField).join(',')}\r\n`).join('');
}
