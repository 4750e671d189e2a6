// The one place that loads the compiled addon and says what it exports.
// node-gyp-build picks build/Release when present, else prebuilds/<platform>-<arch>.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface Feature {
  supported: boolean;
  reason: string;
}

export interface NativeCapabilities {
  kernelRelease: string;
  machine: string;
  pageSize: number;
  cpus: number;
  mremapDontUnmap: Feature;
  externalBuffers: Feature;
}

export interface RegionOptions {
  hugePages?: boolean;
  populate?: boolean;
}

export interface NativeRegion {
  buffer(): ArrayBuffer;
  address(): bigint;
  length(): number;
  closed(): boolean;
  moveTo(destination: NativeRegion): void;
  remap(): bigint;
  close(): void;
}

export interface Binding {
  Region: new (bytes: number | bigint, options?: RegionOptions) => NativeRegion;
  capabilities(): NativeCapabilities;
}

const require = createRequire(import.meta.url);
const loadBinding = require('node-gyp-build') as (root: string) => unknown;

/** Package root: lib/.. when running from source, dist/.. when installed. */
export const packageRoot = fileURLToPath(new URL('..', import.meta.url));

export const binding = loadBinding(packageRoot) as Binding;
