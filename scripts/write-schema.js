// Writes dist/schema.json (exported as `pageflip/schema.json`) from the schema the report reader
// validates against, so the shipped file and the check are one fact. Runs after tsc (npm run compile).
import { writeFileSync } from 'node:fs';
import { compareReportSchema } from '../dist/report/schema.js';

writeFileSync(new URL('../dist/schema.json', import.meta.url), `${JSON.stringify(compareReportSchema, null, 2)}\n`);
