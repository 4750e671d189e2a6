// PageRegion: page-aligned memory outside the JS heap whose pages can be moved with mremap.
import { binding, type NativeRegion, type RegionOptions } from './native.js';
import { pageflipTypeError } from './errors.js';
import { smapsBytes } from './procfs.js';

export type AllocOptions = RegionOptions;

// The binding object behind each PageRegion, for the library's own send path (not exported from
// the package). A private-field read, not a WeakMap: a WeakMap entry per region lives until a full
// garbage collection, so a burst of alloc/close cycles grew the heap by ~30 MiB per 200k.
let nativeOf: (region: unknown) => NativeRegion | undefined;
export function nativeRegionOf(region: PageRegion): NativeRegion {
  const native = nativeOf(region);
  if (!native) throw pageflipTypeError('region must be a PageRegion');
  return native;
}

export class PageRegion {
  static #pageSize: number | undefined;

  /** Size of one page on this machine, bytes. Asked on first use: capabilities() also runs the
   * kernel probes (a loopback connection among them), which importing the package must not do. */
  static get pageSize(): number {
    return (PageRegion.#pageSize ??= binding.capabilities().pageSize);
  }

  readonly #native: NativeRegion;
  readonly #length: number; // the native side forgets it on close()
  #view: Uint8Array | undefined;

  static {
    nativeOf = (region) => (typeof region === 'object' && region !== null && #native in region ? region.#native : undefined);
  }

  private constructor(native: NativeRegion) {
    this.#native = native;
    this.#length = native.length();
  }

  /**
   * Maps `bytes` (a positive multiple of the page size) of anonymous memory.
   * `hugePages` aligns to 2 MiB and asks for transparent huge pages (see hugePageBytes());
   * `populate` pre-faults every page.
   */
  static alloc(bytes: number | bigint, options: AllocOptions = {}): PageRegion {
    return new PageRegion(new binding.Region(bytes, options));
  }

  /**
   * A view over the whole region. It is detached (byteLength 0) when the pages move away or the
   * region closes; reading this getter again afterwards gives a view of what is there now.
   */
  get bytes(): Uint8Array {
    if (!this.#view || this.#view.byteLength === 0) this.#view = new Uint8Array(this.#native.buffer());
    return this.#view;
  }

  /** Virtual address of the first byte (changes after remap()). */
  get address(): bigint {
    return this.#native.address();
  }

  get length(): number {
    return this.#length;
  }

  get pageSize(): number {
    return PageRegion.pageSize;
  }

  get closed(): boolean {
    return this.#native.closed();
  }

  /** Bytes of this region the kernel currently backs with transparent huge pages (from smaps). */
  hugePageBytes(): number {
    return smapsBytes(this.address, this.length, 'AnonHugePages');
  }

  /**
   * Moves this region's pages onto `destination`'s address range (same length) with mremap:
   * the physical pages move, nothing is copied. Afterwards this region reads as zeros and its
   * old views are detached; views of `destination` show the moved pages.
   */
  moveTo(destination: PageRegion): void {
    if (!(destination instanceof PageRegion)) throw pageflipTypeError('destination must be a PageRegion');
    this.#native.moveTo(destination.#native);
  }

  /** Moves the pages to a fresh address; returns it. Old views are detached. */
  remap(): bigint {
    return this.#native.remap();
  }

  /** Unmaps now and detaches every view. Idempotent. */
  close(): void {
    this.#native.close();
  }

  /** `using region = PageRegion.alloc(...)` unmaps it at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}
