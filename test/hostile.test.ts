// Every exported native function and method (lib/native.ts Binding) called with hostile
// arguments: typed errors, never a crash, no descriptor of someone else's closed or changed.
// The calls run in a child process inside its own network namespace (test/fixtures/
// hostile-child.ts), since some take descriptors or reconfigure links; the child must exit
// normally with nothing to report.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { PageRegion } from '../lib/index.js';
import { binding } from '../lib/native.js';
import { netnsSkip } from './helpers/network.js';
import { runChild } from './helpers/reliability.js';

const child = fileURLToPath(new URL('./fixtures/hostile-child.ts', import.meta.url));

t.test('hostile arguments to every native function: typed errors, no crash', { skip: netnsSkip }, async (t) => {
  const result = await runChild(child, ['150'], { timeoutMs: 120_000 });
  t.equal(result.signal, null, 'the child was not killed by a signal');
  const line = result.stdout.trim().split('\n').pop() ?? '';
  t.equal(result.code, 0, `the child exited normally with nothing to report${result.code ? `: ${line.slice(0, 3000)} ${result.stderr.slice(-2000)}` : ''}`);
  const report = JSON.parse(line) as {
    violations: string[];
    calls: Record<string, number>;
    outcomes: { returned: number; typed: number; rethrown: number };
  };
  t.same(report.violations, [], 'no untyped error, hang, changed or leaked descriptor');
  for (const name of Object.keys(binding)) {
    t.ok(Object.keys(report.calls).some((call) => call.includes(name)), `export ${name} is among the fuzzed calls`);
  }
  for (const [name, count] of Object.entries(report.calls)) t.equal(count, 150, `${name}: 150 hostile calls`);
  t.ok(report.outcomes.typed > 1000, `${report.outcomes.typed} typed errors, ${report.outcomes.returned} returns, ${report.outcomes.rethrown} rethrown hostile exceptions`);
});

t.test('hostile arguments in this process: regions (no descriptors involved)', async (t) => {
  // The same in the test process itself, for the calls that touch no descriptor.
  const odd: unknown[] = [undefined, null, -0, NaN, 2 ** 64, -1n, 2n ** 64n, '8192', Symbol('x'), {}, [], () => 8192, new ArrayBuffer(8)];
  const bomb = { valueOf: () => { throw new Error('boom'); } };
  for (const v of [...odd, bomb]) {
    t.throws(() => PageRegion.alloc(v as number), { code: /^ERR_PAGEFLIP_/ }, `alloc(${typeof v})`);
    const r = PageRegion.alloc(8192);
    t.throws(() => r.moveTo(v as PageRegion), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' }, `moveTo(${typeof v})`);
    r.close();
  }
  const fake = Object.create(binding.Region.prototype) as never;
  const r = new binding.Region(8192);
  t.throws(() => r.moveTo(fake), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' }, 'an object that only inherits from Region');
  r.close();
});
