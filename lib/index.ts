// Public library surface.
export { PageRegion, type AllocOptions } from './region.js';
export { capabilities, type Capabilities, type Feature } from './capabilities.js';
export { isCodedError, type CodedError } from './errors.js';
export { Connection, Listener, listen, connect, startConnect, adopt, type ListenOptions, type ConnectOptions, type SocketInfo, type SocketOptions, type SocketAddress } from './socket.js';
export { Receiver, Lease, type ReceiverOptions, type ReadOptions, type IteratorOptions, type ReadonlyBytes, type ReceiveMode, type ReceiverStats } from './receive.js';
export { Sender, type SenderOptions, type SendRegionOptions, type SendMode, type RegionSendStats } from './send.js';
export { receiveLoop, sendLoop, type ReceiveLoopOptions, type SendLoopOptions, type RunningLoop, type ReceiveLoopStats, type SendLoopStats } from './loop.js';
// The experiment and its reports, for programs that script it (the CLI is built on the same calls).
export { runCompare as compare, type RunCompareOptions as CompareOptions } from './experiment/run.js';
export type { ProgressEvent } from './experiment/compare.js';
export type { CompareReport, RunResult, PointSummary } from './experiment/types.js';
export { parseReport, renderHtml, renderTable, renderCsv, renderJson, renderMarkdown, compareReportSchema } from './report/index.js';
