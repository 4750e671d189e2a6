// Bench (not a test): pageflip's receive paths beside iperf3, measured in one run with the
// experiment's own machinery (same namespaces, pinning, /proc/stat sampling, interleaving).
// Prints Gbit/s, CPU %, CPU-µs/MB, efficiency and each pageflip row's ratio to iperf3.
import { compare, localEnvironment, type CompareOptions } from '../lib/experiment/compare.js';
import { progressReporter } from '../lib/experiment/progress.js';
import { referenceRunners } from '../lib/experiment/references.js';
import { columns, fixed, option } from './args.js';

const options: CompareOptions = {
  modes: ['copy', 'zerocopy'],
  mtus: [4148, 8244],
  touch: 'no', // iperf3 never reads its payload
  sender: 'zerocopy', // copy ← write is added as the best-copy row
  seconds: option('seconds', 3),
  repeats: option('repeats', 3),
  reference: 'iperf3',
};
const references = referenceRunners(options, (message) => console.error(message));
if (references.size === 0) {
  console.error('bench:reference needs iperf3 (apt-get install iperf3)');
  process.exit(1);
}
const env = localEnvironment(options, references);
const report = await compare(options, env, progressReporter());
await env.close();

const label = (mode: string, sender: string) =>
  mode === 'iperf3' ? 'iperf3 (write/read)' : mode === 'iperf3-Z' ? 'iperf3 -Z (sendfile)' : `pageflip ${mode} ← ${sender}`;
for (const mtu of options.mtus!) {
  const points = report.summary.points.filter((p) => p.mtu === mtu);
  const iperf = points.find((p) => p.mode === 'iperf3');
  const rows = points.map((p) => [
    label(p.mode, p.sender),
    fixed(p.gbps.median),
    fixed(p.cpuPercent.median, 1),
    fixed(p.usPerMB.median, 0),
    fixed(p.efficiency.median, 1),
    `${fixed(p.efficiency.min, 1)}–${fixed(p.efficiency.max, 1)}`,
    iperf ? fixed(p.efficiency.median / iperf.efficiency.median) : 'n/a',
    iperf ? fixed(p.gbps.median / iperf.gbps.median) : 'n/a',
    p.mode.startsWith('iperf3') ? '' : fixed(p.mappedPercent, 1),
  ]);
  console.log(`\nMTU ${mtu}, notouch, median of ${options.repeats} runs of ${options.seconds} s (iperf3: whole seconds)`);
  console.log(columns(['configuration', 'Gbit/s', 'CPU %', 'CPU-µs/MB', 'eff', 'eff min–max', 'eff ÷ iperf3', 'Gbit/s ÷ iperf3', '% mapped'], rows));
}
console.log('\nmethod:');
for (const line of report.method) console.log(`  - ${line}`);
for (const warning of report.warnings) console.log(`  ! ${warning}`);
