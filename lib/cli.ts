#!/usr/bin/env node
// pageflip command line: parses arguments and hands off to the experiment; prints, never measures.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { capabilities, type Feature } from './capabilities.js';

class UsageError extends Error {}

const USAGE = `Usage: pageflip <command> [options]

Commands:
  info [--json]     what this kernel, CPU and runtime support, and what it means for the experiment
  help              this text

Run 'pageflip <command> --help' for the options of a command.`;

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function line(name: string, feature: Feature): string {
  return `  ${name.padEnd(22)} ${feature.supported ? 'yes' : 'no '}  ${feature.reason}`;
}

async function info(args: string[]): Promise<number> {
  const { values } = parse(args, { json: { type: 'boolean' } });
  if (values.help) {
    console.log('Usage: pageflip info [--json]\n\nPrints kernel, CPU and runtime capabilities relevant to page-moving receive.');
    return 0;
  }
  const caps = capabilities();
  if (values.json) {
    console.log(JSON.stringify(caps, null, 2));
    return 0;
  }
  console.log(`kernel ${caps.kernelRelease} (${caps.machine}), ${caps.cpus} CPUs, page size ${caps.pageSize}`);
  console.log(line('mremap DONTUNMAP', caps.mremapDontUnmap));
  console.log(line('external buffers', caps.externalBuffers));
  console.log(line('transparent hugepages', caps.transparentHugePages));
  console.log(line('network namespaces', caps.networkNamespaces));
  console.log(line('perf', caps.perf));
  return 0;
}

const commands: Record<string, (args: string[]) => Promise<number>> = { info };

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  const run = commands[command];
  if (!run) throw new UsageError(`unknown command '${command}'`);
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`pageflip: ${error.message}\n\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    const e = error as Error & { code?: string };
    console.error(`pageflip: ${e.code ? `${e.code}: ` : ''}${e.message}`);
    process.exitCode = 1;
  },
);
