import { PII_DETECTORS, type PiiDetector } from './pii.ts';

/**
 * What happens to a result in which a detector found something: `redact` replaces each finding with
 * `[REDACTED:<detector>]`, `block` replaces the whole result with an error naming the detectors,
 * `audit` lets it through. Every finding is audited (detectors and counts, never the value).
 */
export type DlpAction = 'redact' | 'block' | 'audit';

/** A detector to run: `secrets` (secretlint's recommended rules) or a personal-data detector. */
export type DlpDetector = 'secrets' | PiiDetector;

export const DLP_DETECTORS: readonly DlpDetector[] = Object.freeze(['secrets', ...PII_DETECTORS]);

/**
 * Data loss prevention on what leaves the server: a boundary's default (`IdentityBoundaryOptions.dlp`)
 * or a tool's own (`IdentityToolConfig.dlp`).
 *
 * @example
 * const dlp: DlpPolicy = { action: 'redact', detectors: ['secrets', 'card', 'iban'] };
 */
export interface DlpPolicy {
  action: DlpAction;
  /** Which detectors run. Default: all of them (`DLP_DETECTORS`). */
  detectors?: readonly DlpDetector[];
}

/** A policy checked and normalised once, at construction or registration. */
export interface CheckedDlpPolicy {
  readonly action: DlpAction;
  readonly secrets: boolean;
  readonly pii: readonly PiiDetector[];
}

const ACTIONS: ReadonlySet<string> = new Set(['redact', 'block', 'audit']);

/** Validates `policy` (a `TypeError` naming `where` for an unknown action or detector). */
export function checkedDlpPolicy(policy: DlpPolicy, where: string): CheckedDlpPolicy {
  if (typeof policy !== 'object' || policy === null || !ACTIONS.has(policy.action))
    throw new TypeError(`${where}: dlp.action must be 'redact', 'block' or 'audit'`);
  const detectors = policy.detectors ?? DLP_DETECTORS;
  if (!Array.isArray(detectors) || detectors.length === 0)
    throw new TypeError(`${where}: dlp.detectors must list at least one detector`);
  const unknown = detectors.filter((detector) => !DLP_DETECTORS.includes(detector));
  if (unknown.length > 0)
    throw new TypeError(
      `${where}: unknown dlp detector ${unknown.join(', ')} (known: ${DLP_DETECTORS.join(', ')})`,
    );
  return Object.freeze({
    action: policy.action,
    secrets: detectors.includes('secrets'),
    pii: Object.freeze(PII_DETECTORS.filter((detector) => detectors.includes(detector))),
  });
}
