// Is this a VM, and is page-table work expensive here? Page moving pays per page-table entry, so
// a hypervisor that shadows the guest's page tables (or nests them) handicaps every moving mode.
// The guest cannot read the paging mode; it can measure what a page fault costs, so the verdict
// says what was measured and what it infers from it.
import { readFileSync } from 'node:fs';
import { binding } from '../native.js';

/** An anonymous page fault above this is far beyond bare metal (a few hundred ns with hardware paging). */
export const EXPENSIVE_FAULT_US = 1;

export interface VirtualizationInfo {
  hypervisor: string | null; // cpuid signature, 'unnamed' when the hypervisor bit is set without one; null: bare metal
  faultUs: number;
  syscallUs: number;
  pageTableWorkExpensive: boolean;
  /** Hints on the kernel command line (e.g. nested_pvm=1), shown as evidence, not as proof. */
  hints: string[];
  summary: string;
  method: string;
}

const VENDORS: Record<string, string> = { KVMKVMKVM: 'KVM', 'Microsoft Hv': 'Hyper-V', VMwareVMware: 'VMware', XenVMMXenVMM: 'Xen', 'TCGTCGTCGTCG': 'QEMU TCG' };

function commandLineHints(): string[] {
  try {
    return readFileSync('/proc/cmdline', 'utf8').split(/\s+/).filter((word) => /pvm|shadow|ept|npt|nested/i.test(word)).slice(0, 4);
  } catch {
    return [];
  }
}

/** The verdict from measured figures (pure, so it is testable on fixed inputs). */
export function assessVirtualization(v: { hypervisor: boolean; hypervisorVendor: string | null; faultUs: number; syscallUs: number }, hints: string[]): Omit<VirtualizationInfo, 'method'> {
  const hypervisor = v.hypervisor ? (v.hypervisorVendor ? (VENDORS[v.hypervisorVendor] ?? v.hypervisorVendor) : 'unnamed') : null;
  const expensive = v.faultUs > EXPENSIVE_FAULT_US;
  const who = hypervisor ? `${hypervisor} guest (cpuid hypervisor bit${v.hypervisorVendor ? `, signature ${v.hypervisorVendor}` : ''})` : 'no hypervisor reported by cpuid (bare metal, or a hypervisor that hides itself)';
  const cost = `an anonymous page fault costs ${v.faultUs.toFixed(2)} µs here (${(v.faultUs / v.syscallUs).toFixed(0)}× a ${v.syscallUs.toFixed(2)} µs syscall)`;
  const hint = hints.length ? ` (kernel command line: ${hints.join(' ')})` : '';
  const verdict = expensive
    ? hypervisor
      ? `: page-table work is expensive, consistent with shadow or nested paging${hint}; it handicaps every page-moving mode on this host`
      : `: page-table work is expensive here; it handicaps every page-moving mode`
    : hypervisor
      ? `: page-table work looks hardware-assisted (at most ${EXPENSIVE_FAULT_US} µs a fault)${hint}`
      : '';
  return { hypervisor, faultUs: v.faultUs, syscallUs: v.syscallUs, pageTableWorkExpensive: expensive, hints, summary: `${who}; ${cost}${verdict}` };
}

/** Measures on the calling thread (a few ms). */
export function virtualizationInfo(): VirtualizationInfo {
  const v = binding.virtualization();
  return { ...assessVirtualization(v, commandLineHints()), method: `${v.method}; 'expensive' means a fault above ${EXPENSIVE_FAULT_US} µs` };
}
