import t from 'tap';
import { renderCsv } from '../lib/report/index.js';
import { csvField } from '../lib/report/csv.js';
import { fixtureReport } from './fixtures/compare-report.js';
import { parseCsv } from './fixtures/markup.js';

const BASE_HEADER = [
  'repeat', 'mode', 'mtu', 'touch', 'sender', 'bytes', 'seconds', 'gbps', 'mbps',
  'cpu_percent', 'cpu_user', 'cpu_nice', 'cpu_system', 'cpu_irq', 'cpu_softirq', 'cpu_steal', 'cpu_idle', 'cpu_us_per_mb',
  'efficiency', 'receiver_thread_seconds', 'receiver_thread_us_per_mb', 'sender_thread_seconds', 'sender_thread_us_per_mb',
  'mapped_bytes', 'copied_bytes', 'mapped_percent', 'verified_bytes', 'mismatches', 'syscalls', 'note',
  'remote_cpu_percent', 'remote_cpu_us_per_mb',
  'layout', 'receiver_pid', 'sender_pid', 'receiver_cpus_percent', 'receiver_cpus_softirq', 'receiver_cpus_us_per_mb',
  'sender_cpus_percent', 'sender_cpus_us_per_mb', 'receiver_efficiency', 'other_cpu_percent',
  'chunk_bytes', 'remapped_bytes', 'pmd_moves',
];
const PERF_HEADER = [
  'perf_page_faults_per_mb', 'perf_context_switches_per_mb', 'perf_tlb_tlb_flush_per_mb',
  'perf_skb_skb_copy_datagram_iovec_per_mb', 'perf_cycles_per_mb', 'perf_dtlb_load_misses_per_mb',
];

t.test('one row per run under the documented header, and it parses back', async (t) => {
  const report = fixtureReport();
  const text = renderCsv(report);
  t.ok(text.endsWith('\r\n'), 'CRLF-terminated');
  const [header, ...rows] = parseCsv(text);
  t.same(header, [...BASE_HEADER, ...PERF_HEADER, 'host_kernel', 'host_cpu_model']);
  t.equal(rows.length, report.runs.length, 'one row per run');
  for (const row of rows) t.equal(row.length, header.length, 'every row as wide as the header');

  const col = (name: string) => header.indexOf(name);
  report.runs.forEach((run, i) => {
    const row = rows[i];
    if (
      row[col('mode')] !== run.mode ||
      Number(row[col('mtu')]) !== run.mtu ||
      row[col('touch')] !== String(run.touch) ||
      Number(row[col('gbps')]) !== run.gbps || // full precision, not the table's 3 digits
      Number(row[col('cpu_softirq')]) !== run.cpu.softirq ||
      Number(row[col('bytes')]) !== run.bytes
    ) {
      t.fail(`row ${i} does not match run ${i}`);
    }
  });
  t.pass('rows carry the runs in order, at full precision');
  t.ok(rows.every((r) => r[col('host_kernel')] === '6.18.0-fixture' && r[col('host_cpu_model')] === report.host.cpuModel));
});

t.test('absent values are empty cells, never 0', async (t) => {
  const report = fixtureReport();
  const [header, ...rows] = parseCsv(renderCsv(report));
  const col = (name: string) => header.indexOf(name);
  t.ok(rows.every((r) => r[col('perf_cycles_per_mb')] === '' && r[col('perf_dtlb_load_misses_per_mb')] === ''), 'unavailable perf counters empty');
  const copy = rows.find((r) => r[col('mode')] === 'copy') as string[];
  t.equal(copy[col('perf_tlb_tlb_flush_per_mb')], '0', 'a measured zero is 0');
  const iperf = rows.find((r) => r[col('mode')] === 'iperf3') as string[];
  for (const c of ['receiver_thread_seconds', 'receiver_thread_us_per_mb', 'sender_thread_seconds', 'sender_thread_us_per_mb', 'syscalls']) {
    t.equal(iperf[col(c)], '', `iperf3 ${c} empty`);
  }
  t.ok(rows.every((r) => r[col('remote_cpu_percent')] === ''), 'no remote CPU outside --peer runs');
  const noted = rows.filter((r) => r[col('note')] !== '');
  t.equal(noted.length, 1);
  t.match(noted[0][col('note')], /^copy fallback: 0% of bytes mapped/);
  t.equal(noted[0][col('mapped_percent')], '0');

  // Without --perf there are no perf columns at all.
  for (const r of report.runs) r.perf = null;
  for (const p of report.summary.points) p.perfPerMB = null;
  const [bare] = parseCsv(renderCsv(report));
  t.same(bare, [...BASE_HEADER, 'host_kernel', 'host_cpu_model']);
});

t.test('RFC 4180 quoting survives commas, quotes and line breaks', async (t) => {
  const report = fixtureReport();
  const nasty = 'fallback, "partly"\r\nsecond line\nthird';
  report.runs[0].note = nasty;
  report.runs[0].remote = { cpu: { ...report.runs[0].cpu, percent: 12.5, usPerMB: 99 } };
  report.host.cpuModel = 'Intel(R) Xeon(R), "Gold"';
  const [header, first] = parseCsv(renderCsv(report));
  t.equal(first[header.indexOf('note')], nasty);
  t.equal(first[header.indexOf('host_cpu_model')], 'Intel(R) Xeon(R), "Gold"');
  t.equal(first[header.indexOf('remote_cpu_percent')], '12.5');
  t.equal(first[header.indexOf('remote_cpu_us_per_mb')], '99');

  t.equal(csvField(null), '');
  t.equal(csvField(false), 'false');
  t.equal(csvField('a"b'), '"a""b"');
  t.equal(csvField('plain'), 'plain');
});

t.test('perf column names are cleaned and never collide', async (t) => {
  const report = fixtureReport();
  report.runs = report.runs.slice(0, 1);
  report.runs[0].perf = [
    { event: 'a:b', available: true, value: 1, perMB: 0.5 },
    { event: 'a_b', available: true, value: 2, perMB: 0.25 },
    { event: 'L1-dcache-load-misses', available: false, value: null, perMB: null },
  ];
  report.summary.points = [];
  const [header, row] = parseCsv(renderCsv(report));
  const perf = header.filter((h) => h.startsWith('perf_'));
  t.same(perf, ['perf_a_b_per_mb', 'perf_a_b_per_mb_2', 'perf_l1_dcache_load_misses_per_mb']);
  t.same(perf.map((h) => row[header.indexOf(h)]), ['0.5', '0.25', '']);
});

t.test('an empty report is just the header', async (t) => {
  const report = fixtureReport();
  report.runs = [];
  report.summary.points = [];
  const rows = parseCsv(renderCsv(report));
  t.equal(rows.length, 1);
});
