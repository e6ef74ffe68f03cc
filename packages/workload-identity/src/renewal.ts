import type { CertificateAuthority } from './certificate-authority.ts';
import {
  issueWorkloadCertificate,
  type WorkloadCertificate,
  type WorkloadCertificateOptions,
} from './workload-certificate.ts';

export interface RenewalOptions {
  /** Told of each certificate issued after the first: swap it in (`server.setSecureContext`, a new dispatcher). */
  onRenewed: (certificate: WorkloadCertificate) => void;
  /** Told when a renewal failed (the CA itself expiring); the current certificate stays until it expires. */
  onerror?: (error: Error) => void;
  /** When to renew, as the share of the lifetime gone by. Default 0.5, as SPIRE renews its SVIDs. */
  renewAfter?: number;
}

/** A workload certificate kept fresh: `current` is always the newest; `stop` ends the renewals. */
export interface RenewingCertificate {
  current(): WorkloadCertificate;
  stop(): void;
}

/**
 * Issues a workload certificate and issues a fresh one (new key, same names) each time half of the
 * current one's lifetime has gone by, handing it to `onRenewed`. Short-lived certificates renewed in
 * place are how an internal CA does without revocation lists. The timer does not keep the process alive.
 *
 * @example
 * const renewing = await renewingWorkloadCertificate(ca, { spiffeId, ipAddresses: ['127.0.0.1'] }, {
 *   onRenewed: (identity) => server.setSecureContext(serverTlsOptions({ identity, ca: ca.certificatePem, requireClientCertificate: true })),
 * });
 * const server = https.createServer(serverTlsOptions({ identity: renewing.current(), ca: ca.certificatePem, requireClientCertificate: true }));
 */
export async function renewingWorkloadCertificate(
  ca: CertificateAuthority,
  options: Omit<WorkloadCertificateOptions, 'notBefore'>,
  renewal: RenewalOptions,
): Promise<RenewingCertificate> {
  const share = renewal.renewAfter ?? 0.5;
  if (!(share > 0 && share < 1))
    throw new TypeError('renewAfter is a share of the lifetime, between 0 and 1');
  if (typeof renewal.onRenewed !== 'function') throw new TypeError('onRenewed is required');
  let current = await issueWorkloadCertificate(ca, options);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = () => {
    const lifetimeMs = (options.lifetimeSeconds ?? 3_600) * 1000;
    timer = setTimeout(renew, Math.max(0, lifetimeMs * share));
    timer.unref();
  };
  const renew = () => {
    issueWorkloadCertificate(ca, options).then(
      (fresh) => {
        if (stopped) return;
        current = fresh;
        schedule();
        try {
          renewal.onRenewed(fresh);
        } catch (error) {
          renewal.onerror?.(error instanceof Error ? error : new Error(String(error)));
        }
      },
      (error: unknown) => renewal.onerror?.(error instanceof Error ? error : new Error(String(error))),
    );
  };
  schedule();
  return {
    current: () => current,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
