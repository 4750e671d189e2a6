// The cost model beside a compare: for every measured mode ratio, the model's prediction from a
// calibration of this host. Additive: a report without a calibration has no `model` field.
import type { CalibrationResult } from './calibration-file.js';
import { crossoverChunk, modelTerms, predict, termRows } from './model.js';
import { MODEL_MODES, type ModelMode } from '../vocabulary.js';
import { pairedRatio, spread } from './stats.js';
import type { CompareConfig, CompareReport, ModelReport, ModelRow, RunResult } from './types.js';

/**
 * Other CPUs running threads of the receiving process during compare's runs: local runs pin an
 * in-process sender thread to another CPU (1); a --peer receiver or an unpinned run has none known (0).
 */
export function otherCpusFor(config: CompareConfig): number {
  // Only a sender thread of the receiving process (--layout threads; reports from before the
  // layouts) shares its page tables; a sender process or another host does not.
  const senderThread = config.network !== 'peer' && (config.layout ?? 'threads') === 'threads';
  return senderThread && config.cpus && config.cpus.rx !== config.cpus.tx ? 1 : 0;
}

/** The runs of one point (one flow, the run's layout) that measured the receiver thread. */
function pointRuns(runs: RunResult[], config: CompareConfig, chunkBytes: number, mode: ModelMode, mtu: number, touch: boolean): RunResult[] {
  return runs
    .filter((r) => r.mode === mode && r.mtu === mtu && r.touch === touch && r.sender === config.sender && r.receiverThread)
    .filter((r) => (r.chunkBytes ?? config.chunkBytes) === chunkBytes && (r.flows?.length ?? 1) === 1 && (r.layout === 'threads') === (config.layout === 'threads'));
}

const receiverUsPerMB = (r: RunResult) => r.receiverThread!.usPerMB;

/**
 * A mode's measured ratio to copy: the median of per-repeat ratios (each repeat's copy and mode ran
 * minutes apart at most, so host drift between repeats cancels), with their min–max; the medians'
 * ratio when no repeat has both (a report merged from separate runs).
 */
function measuredRatio(own: RunResult[], copy: RunResult[]): Pick<ModelRow, 'measuredRatio' | 'measuredSpread'> {
  const paired = pairedRatio(own, copy, receiverUsPerMB);
  if (paired) return { measuredRatio: paired.median, measuredSpread: { min: paired.min, max: paired.max, pairs: paired.pairs } };
  const [a, b] = [own, copy].map((runs) => (runs.length ? spread(runs.map(receiverUsPerMB)).median : null));
  return { measuredRatio: a === null || b === null || b <= 0 ? null : a / b };
}

/** The model section for `report`, from `calibration` (`source` says where it came from). */
export function modelReport(report: CompareReport, calibration: CalibrationResult, source: string): ModelReport {
  const { config, runs } = report;
  const terms = modelTerms(calibration);
  const otherCpus = otherCpusFor(config);
  const modes = MODEL_MODES.filter((m) => config.modes.includes(m));
  const rows: ModelRow[] = [];
  // The run's chunk at every MTU, then each other chunk (the 2 MiB rows) where it ran.
  const chunks = [...new Set(runs.map((r) => r.chunkBytes ?? config.chunkBytes))].filter((c) => c !== config.chunkBytes).sort((a, b) => a - b);
  for (const chunkBytes of [config.chunkBytes, ...chunks])
  for (const mtu of config.mtus)
    for (const touch of config.touch) {
      const own = chunkBytes === config.chunkBytes;
      const copy = pointRuns(runs, config, chunkBytes, 'copy', mtu, touch);
      if (!own && copy.length === 0) continue;
      const predictions = predict(terms, { mtu, touch, chunkBytes, otherCpus }, modes);
      for (const p of predictions) {
        const mine = pointRuns(runs, config, chunkBytes, p.mode, mtu, touch);
        if (!own && mine.length === 0) continue;
        rows.push({
          ...(own ? {} : { chunkBytes }),
          mtu,
          touch,
          mode: p.mode,
          sender: config.sender,
          predictedUsPerMB: p.usPerMB,
          predictedRatio: p.ratio,
          measuredUsPerMB: mine.length ? spread(mine.map(receiverUsPerMB)).median : null,
          ...(p.mode === 'copy' ? { measuredRatio: null } : measuredRatio(mine, copy)),
          missing: p.missing,
        });
      }
    }
  const crossover = (['zerocopy', 'flip'] as const)
    .filter((m) => modes.includes(m))
    .flatMap((mode) =>
      config.mtus.flatMap((mtu) =>
        config.touch.map((touch) => ({ mode, mtu, touch, ...crossoverChunk(terms, mode, { mtu, touch, otherCpus }) })),
      ),
    );
  return {
    source,
    otherCpus,
    chunkBytes: config.chunkBytes,
    terms: termRows(terms),
    missing: terms.missing,
    rows,
    crossover,
    host: calibration.virtualization.summary,
  };
}

/** Whether a row's predicted ratio lies within the min–max of its per-repeat measured ratios (null: not judged). */
export function withinMeasuredSpread(row: ModelRow): boolean | null {
  if (row.predictedRatio === null || !row.measuredSpread) return null;
  return row.predictedRatio >= row.measuredSpread.min && row.predictedRatio <= row.measuredSpread.max;
}

/** Predicted ÷ measured − 1 of a row's ratio, or null when either side is missing. */
export function ratioError(row: ModelRow): number | null {
  return row.predictedRatio === null || row.measuredRatio === null || row.measuredRatio <= 0 ? null : row.predictedRatio / row.measuredRatio - 1;
}
