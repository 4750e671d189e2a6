// Issue 15 §3: the run order is shuffled afresh in every repeat from a recorded seed (the same
// seed gives the same order), and MTUs whose IPv4 payload is not whole pages are named. The
// runs here are stand-in reference rows (no traffic): only the order compare calls them in matters.
import t from 'tap';
import { compare, LARGE_MTU, mtuWarnings, resolveConfig, seededRandom, shuffled, type CompareEnvironment, type ReferenceRunner } from '../lib/experiment/compare.js';
import type { RowMode, RunResult } from '../lib/experiment/types.js';

function fakeRun(mode: RowMode, mtu: number, repeat: number): RunResult {
  const cpu = { percent: 50, user: 10, nice: 0, system: 30, irq: 0, softirq: 10, steal: 0, idle: 50, usPerMB: 100 };
  return {
    repeat, mode, mtu, touch: false, sender: 'iperf3', bytes: 1e9, seconds: 1, gbps: 8, mbps: 8000, cpu, efficiency: 160,
    receiverThread: null, senderThread: null, mappedBytes: 0, copiedBytes: 1e9, mappedPercent: 0, verifiedBytes: 0,
    mismatches: 0, syscalls: null, calls: null, perf: null, note: null, remote: null,
  };
}

/** Runs compare over stand-in rows and returns the report and the order of the calls, per repeat. */
async function orderOf(orderSeed: number | undefined) {
  const calls: string[][] = [];
  const runner: ReferenceRunner = async (mode, mtu, repeat) => {
    (calls[repeat - 1] ??= []).push(`${mode}@${mtu}`);
    return fakeRun(mode, mtu, repeat);
  };
  const env: CompareEnvironment = {
    side: { open: () => Promise.reject(new Error('no pageflip rows in this test')) },
    network: 'netns',
    networkDescription: 'stand-in',
    peer: null,
    remoteHost: null,
    references: new Map<RowMode, ReferenceRunner>([['iperf3', runner], ['iperf3-Z', runner]]),
    close: () => {},
  };
  const report = await compare({ modes: ['iperf3'], mtus: [4148, 8244, 9000, 16436], touch: 'no', repeats: 4, orderSeed, cpus: null }, env);
  return { report, calls };
}

t.test('the order is shuffled per repeat, from the recorded seed', async (t) => {
  const first = await orderOf(7);
  t.equal(first.report.config.orderSeed, 7, 'the seed is in the report');
  t.match(first.report.method.join('\n'), /run order shuffled afresh in every repeat \(seed 7\)/);
  t.equal(first.calls.length, 4);
  for (const repeat of first.calls) t.equal(repeat.length, 8, 'every point once per repeat');
  t.ok(new Set(first.calls.map((c) => c.join())).size > 1, 'the order differs between repeats');
  t.not(first.calls[0][0], undefined);
  const firsts = new Set(first.calls.map((c) => c[0]));
  t.ok(firsts.size > 1, 'no point always runs first');
  const again = await orderOf(7);
  t.same(again.calls, first.calls, 'the same seed gives the same order');
  const other = await orderOf(8);
  t.notSame(other.calls, first.calls, 'another seed, another order');
  const random = await orderOf(undefined);
  t.ok(Number.isInteger(random.report.config.orderSeed), 'without a seed one is drawn and recorded');
});

t.test('the shuffle is a permutation and the generator is deterministic', async (t) => {
  const items = [...Array(20).keys()];
  const a = shuffled(items, seededRandom(1));
  t.same([...a].sort((x, y) => x - y), items);
  t.same(shuffled(items, seededRandom(1)), a);
  t.same(items, [...Array(20).keys()], 'the input is left alone');
  const r = seededRandom(3);
  for (let i = 0; i < 100; i++) {
    const v = r();
    t.ok(v >= 0 && v < 1);
  }
  t.throws(() => resolveConfig({ orderSeed: -1 }, 'netns', null), { code: 'ERR_PAGEFLIP_OUT_OF_RANGE' });
});

t.test('MTUs: the full matrix carries whole pages over IPv4; others are named', async (t) => {
  t.equal(LARGE_MTU, 61492);
  t.equal((LARGE_MTU - 52) % 4096, 0, '61492 − 52 = 15 pages');
  t.same(resolveConfig({}, 'netns', null).mtus, [4148, 8244, 61492]);
  t.same(mtuWarnings({ mtus: [4148, 8244, 61492], modes: ['copy', 'zerocopy'] }), []);
  const [warning] = mtuWarnings({ mtus: [61512], modes: ['flip'] });
  t.match(warning, /MTU 61512: 61460 B of payload .* last 20 B .* e\.g\. 61492/);
  t.same(mtuWarnings({ mtus: [61512], modes: ['copy'] }), [], 'no page moving, nothing to warn about');
  t.match(mtuWarnings({ mtus: [1500], modes: ['zerocopy'] })[0], /e\.g\. 4148/);
});
