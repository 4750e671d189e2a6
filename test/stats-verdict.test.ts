// The verdict paragraph is built only from the run's medians; each branch must follow the numbers.
import t from 'tap';
import { verdict } from '../lib/experiment/stats.js';
import type { PointSummary, RowMode } from '../lib/experiment/types.js';

const spread = (median: number) => ({ median, min: median, max: median });

function point(mode: RowMode, touch: boolean, efficiencyRatio: number | null, tlbFlushPerMB?: number): PointSummary {
  return {
    mode,
    mtu: 4148,
    touch,
    sender: 'zerocopy',
    runs: 3,
    gbps: spread(10),
    cpuPercent: spread(50),
    usPerMB: spread(100),
    efficiency: spread(200),
    mappedPercent: mode === 'copy' ? 0 : 100,
    mismatches: 0,
    vsCopy: efficiencyRatio === null ? null : { gbps: efficiencyRatio, usPerMB: 1 / efficiencyRatio, efficiency: efficiencyRatio },
    perfPerMB: tlbFlushPerMB === undefined ? null : { 'tlb:tlb_flush': tlbFlushPerMB },
  };
}

t.test('every page-moving point loses: says so, with per-mode ranges', async (t) => {
  const text = verdict(
    [point('copy', false, null, 0.008), point('zerocopy', false, 0.7, 4.3), point('flip', false, 0.3, 73.1), point('zerocopy', true, 0.8, 5)],
    [],
  );
  t.match(text, /less efficient .* than one copy in every case/);
  t.match(text, /zerocopy -30\.0% to -20\.0%; flip -70\.0%/);
  // Small counts keep two significant digits instead of rounding to 0.0.
  t.match(text, /zerocopy 4\.3–5\.0, flip 73 TLB flushes per MB against 0\.0080 for copy/);
});

t.test('a tie within 2% is not called a loss in every case', async (t) => {
  const text = verdict([point('copy', false, null), point('zerocopy', false, 0.99), point('flip', false, 0.5)], []);
  t.match(text, /never beat one copy by more than 2%/);
  t.notMatch(text, /TLB flushes/, 'no perf, no counter sentence');
});

t.test('wins and losses are named where they happened', async (t) => {
  const win = verdict([point('copy', true, null), point('zerocopy', true, 1.1)], []);
  t.match(win, /beat one copy \(zerocopy at 4148 touch\): the opposite/);
  const mixed = verdict([point('copy', true, null), point('zerocopy', true, 1.1), point('flip', false, 0.5)], []);
  t.match(mixed, /won at zerocopy at 4148 touch and lost at flip at 4148 notouch/);
});

t.test('without a page-moving point next to copy there is no answer', async (t) => {
  t.match(verdict([point('copy', false, null)], []), /cannot answer the paper's question/);
});
