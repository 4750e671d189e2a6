// pageflip's vocabulary: the mode names, limits and error codes that the library, the experiment
// and the reports share, each written here once and imported everywhere else. The addon holds
// the native half (native/vocabulary.h) and exports it as binding.vocabulary: test/vocabulary.test.ts
// holds the two equal, and README's error table against ERROR_CODES.

/** Receive modes of the chunk-by-chunk Receiver (the order messages and reports list them in). */
export const RECEIVE_MODES = ['copy', 'zerocopy', 'flip', 'copy-remap', 'splice'] as const;
export type ReceiveMode = (typeof RECEIVE_MODES)[number];
/** Native loops also take 'discard': recv(MSG_TRUNC), the bytes dropped in the kernel (no copy,
 * no mapping): the floor under every receive mode's cost. Never verifiable. */
export const LOOP_RECEIVE_MODES = [...RECEIVE_MODES, 'discard'] as const;
export type LoopReceiveMode = (typeof LOOP_RECEIVE_MODES)[number];
export const SEND_MODES = ['write', 'zerocopy', 'splice'] as const;
export type SendMode = (typeof SEND_MODES)[number];

/** Rows of a compare that are not a pageflip receive mode: Node's own net.Socket reader, and iperf3. */
export const REFERENCE_MODES = ['node', 'iperf3', 'iperf3-Z'] as const;
export type ReferenceMode = (typeof REFERENCE_MODES)[number];
/** One row of a compare: a receive mode (discard: the floor row, notouch only) or a reference. */
export type RowMode = LoopReceiveMode | ReferenceMode;

/** The page-moving receive modes: what the paper's experiment sets against copying. */
export const MOVING_MODES = ['zerocopy', 'flip'] as const;
export type MovingMode = (typeof MOVING_MODES)[number];
export const MOVING: ReadonlySet<RowMode> = new Set<RowMode>(MOVING_MODES);
/** The copying setups the best page-moving one is compared with: copy receive and iperf3. */
export const COPYING: ReadonlySet<RowMode> = new Set<RowMode>(['copy', 'iperf3', 'iperf3-Z']);
/** The modes the cost model predicts (lib/experiment/model.ts). */
export const MODEL_MODES = ['copy', 'zerocopy', 'flip', 'copy-remap'] as const;
export type ModelMode = (typeof MODEL_MODES)[number];

/** Bytes per read or send when chunkSize is not given (and compare's default chunk). */
export const DEFAULT_CHUNK_BYTES = 256 * 1024;
/** The largest chunkSize the binding takes (and the end of the cost model's crossover search). */
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;

/** What one page table (a PMD entry) maps: a flip of whole 2 MiB slots moves tables, not pages. */
export const PMD_BYTES = 2 * 1024 * 1024;

/** Bytes of IPv4 + TCP (with timestamps) headers per packet: the payload is MTU − 52. */
export const IPV4_TCP_HEADERS = 52;
/** IPv4's minimum MTU: the smallest a link (and a report) may have. */
export const MIN_LINK_MTU = 68;
/** The MTU range a compare accepts (the CLI checks its arguments against the same). */
export const MIN_MTU = 576;
export const MAX_MTU = 65536;

/** Every `code` a pageflip error carries, with what it means (errno errors carry the errno's
 * name instead, e.g. 'EINVAL'). README's table of error codes is checked against this one. */
export const ERROR_CODES = {
  ERR_PAGEFLIP_INVALID_ARG_TYPE: 'an argument or option of the wrong type (TypeError; nothing is coerced)',
  ERR_PAGEFLIP_OUT_OF_RANGE: 'a number outside its range, or a name outside its set (RangeError)',
  ERR_PAGEFLIP_INVALID_ARG_VALUE: 'options that contradict each other (verify with the discard mode)',
  ERR_PAGEFLIP_NOT_PAGE_MULTIPLE: 'a size or offset that must be whole pages is not',
  ERR_PAGEFLIP_LENGTH_MISMATCH: 'moveTo() between regions of different lengths',
  ERR_PAGEFLIP_SAME_REGION: 'moveTo() onto the region itself',
  ERR_PAGEFLIP_INVALID_ADDRESS: 'a host that is not an IP address literal',
  ERR_PAGEFLIP_CLOSED: 'use of a closed region, receiver, listener or connection, or a wait its close ended',
  ERR_PAGEFLIP_BUSY: 'a region lent to a send, a second pending read, a second loop on one connection',
  ERR_PAGEFLIP_RELEASED: 'a lease released twice',
  ERR_PAGEFLIP_TRANSFERRED: 'a region whose view was transferred (postMessage) moved or sent',
  ERR_PAGEFLIP_UNSUPPORTED: 'zerocopy or flip on a kernel without TCP_ZEROCOPY_RECEIVE (without allowFallback)',
  ERR_PAGEFLIP_EXTERNAL_BUFFERS_UNSUPPORTED: 'a runtime that refuses external ArrayBuffers (instead of a silent copy)',
  ERR_PAGEFLIP_ADOPT_UNSUPPORTED: 'adopt() of a socket this Node cannot hand over',
  ERR_PAGEFLIP_SOCKET_ALREADY_READ: 'adopt() of a Node socket that has already read data',
  ERR_PAGEFLIP_NO_EVENT_LOOP: 'no libuv loop to watch a descriptor on (an environment shutting down)',
  ERR_PAGEFLIP_NETNS: 'compare cannot create a private network namespace',
  ERR_PAGEFLIP_RPS: 'compare cannot steer receive processing (--rps on)',
  ERR_PAGEFLIP_NO_PERF: 'compare --perf without a perf binary',
  ERR_PAGEFLIP_PERF: 'perf failed or did not answer',
  ERR_PAGEFLIP_SENDER: 'compare cannot start its sender process',
  ERR_PAGEFLIP_SENDER_DIED: 'the sender process ended during a run',
  ERR_PAGEFLIP_IPERF3: 'an iperf3 reference run failed',
  ERR_PAGEFLIP_IPERF3_MISSING: 'iperf3 asked for (--reference iperf3) but not installed',
  ERR_PAGEFLIP_IPERF3_TIMEOUT: 'an iperf3 reference run did not finish in time',
  ERR_PAGEFLIP_IPERF3_SHORT: 'an iperf3 -n run too short to outlast its own warm-up (its row is left out)',
  ERR_PAGEFLIP_PEER: 'the --peer host cannot be reached, or its control connection ended',
  ERR_PAGEFLIP_PEER_AUTH: 'pageflip serve refused the token',
  ERR_PAGEFLIP_PEER_BUSY: 'pageflip serve is busy with another compare',
  ERR_PAGEFLIP_PEER_LIMIT: "a compare beyond pageflip serve's limits (--max-duration, --max-bytes)",
  ERR_PAGEFLIP_PEER_PROTOCOL: 'the peer speaks another protocol version, or broke it',
  ERR_PAGEFLIP_PEER_TIMEOUT: 'the peer was silent too long',
  ERR_PAGEFLIP_BAD_REPORT: 'a report file that is not a valid pageflip-compare/1 report',
  ERR_PAGEFLIP_BAD_CALIBRATION: 'a calibration file (--calibration) that is not valid',
} as const;
export type PageflipErrorCode = keyof typeof ERROR_CODES;
