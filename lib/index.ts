// Public library surface.
export { PageRegion, type AllocOptions } from './region.js';
export { capabilities, type Capabilities, type Feature } from './capabilities.js';
export { isCodedError, type CodedError } from './errors.js';
