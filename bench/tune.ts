// Bench (not a test): what each receive-side knob does, measured side by side in one run.
// Copy path (write sender) against iperf3 at the same MTU; zero-copy path (MSG_ZEROCOPY sender)
// against its own default. Variants are interleaved within every repeat; medians are printed.
import { capabilities } from '../lib/capabilities.js';
import { referenceRunners } from '../lib/experiment/references.js';
import { localSender, runPoint, type PointSpec, type RunSettings } from '../lib/experiment/run-point.js';
import { localTestbed } from '../lib/experiment/testbed.js';
import type { RunResult } from '../lib/experiment/types.js';
import { columns, fixed, median, option } from './args.js';
import { DEFAULT_CHUNK_BYTES } from '../lib/vocabulary.js';

const seconds = option('seconds', 2);
const repeats = option('repeats', 3);
const cpus = capabilities().cpus >= 2 ? { rx: 0, tx: 1 } : null;
const KiB = 1024;
const base: RunSettings = { seconds, bytes: null, chunkBytes: DEFAULT_CHUNK_BYTES, cpus, perf: false, seed: 1 };

interface Variant {
  name: string;
  spec: PointSpec;
  settings: RunSettings;
  reference?: boolean;
}

function copyVariants(mtu: number): Variant[] {
  const spec: PointSpec = { mode: 'copy', mtu, touch: false, sender: 'write' };
  return [
    { name: 'iperf3 (reference)', spec: { ...spec, mode: 'iperf3' }, settings: base, reference: true },
    { name: 'copy: 256 KiB chunk, blocking recv, SO_RCVLOWAT = chunk (default)', spec, settings: base },
    { name: 'copy: no SO_RCVLOWAT', spec, settings: { ...base, tuning: { loop: { lowWater: 0 } } } },
    { name: 'copy: 64 KiB chunk', spec, settings: { ...base, chunkBytes: 64 * KiB } },
    { name: 'copy: 128 KiB chunk (iperf3\'s read size)', spec, settings: { ...base, chunkBytes: 128 * KiB } },
    { name: 'copy: 1 MiB chunk', spec, settings: { ...base, chunkBytes: 1024 * KiB } },
    { name: 'copy: non-blocking recv + poll', spec, settings: { ...base, tuning: { loop: { blocking: false } } } },
    { name: 'copy: SO_RCVBUF 4 MiB (no autotuning)', spec, settings: { ...base, tuning: { socket: { rcvbuf: 4096 * KiB } } } },
    { name: 'copy: not pinned', spec, settings: { ...base, cpus: null } },
  ];
}

function zerocopyVariants(mtu: number): Variant[] {
  const spec: PointSpec = { mode: 'zerocopy', mtu, touch: false, sender: 'zerocopy' };
  const loop = (options: NonNullable<RunSettings['tuning']>['loop']) => ({ ...base, tuning: { loop: options } });
  return [
    { name: 'zerocopy: 256 KiB slots, madvise per 4, TLB hint, SO_RCVLOWAT = slot (default)', spec, settings: base },
    { name: 'zerocopy: no SO_RCVLOWAT', spec, settings: loop({ lowWater: 0 }) },
    { name: 'zerocopy: madvise every slot', spec, settings: loop({ releaseBatch: 1 }) },
    { name: 'zerocopy: madvise per 16 slots', spec, settings: loop({ releaseBatch: 16 }) },
    { name: 'zerocopy: no TLB_CLEAN_HINT', spec, settings: loop({ tlbHint: false }) },
    { name: 'zerocopy: no madvise (kernel zaps on reuse)', spec, settings: loop({ lazyRelease: true }) },
    { name: 'zerocopy: 64 KiB slots', spec, settings: { ...base, chunkBytes: 64 * KiB } },
    { name: 'zerocopy: 1 MiB slots', spec, settings: { ...base, chunkBytes: 1024 * KiB } },
    { name: 'zerocopy: copybuf 16 KiB', spec, settings: loop({ copybuf: 16 * KiB }) },
  ];
}

const testbed = localTestbed();
if (testbed.kind !== 'netns') console.error(`note: ${testbed.description}`);
const side = localSender(testbed);
const iperf3 = referenceRunners({ reference: 'iperf3' }, (m) => console.error(m)).get('iperf3')?.(testbed);
const groups = [
  { title: 'copy path, MTU 4148 (write sender, notouch)', variants: copyVariants(4148) },
  { title: 'copy path, MTU 8244 (write sender, notouch)', variants: copyVariants(8244) },
  { title: 'zero-copy path, MTU 4148 (MSG_ZEROCOPY sender, notouch)', variants: zerocopyVariants(4148) },
].map((g) => ({ ...g, variants: g.variants.filter((v) => !v.reference || iperf3) }));

const results = new Map<Variant, RunResult[]>();
const total = groups.reduce((n, g) => n + g.variants.length, 0) * repeats;
let done = 0;
for (let repeat = 1; repeat <= repeats; repeat++) {
  for (const group of groups) {
    for (const variant of group.variants) {
      const settings = { ...variant.settings, seed: ++done };
      if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K[${done}/${total}] ${variant.spec.mtu} ${variant.name}`);
      const result = variant.reference
        ? await iperf3!('iperf3', variant.spec.mtu, repeat, settings)
        : await runPoint(side, variant.spec, settings, repeat);
      results.set(variant, [...(results.get(variant) ?? []), result]);
    }
  }
}
process.stderr.write('\n');
testbed.close();

for (const group of groups) {
  const summary = group.variants.map((v) => {
    const runs = results.get(v)!;
    return { v, gbps: median(runs.map((r) => r.gbps)), cpu: median(runs.map((r) => r.cpu.percent)), us: median(runs.map((r) => r.cpu.usPerMB)), eff: median(runs.map((r) => r.efficiency)), mapped: median(runs.map((r) => r.mappedPercent)) };
  });
  const reference = summary.find((s) => s.v.reference) ?? summary[0];
  console.log(`\n${group.title}: median of ${repeats} × ${seconds} s; ratios against ${reference.v.name}`);
  console.log(
    columns(
      ['variant', 'Gbit/s', 'CPU %', 'CPU-µs/MB', 'eff', 'eff ratio', '% mapped'],
      summary.map((s) => [s.v.name, fixed(s.gbps), fixed(s.cpu, 1), fixed(s.us, 0), fixed(s.eff, 1), fixed(s.eff / reference.eff), fixed(s.mapped, 1)]),
    ),
  );
}
console.log(`\nmethod: each variant is one receive loop of ${seconds} s on a fresh connection in a private namespace (lo MTU as shown), sender and receiver pinned to CPUs 1 and 0 unless stated; efficiency = Mbit/s ÷ system-wide CPU % from /proc/stat over the run; iperf3 runs whole seconds in the same namespace.`);
