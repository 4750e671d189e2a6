// PageRegion: page-aligned memory outside the JS heap whose pages can be moved with mremap.
import { binding, type NativeRegion, type RegionOptions } from './native.js';
import { pageflipTypeError } from './errors.js';
import { smapsBytes } from './procfs.js';

export type AllocOptions = RegionOptions;

// The binding object behind each PageRegion, for the library's own send path (not exported from
// the package).
const natives = new WeakMap<PageRegion, NativeRegion>();
export function nativeRegionOf(region: PageRegion): NativeRegion {
  const native = natives.get(region);
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
  #view: Uint8Array | undefined;

  private constructor(native: NativeRegion) {
    this.#native = native;
    natives.set(this, native);
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
    return this.#native.length();
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
}
