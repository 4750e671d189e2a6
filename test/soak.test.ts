// The CI soak: 2 GB through every receive mode, MTU and send mode, every byte verified, then
// the leak figures (bench/soak.ts states the tolerances). `npm run soak -- --gb N` runs longer.
import t from 'tap';
import { formatSoak, soak, soakModes } from '../bench/soak.js';
import { netnsSkip } from './helpers/network.js';
import { gc } from './helpers/reliability.js';

t.test('2 GB soak: every byte verified, no mismatch, no leak', { skip: netnsSkip }, async (t) => {
  void gc; // loads --expose-gc, so the soak's settle() can collect garbage
  // 16 MiB per connection: ~120 connections, so a per-connection leak adds up past the tolerance.
  const result = await soak({ gb: 2, segmentBytes: 16 * 1024 * 1024 });
  t.comment(formatSoak(result));
  t.same(result.errors, [], 'no errors');
  t.ok(result.bytes >= 2e9, `streamed ${result.bytes} bytes`);
  t.equal(result.verified, result.bytes, 'every byte verified');
  t.equal(result.mismatches, 0, 'no mismatch');
  for (const mode of soakModes) {
    const m = result.perMode[mode];
    t.ok(m.bytes > 0 && m.mismatches === 0, `${mode}: ${m.bytes} bytes, no mismatch`);
    t.equal(m.mapped + m.copied, m.bytes, `${mode}: mapped + copied = received`);
  }
  t.ok(result.perMode.zerocopy.mapped > 0 && result.perMode.flip.mapped > 0, 'zero-copy modes really mapped pages');
  t.ok(result.leaks.ok, `leaks within tolerance: ${JSON.stringify(result.leaks.growth)} (${result.leaks.tolerance})`);
  t.ok(result.ok);
});
