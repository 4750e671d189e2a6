// What this kernel and runtime can do, probed live; each mechanism says why it is (un)supported.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { binding, type Feature, type NativeCapabilities } from './native.js';
import { selectedSetting } from './procfs.js';

export type { Feature } from './native.js';

export interface Capabilities extends NativeCapabilities {
  transparentHugePages: Feature & { mode: string | undefined };
  networkNamespaces: Feature;
  perf: Feature & { path: string | undefined };
}

/** Absolute path of an executable on PATH, or undefined. */
export function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function transparentHugePages(): Capabilities['transparentHugePages'] {
  const mode = selectedSetting('/sys/kernel/mm/transparent_hugepage/enabled');
  if (mode === undefined) return { supported: false, mode, reason: 'kernel has no transparent huge pages' };
  if (mode === 'never') return { supported: false, mode, reason: 'THP disabled (mode "never")' };
  return { supported: true, mode, reason: `THP mode "${mode}"; hugePages regions use MADV_HUGEPAGE` };
}

// Asks the kernel rather than guessing from the user id or from binaries on PATH: the library
// creates namespaces and configures lo itself (no `ip` or `unshare` needed).
function networkNamespaces(): Feature {
  try {
    binding.closeFd(binding.netnsCreate());
    return { supported: true, reason: 'unshare(CLONE_NEWNET) works; lo is configured natively' };
  } catch (error) {
    return { supported: false, reason: (error as Error).message };
  }
}

function perf(): Capabilities['perf'] {
  const path = findExecutable('perf');
  return path
    ? { supported: true, path, reason: `perf at ${path}` }
    : { supported: false, path, reason: 'perf not found (Debian: apt-get install linux-perf)' };
}

// CVE-2024-26640 ("tcp: add sanity checks to rx zerocopy", 577e4432f3ac): before the fix,
// TCP_ZEROCOPY_RECEIVE could map page-cache pages a peer sent with sendfile(), and a local user could
// crash the kernel. Fixed in 6.8 and in these stable lines (CVE record, cvelistV5 CVE-2024-26640.json).
const CVE_2024_26640_FIXED: ReadonlyMap<string, number> = new Map([
  ['5.10', 210],
  ['5.15', 149],
  ['6.1', 77],
  ['6.6', 16],
  ['6.7', 4],
]);

/**
 * A warning when the kernel `release` (uname -r) has TCP_ZEROCOPY_RECEIVE (4.18+) but not the
 * upstream fix for CVE-2024-26640; undefined when it has the fix or no zero-copy receive at all.
 * Distribution kernels may carry the fix under an older version number: the warning says so.
 */
export function zerocopyReceiveCveWarning(release: string): string | undefined {
  const version = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  if (!version) return `cannot tell from the kernel release '${release}' whether it has the fix for CVE-2024-26640 (zero-copy receive could map page-cache pages and crash the kernel)`;
  const [major, minor, patch] = [Number(version[1]), Number(version[2]), Number(version[3] ?? 0)];
  const line = major * 1000 + minor;
  if (line < 4018 || line >= 6008) return undefined;
  const fixedIn = CVE_2024_26640_FIXED.get(`${major}.${minor}`);
  if (fixedIn !== undefined && patch >= fixedIn) return undefined;
  return (
    `Linux ${release} predates the fix for CVE-2024-26640 (zero-copy receive could map page-cache pages sent with sendfile() ` +
    `and a local user could crash the kernel; fixed in 6.8, 6.7.4, 6.6.16, 6.1.77, 5.15.149, 5.10.210). ` +
    `Unless your distribution backported it, use zerocopy/flip receive only where that risk is acceptable.`
  );
}

export function capabilities(): Capabilities {
  return {
    ...binding.capabilities(),
    transparentHugePages: transparentHugePages(),
    networkNamespaces: networkNamespaces(),
    perf: perf(),
  };
}
