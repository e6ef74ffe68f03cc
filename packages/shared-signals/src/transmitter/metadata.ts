import { DELIVERY_METHODS } from '../events.ts';

/** Where a transmitter's endpoints are, under its issuer. */
export interface TransmitterEndpoints {
  /** `/.well-known/ssf-configuration`, with the issuer's path after it (SSF 1.0 §7.2). */
  metadataPath: string;
  configuration: string;
  status: string;
  verification: string;
  /** The poll endpoint of one stream. */
  poll(streamId: string): string;
  /** The path prefix of every poll endpoint. */
  pollPathPrefix: string;
}

export function transmitterEndpoints(issuer: string): TransmitterEndpoints {
  const base = new URL(issuer);
  const issuerPath = base.pathname === '/' ? '' : base.pathname.replace(/\/$/, '');
  const at = (path: string) => `${base.origin}${issuerPath}${path}`;
  return {
    metadataPath: `/.well-known/ssf-configuration${issuerPath}`,
    configuration: at('/ssf/streams'),
    status: at('/ssf/status'),
    verification: at('/ssf/verify'),
    poll: (streamId) => at(`/ssf/poll/${encodeURIComponent(streamId)}`),
    pollPathPrefix: `${issuerPath}/ssf/poll/`,
  };
}

/** The Transmitter Configuration Metadata (SSF 1.0 §7.1) served at `/.well-known/ssf-configuration`. */
export function transmitterMetadata(issuer: string, jwksUri: string, endpoints: TransmitterEndpoints) {
  return {
    spec_version: '1_0',
    issuer,
    jwks_uri: jwksUri,
    delivery_methods_supported: [DELIVERY_METHODS.push, DELIVERY_METHODS.poll],
    configuration_endpoint: endpoints.configuration,
    status_endpoint: endpoints.status,
    verification_endpoint: endpoints.verification,
    authorization_schemes: [{ spec_urn: 'urn:ietf:rfc:6749' }],
  };
}
