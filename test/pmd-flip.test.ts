// Flips of whole 2 MiB slots (issue 16 §2): a flip whose chunk is a multiple of 2 MiB waits for a
// whole slot and moves it onto a 2 MiB-aligned destination, the conditions under which mremap
// moves the page table (one PMD entry) rather than 512 PTEs. Every byte is still verified, a
// partial last slot still arrives, and other chunk sizes and modes never claim the PMD path.
import t from 'tap';
import { Receiver, receiveLoop, sendLoop, capabilities } from '../lib/index.js';
import { netnsSkip, network, pair } from './helpers/network.js';

const MiB = 1024 * 1024;
const skip = netnsSkip || (capabilities().zerocopyReceive.supported ? false : 'no TCP_ZEROCOPY_RECEIVE here');

t.test('flip at 2 MiB chunks: whole, aligned slots, every byte verified, a partial tail', { skip }, async (t) => {
  const net = network(t, 4148);
  // 33 MiB: sixteen whole slots and a 1 MiB tail that arrives with the FIN.
  const bytes = 33 * MiB;
  const { client, server } = await pair(t, net);
  const [r] = await Promise.all([
    receiveLoop(server, { mode: 'flip', chunkSize: 2 * MiB, verify: true, seed: 21 }).done,
    sendLoop(client, { mode: 'zerocopy', bytes, seed: 21 }).done,
  ]);
  t.equal(r.bytes, bytes, 'every byte arrived, the partial last slot too');
  t.equal(r.verifiedBytes, bytes);
  t.equal(r.mismatches, 0);
  t.equal(r.mode, 'flip');
  t.equal(r.remappedBytes, bytes, 'every mapped byte was moved');
  const flips = Math.ceil(r.remappedBytes / (2 * MiB));
  // A receive wakes once a whole slot is queued; the tail and a busy machine's early wake-ups
  // (a receive timeout) may flip less. Nothing is lost either way: those take the PTE path.
  t.ok(r.pmdMoves <= 16, `at most the 16 whole slots qualify (${r.pmdMoves})`);
  t.ok(r.pmdMoves >= 0.75 * 16, `${r.pmdMoves} of ~${flips} flips moved whole aligned slots (PMD path eligible)`);
});

t.test('other chunks and modes never claim the PMD path', { skip }, async (t) => {
  const net = network(t, 4148);
  for (const [mode, chunkSize] of [['flip', 256 * 1024], ['flip', 3 * MiB], ['zerocopy', 2 * MiB], ['copy-remap', 2 * MiB]] as const) {
    const { client, server } = await pair(t, net);
    const [r] = await Promise.all([
      receiveLoop(server, { mode, chunkSize, verify: true, seed: 22 }).done,
      sendLoop(client, { mode: 'zerocopy', bytes: 8 * MiB, seed: 22 }).done,
    ]);
    t.equal(r.mismatches, 0, `${mode} at ${chunkSize}: verified`);
    t.equal(r.pmdMoves, 0, `${mode} at ${chunkSize / 1024} KiB: no PMD moves`);
  }
});

// The chunk API waits lowWaterMs for lowWater bytes (default 1 ms, less than a 2 MiB slot takes to
// arrive), so a caller who wants whole slots lets it wait longer.
t.test('the JS chunk API flips whole 2 MiB slots too', { skip }, async (t) => {
  const net = network(t, 4148);
  const { client, server } = await pair(t, net);
  const receiver = new Receiver(server, { mode: 'flip', chunkSize: 2 * MiB, maxLeases: 2, lowWaterMs: 200 });
  const sending = sendLoop(client, { mode: 'zerocopy', bytes: 16 * MiB, seed: 23 }).done;
  let received = 0;
  for (;;) {
    const chunk = await receiver.read();
    if (!chunk) break;
    received += chunk.length;
    chunk.release();
  }
  await sending;
  const stats = receiver.stats();
  receiver.close();
  t.equal(received, 16 * MiB);
  t.ok(stats.pmdMoves >= 4, `${stats.pmdMoves} of 8 flips moved whole aligned slots`);
});
