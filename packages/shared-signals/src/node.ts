/**
 * `@baton/shared-signals/node`: the transmitter's Node adapter (translation only), kept out of the
 * runtime-neutral entry point.
 */
export { nodeListener, webRequestOf } from './transmitter/node.ts';
