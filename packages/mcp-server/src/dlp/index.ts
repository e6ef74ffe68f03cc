export { PII_DETECTORS, type PiiDetector } from './pii.ts';
export {
  type CheckedDlpPolicy,
  checkedDlpPolicy,
  DLP_DETECTORS,
  type DlpAction,
  type DlpDetector,
  type DlpPolicy,
} from './policy.ts';
export { type BlockedResult, blockedMessage, type DlpFindings, type DlpScan, scanResult } from './scan.ts';
