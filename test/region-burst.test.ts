// close() frees what the addon holds for a region at once (its native object, its pages, its
// reference to the view), so a synchronous burst of alloc/close cycles stays bounded instead of
// holding every region until the event loop turns. Before: 200k cycles with .bytes grew RSS by
// 125 MiB, without .bytes by 64 MiB.
//
// What remains with .bytes is Node's own: each external ArrayBuffer's bookkeeping (node::Buffer
// callback info, the finalizer's setImmediate) waits for the loop to turn, about 200 bytes a
// buffer on Node 20 and 24 (measured with no native owner at all: 40 MiB over 200k), so the
// bound below is 64 MiB rather than the 32 MiB issue 11 asked for.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { MiB, runChild, sanitizer } from './helpers/reliability.js';

const child = fileURLToPath(new URL('./fixtures/burst-child.ts', import.meta.url));
const skip = sanitizer ? 'ASan keeps freed memory in its quarantine: RSS says nothing here' : false;

for (const [variant, bound] of [['bytes', 64 * MiB], ['plain', 16 * MiB]] as const) {
  t.test(`200k synchronous alloc(8192)${variant === 'bytes' ? ' + .bytes' : ''} + close()`, { skip }, async (t) => {
    const result = await runChild(child, [variant, '200000'], { timeoutMs: 180_000 });
    t.equal(result.signal, null, 'no signal');
    t.equal(result.code, 0, `exited normally ${result.stderr.slice(-1000)}`);
    const { growth } = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { growth: number };
    t.ok(growth < bound, `RSS grew ${(growth / MiB).toFixed(1)} MiB (bound ${bound / MiB} MiB)`);
  });
}
