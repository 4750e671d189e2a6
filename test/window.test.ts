// CPU figures from a run's measurement window (issue 15 §2), on synthetic /proc texts: CPU % of
// non-stolen time with steal beside it, per-CPU sides, other processes' user time, the sender
// threads' schedstat. The real-run checks are in layout.test.ts.
import t from 'tap';
import { cpuUsage, processTicks, readCpu, readPerCpu, schedstatSeconds, sumCpus } from '../lib/experiment/cpu.js';
import { windowFigures, type WindowPlan } from '../lib/experiment/window.js';
import { tickResolution } from '../lib/experiment/compare.js';

/** A /proc/stat with the aggregate line and one line per CPU (fields: user nice system idle iowait irq softirq steal). */
function stat(cpus: number[][]): string {
  const all = cpus[0].map((_, i) => cpus.reduce((sum, c) => sum + c[i], 0));
  return [`cpu  ${all.join(' ')} 0 0`, ...cpus.map((c, i) => `cpu${i} ${c.join(' ')} 0 0`), 'intr 1 2 3', 'ctxt 99'].join('\n');
}

t.test('CPU % is of the time not stolen; steal is reported beside it', async (t) => {
  // 100 ticks: 30 busy, 20 stolen, 50 idle. Busy share of usable time = 30 / 80.
  const before = readCpu(stat([[0, 0, 0, 0, 0, 0, 0, 0]]));
  const after = readCpu(stat([[20, 0, 10, 50, 0, 0, 0, 20]]));
  const usage = cpuUsage(before, after, 1e6, 1);
  t.equal(usage.percent, 37.5, 'busy ÷ (all − steal)');
  t.equal(usage.steal, 20, 'steal as a share of all time');
  t.equal(usage.idle, 62.5);
  t.equal(usage.usPerMB, 300000, '30 busy ticks = 0.3 CPU-s per MB');
});

t.test('per-CPU lines, summed by side', async (t) => {
  const text = stat([[1, 0, 2, 3, 0, 0, 4, 0], [10, 0, 20, 30, 0, 0, 40, 0]]);
  const per = readPerCpu(text);
  t.same([...per.keys()], [0, 1]);
  t.equal(per.get(1)!.softirq, 40);
  const [b, a] = sumCpus(per, readPerCpu(stat([[2, 0, 2, 3, 0, 0, 4, 0], [10, 0, 20, 30, 0, 0, 41, 0]])), [0, 1]);
  t.equal(a.total - b.total, 2);
  t.throws(() => sumCpus(per, per, [7]), /no line for CPU 7/);
});

t.test('process and thread counters', async (t) => {
  // comm may hold spaces and parentheses: fields are counted after the last ')'.
  const line = '1234 (node (x) y) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 75 0 0 20 0 12 0 100 0 0';
  t.same(processTicks(line), { user: 250, system: 75 });
  t.equal(processTicks(''), null, 'an unreadable (gone) process');
  t.equal(schedstatSeconds('1500000000 2000 30\n'), 1.5);
  t.equal(schedstatSeconds(''), null);
});

t.test('a window: whole box, sides, other processes and the sender threads', async (t) => {
  const plan: WindowPlan = { paths: ['/proc/stat', '/proc/10/stat', '/proc/20/stat', '/proc/20/task/21/schedstat'], senderPid: 20, senderTids: [21] };
  const proc = (user: number, system: number) => `10 (x) R 1 1 1 0 -1 0 0 0 0 0 ${user} ${system} 0 0`;
  // 2 CPUs × 100 ticks. cpu0 (receiver): 60 busy of which 20 softirq; cpu1 (sender): 90 busy.
  const start = [stat([[0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]]), proc(0, 0), proc(0, 0), '1000000000 0 0'];
  const end = [stat([[30, 0, 10, 40, 0, 0, 20, 0], [40, 0, 50, 10, 0, 0, 0, 0]]), proc(25, 10), proc(30, 50), '1900000000 0 0'];
  const f = windowFigures(plan, start, end, 1e8, 1, { rx: [0], tx: [1] });
  t.equal(f.cpu.percent, 75, 'whole box: 150 busy of 200');
  t.equal(f.sides!.receiver.percent, 60);
  t.equal(f.sides!.receiver.softirq, 20);
  t.equal(f.sides!.sender.percent, 90);
  t.ok(Math.abs(f.senderSeconds! - 0.9) < 1e-9, 'schedstat delta of the send thread');
  // Box user time 70 ticks, ours 25 + 30 = 55: someone else ran 15 ticks of 200.
  t.equal(f.otherCpu, 7.5);
  t.equal(windowFigures(plan, start, end, 1e8, 1, null).sides, null, 'no sides without pinning');
  const gone = windowFigures(plan, start, [...end.slice(0, 2), '', ''], 1e8, 1, null);
  t.equal(gone.otherCpu, null, 'the sender process vanished: other processes unknown');
  t.equal(gone.senderSeconds, null, 'and its thread unread');
});

t.test('tick resolution of a run, for the method lines', async (t) => {
  t.same(tickResolution(0.5, 2), { box: 1, side: 2 });
  t.same(tickResolution(2, 2), { box: 0.25, side: 0.5 });
});
