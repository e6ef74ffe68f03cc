export {
  type CertificateAuthority,
  type CertificateAuthorityOptions,
  createCertificateAuthority,
} from './certificate-authority.ts';
export {
  authorityTrustDomain,
  type CertificateIdentity,
  certificateIdentity,
} from './certificate-identity.ts';
export {
  type MutualTlsDispatcherInit,
  mutualTlsDispatcher,
  type PinnedMutualTlsDispatcher,
  type PinnedMutualTlsDispatcherInit,
  pinnedMutualTlsDispatcher,
} from './dispatcher.ts';
export { SpiffeIdError, type SpiffeIdInvalidReason, type WorkloadIdentityErrorCode } from './errors.ts';
export { type RenewalOptions, type RenewingCertificate, renewingWorkloadCertificate } from './renewal.ts';
export { isWorkloadSpiffeId, parseSpiffeId, type SpiffeId } from './spiffe-id.ts';
export { x5tS256 } from './thumbprint.ts';
export {
  type ClientTlsOptionsInit,
  clientTlsOptions,
  type ServerTlsOptionsInit,
  serverTlsOptions,
  type TlsIdentity,
  type TrustAnchors,
} from './tls-options.ts';
export {
  type CertificateUsage,
  issueWorkloadCertificate,
  type WorkloadCertificate,
  type WorkloadCertificateOptions,
} from './workload-certificate.ts';
