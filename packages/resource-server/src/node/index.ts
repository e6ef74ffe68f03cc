export { clientCertificateOf, peerCertificateOf } from './client-certificate.ts';
export { DEFAULT_SERVED_METHODS, malformedNodeRequest } from './malformed-node-request.ts';
export {
  answerInternalError,
  type FetchHandler,
  type FetchHandlerOptions,
  type NodeRequestListener,
  type NodeRequestListenerOptions,
  nodeRequestGuard,
  nodeRequestListener,
  type RefusalLogger,
  refuseConnect,
  serveNodeRequests,
} from './request-listener.ts';
