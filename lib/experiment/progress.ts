// Live progress on stderr: one rewritten line on a terminal, plain lines otherwise.
import type { ProgressEvent } from './plan.js';
import { MOVING } from '../vocabulary.js';

/** `chunk`: the run's chunk; a point with another one says so. */
function label(spec: { mode: string; mtu: number; touch: boolean; sender: string; chunkBytes?: number }, chunk: number | undefined): string {
  const own = spec.chunkBytes !== undefined && spec.chunkBytes !== chunk ? ` (${spec.chunkBytes / 1024} KiB chunk)` : '';
  return `MTU ${spec.mtu} ${spec.touch ? 'touch  ' : 'notouch'} ${spec.mode}←${spec.sender}${own}`;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return m ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}

export function progressReporter(stream: NodeJS.WriteStream = process.stderr): (event: ProgressEvent) => void {
  const tty = stream.isTTY === true;
  const started = Date.now();
  let lastLine = '';
  let chunk: number | undefined;
  const write = (text: string, final: boolean) => {
    if (tty) {
      const width = (stream.columns ?? 100) - 1;
      stream.write(`\r\x1b[K${text.slice(0, width)}${final ? '\n' : ''}`);
    } else if (final) stream.write(`${text}\n`);
    lastLine = text;
  };
  return (event) => {
    const elapsed = (Date.now() - started) / 1000;
    switch (event.kind) {
      case 'start':
        chunk = event.config.chunkBytes;
        write(`pageflip compare: ${event.total} runs (${event.config.repeats} repeats), ${event.config.network}`, true);
        break;
      case 'run': {
        const eta = event.index > 1 ? (elapsed / (event.index - 1)) * (event.total - event.index + 1) : NaN;
        if (tty) write(`[${event.index}/${event.total}] r${event.repeat} ${label(event.spec, chunk)}${event.warmup ? ' (warm-up)' : ''}  eta ${duration(eta)}`, false);
        break;
      }
      case 'result': {
        const r = event.result;
        const text = `[${event.index}/${event.total}] r${r.repeat} ${label(r, chunk)}: ${r.gbps.toFixed(2)} Gbit/s, CPU ${r.cpu.percent.toFixed(1)}%, eff ${r.efficiency.toFixed(1)}${typeof r.receiverEfficiency === 'number' ? `, receiver eff ${r.receiverEfficiency.toFixed(1)}` : ''}${MOVING.has(r.mode) ? `, ${r.mappedPercent.toFixed(1)}% mapped` : ''}${r.mismatches ? `, ${r.mismatches} MISMATCHES` : ''}`;
        write(text, !tty || event.index === event.total);
        break;
      }
      case 'warning':
        if (tty && lastLine) stream.write('\r\x1b[K');
        stream.write(`warning: ${event.message}\n`);
        break;
    }
  };
}
