// The published efficiencies (Mbit/s ÷ CPU %) of Ronciak, Brandeburg, Venkatesan, "Page-Flip
// Technology for use within the Linux Networking Stack", OLS 2004, Figures 1-2 (touch data,
// Linux 2.6.4, e1000 with header split, CPU utilisation from sar).
import type { PaperFigure } from './types.js';

export const paperFigures: PaperFigure[] = [
  { mtu: 4148, cpuGHz: 1.8, copy: 6.52, flip: 6.48 },
  { mtu: 8244, cpuGHz: 1.8, copy: 6.86, flip: 6.85 },
  { mtu: 4148, cpuGHz: 2.4, copy: 8.59, flip: 8.45 },
  { mtu: 8244, cpuGHz: 2.4, copy: 9.02, flip: 8.93 },
];
