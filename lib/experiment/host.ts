// Who measured: kernel, CPU, cores, page size, THP; recorded with every report.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { capabilities, type Capabilities } from '../capabilities.js';
import { packageRoot } from '../native.js';
import type { HostInfo } from './types.js';

function cpuInfo(): { model: string; mhz: number | null } {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const model = text.match(/^model name\s*:\s*(.+)$/m)?.[1] ?? text.match(/^Hardware\s*:\s*(.+)$/m)?.[1] ?? 'unknown';
    const mhz = Number(text.match(/^cpu MHz\s*:\s*([\d.]+)$/m)?.[1]);
    return { model: model.trim(), mhz: Number.isFinite(mhz) ? mhz : null };
  } catch {
    return { model: 'unknown', mhz: null };
  }
}

export function pageflipVersion(): string {
  return (JSON.parse(readFileSync(`${packageRoot}/package.json`, 'utf8')) as { version: string }).version;
}

/** `caps`: the capabilities() the caller already has, so they are not probed twice. */
export function hostInfo(caps: Capabilities = capabilities()): HostInfo {
  const cpu = cpuInfo();
  return {
    hostname: hostname(),
    kernel: caps.kernelRelease,
    machine: caps.machine,
    cpuModel: cpu.model,
    cpuMHz: cpu.mhz,
    cpus: caps.cpus,
    pageSize: caps.pageSize,
    thp: caps.transparentHugePages.mode ?? null,
    node: process.version,
    pageflip: pageflipVersion(),
  };
}
