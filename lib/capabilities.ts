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

export function capabilities(): Capabilities {
  return {
    ...binding.capabilities(),
    transparentHugePages: transparentHugePages(),
    networkNamespaces: networkNamespaces(),
    perf: perf(),
  };
}
