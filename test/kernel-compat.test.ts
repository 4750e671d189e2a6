// Kernels older than this one and failures the environment causes, on this kernel: an LD_PRELOAD
// shim (test/fixtures/fake-kernel.c, compiled here) makes TCP_ZEROCOPY_RECEIVE answer with an
// older kernel's struct rules, makes MADV_POPULATE_WRITE fail, or puts another mapping into the
// hole a page move leaves. Each case runs in a child process (test/fixtures/kernel-child.ts).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zerocopyReceiveCveWarning } from '../lib/capabilities.js';
import { netnsSkip } from './helpers/network.js';
import { runChild } from './helpers/reliability.js';

const child = fileURLToPath(new URL('./fixtures/kernel-child.ts', import.meta.url));
const shimSource = fileURLToPath(new URL('./fixtures/fake-kernel.c', import.meta.url));

function buildShim(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'pageflip-fake-kernel-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  try {
    execFileSync('cc', ['-shared', '-fPIC', '-O1', '-o', join(dir, 'fake-kernel.so'), shimSource, '-ldl'], { stdio: 'pipe', env: { ...process.env, LD_PRELOAD: '' } }); // (no sanitizer runtime in the compiler)
    return join(dir, 'fake-kernel.so');
  } catch {
    return undefined;
  }
}
const shim = buildShim();
const shimSkip = netnsSkip || (shim ? false : 'no C compiler (cc) to build the LD_PRELOAD shim');

async function run(scenario: string, env: Record<string, string> = {}): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const preload = shim && Object.keys(env).length ? { LD_PRELOAD: [process.env.LD_PRELOAD, shim].filter(Boolean).join(' ') } : {};
  const result = await runChild(child, [scenario], { env: { ...env, ...preload }, timeoutMs: 60_000 });
  const line = result.stdout.trim().split('\n').pop() ?? '';
  if (result.code !== 0 || !line) throw new Error(`${scenario}: exit ${result.code} ${result.signal ?? ''} ${result.stderr.slice(-2000)}`);
  return JSON.parse(line);
}

t.test('a probe that failed because of the environment is asked again (lo down right after unshare)', { skip: netnsSkip }, async (t) => {
  const { before, after } = await run('probe-env');
  t.equal(before.supported, false, 'with lo down the probe cannot connect');
  t.match(before.reason, /loopback|listen|connect/, `and says why (${before.reason})`);
  t.equal(after.supported, true, `once lo is up the same process probes again and finds it (${after.reason})`);
  t.ok(after.abi, `with the struct ABI the kernel speaks (${after.abi})`);
});

t.test('4.18-5.6 kernels: the probe and every receive use the 16-byte struct', { skip: shimSkip }, async (t) => {
  const r = await run('receive', { PAGEFLIP_FAKE_ZEROCOPY_ABI: '4.18' });
  t.same(r.zerocopyReceive.supported, true, `supported (${r.zerocopyReceive.reason})`);
  t.equal(r.zerocopyReceive.abi, '4.18', 'ABI 4.18');
  t.equal(r.bytes, 1 << 20, `every byte received (${r.message ?? ''})`);
  t.ok(r.mapped > 0, `${r.mapped} bytes mapped`);
  t.equal(r.mismatches, 0, 'verified');
});

t.test('5.7-5.10 kernels that ignore a longer struct silently: ABI 5.7, no copybuf', { skip: shimSkip }, async (t) => {
  // Such a kernel never writes copybuf_len back: taking it for 5.12 would deliver garbage.
  const r = await run('receive', { PAGEFLIP_FAKE_ZEROCOPY_ABI: '5.7' });
  t.equal(r.zerocopyReceive.abi, '5.7', `ABI 5.7 (${r.zerocopyReceive.reason})`);
  t.equal(r.bytes, 1 << 20, `every byte received (${r.message ?? ''})`);
  t.equal(r.mismatches, 0, 'and every byte right');
});

t.test('MADV_POPULATE_WRITE: only "unsupported" (EINVAL) falls back to touching pages', { skip: shim ? false : 'no C compiler' }, async (t) => {
  t.same(await run('populate', { PAGEFLIP_FAKE_POPULATE_ERRNO: '22' }), { ok: true }, 'EINVAL: touched instead');
  for (const [errno, code] of [[12, 'ENOMEM'], [14, 'EFAULT'], [133, 'EHWPOISON']] as const) {
    t.same(await run('populate', { PAGEFLIP_FAKE_POPULATE_ERRNO: String(errno) }), { code, syscall: 'madvise' }, `${code} is reported`);
  }
});

t.test('a page move whose source address is taken meanwhile: data delivered, then EEXIST; the other mapping is left alone', { skip: shimSkip }, async (t) => {
  const r = await run('steal', { PAGEFLIP_FAKE_STEAL_HOLE: '1' });
  t.ok(r.first && r.first.mapped > 0, `the flipped pages were delivered (${JSON.stringify(r.first)})`);
  t.equal(r.mismatches, 0, 'and verified');
  t.same(r.failure, { code: 'EEXIST', syscall: 'mmap' }, 'the next read says what happened');
  t.match(r.strangerBefore, / r--p 00000000 00:00 0/, 'another mapping sits where the arena was');
  t.equal(r.strangerAfter, r.strangerBefore, 'close() did not unmap it');
});

t.test('CVE-2024-26640: which kernel releases get the warning', async (t) => {
  const warned = (release: string) => zerocopyReceiveCveWarning(release) !== undefined;
  for (const release of ['6.8.0', '6.18.44', '7.1.3', '6.7.4', '6.6.16-arch1', '6.1.77', '6.1.119-1-cloud-amd64', '5.15.149', '5.10.210', '4.17.19', '3.10.0-1160.el7.x86_64'])
    t.notOk(warned(release), `${release}: fixed, or no zero-copy receive at all`);
  for (const release of ['6.7.3', '6.6.15', '6.5.13', '6.1.76', '6.2.0', '5.15.148', '5.14.0-427.42.1.el9_4', '5.10.209', '5.4.0-200-generic', '4.19.316', '4.18.0-553.el8_10.x86_64'])
    t.match(zerocopyReceiveCveWarning(release), /CVE-2024-26640.*backported/, `${release}: warned`);
  t.match(zerocopyReceiveCveWarning('custom'), /cannot tell/, 'an unreadable release is said to be unknown');
});
