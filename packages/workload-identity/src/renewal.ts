import type { CertificateAuthority } from './certificate-authority.ts';
import {
  issueWorkloadCertificate,
  type WorkloadCertificate,
  type WorkloadCertificateOptions,
} from './workload-certificate.ts';

export interface RenewalOptions {
  /** Told of each certificate issued after the first: swap it in (`server.setSecureContext`, a new dispatcher). */
  onRenewed: (certificate: WorkloadCertificate) => void;
  /**
   * Told when a renewal failed (the CA itself expiring); the current certificate stays, and the renewal
   * is tried again after a quarter of its remaining lifetime (at most a minute).
   */
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
  // From the current certificate's own `notAfter`, so the lifetime default lives in one place.
  const schedule = (delayMs: number) => {
    timer = setTimeout(renew, Math.max(0, delayMs));
    timer.unref();
  };
  const remainingMs = () => current.notAfter.getTime() - Date.now();
  const report = (error: unknown) => {
    try {
      renewal.onerror?.(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // Reporting is best effort; it must not stop the renewals.
    }
  };
  const renew = () => {
    issueWorkloadCertificate(ca, options).then(
      (fresh) => {
        if (stopped) return;
        current = fresh;
        schedule(remainingMs() * share);
        try {
          renewal.onRenewed(fresh);
        } catch (error) {
          report(error);
        }
      },
      (error: unknown) => {
        if (stopped) return;
        // A failed renewal is tried again well before the current certificate expires (a quarter of
        // what is left, at most a minute, at least a second once little or nothing is left), so a
        // passing CA failure does not let the workload's certificate silently expire.
        schedule(Math.min(60_000, Math.max(1_000, remainingMs() / 4)));
        report(error);
      },
    );
  };
  schedule(remainingMs() * share);
  return {
    current: () => current,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
