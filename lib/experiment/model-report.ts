// The cost model beside a compare: for every measured mode ratio, the model's prediction from a
// calibration of this host. Additive: a report without a calibration has no `model` field.
import type { CalibrationResult } from './calibration-file.js';
import { crossoverChunk, floorAt, modelTerms, predict, termRows, type Prediction } from './model.js';
import { MODEL_MODES, type LoopReceiveMode } from '../vocabulary.js';
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
function pointRuns(runs: RunResult[], config: CompareConfig, chunkBytes: number, mode: LoopReceiveMode, mtu: number, touch: boolean): RunResult[] {
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

const receiverSideUsPerMB = (r: RunResult) => r.sides?.receiver.usPerMB ?? 0;

/** Median receiver-side µs/MB of this compare's discard runs at an MTU, or null without them. */
function sideFloor(runs: RunResult[], config: CompareConfig, mtu: number): number | null {
  const values = pointRuns(runs, config, config.chunkBytes, 'discard', mtu, false).map(receiverSideUsPerMB).filter((v) => v > 0);
  return values.length ? spread(values).median : null;
}

/**
 * A mode's ratio to copy on the receiver's CPUs: predicted as (D + W_mode) ÷ (D + W_copy), where
 * W is the model's figure less its floor F (the mode's own work) and D is the measured side floor;
 * measured as the per-repeat ratios of the receiver side's µs/MB. Null when either cannot be had.
 */
function receiverSide(p: Prediction, copy: Prediction, D: number, F: number, mine: RunResult[], copyRuns: RunResult[]): ModelRow['receiverSide'] | null {
  if (p.usPerMB === null || copy.usPerMB === null) return null;
  const measured = pairedRatio(mine, copyRuns, receiverSideUsPerMB);
  if (!measured) return null;
  return {
    predictedRatio: (D + p.usPerMB - F) / (D + copy.usPerMB - F),
    measuredRatio: measured.median,
    measuredSpread: { min: measured.min, max: measured.max, pairs: measured.pairs },
  };
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
      const D = own ? sideFloor(runs, config, mtu) : null;
      const copyPrediction = predictions.find((p) => p.mode === 'copy');
      for (const p of predictions) {
        const mine = pointRuns(runs, config, chunkBytes, p.mode, mtu, touch);
        if (!own && mine.length === 0) continue;
        const side = p.mode !== 'copy' && D !== null && copyPrediction ? receiverSide(p, copyPrediction, D, floorAt(terms, mtu), mine, copy) : null;
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
          ...(side ? { receiverSide: side } : {}),
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
    ...sideFloors(runs, config),
  };
}

function sideFloors(runs: RunResult[], config: CompareConfig): Pick<ModelReport, 'receiverSideFloor'> {
  const floors = config.mtus.flatMap((mtu) => {
    const usPerMB = sideFloor(runs, config, mtu);
    return usPerMB === null ? [] : [{ mtu, usPerMB }];
  });
  return floors.length ? { receiverSideFloor: floors } : {};
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
