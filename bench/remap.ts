// Bench (not a test): one calibration on this machine. Prints the memcpy / mremap / madvise tables
// and one line on where moving pages starts to beat copying them. `--quick` for small budgets.
import { crossoverSummary, formatCalibration, runCalibration } from '../lib/experiment/calibrate.js';

const result = await runCalibration({ quick: process.argv.includes('--quick') });
console.log(formatCalibration(result));
console.log('');
console.log(crossoverSummary(result));
