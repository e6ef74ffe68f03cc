import { lintSource } from '@secretlint/core';
import { secretLintProfiler } from '@secretlint/profiler';
import { rules } from '@secretlint/secretlint-rule-preset-recommend';
import type { SecretLintCoreConfig } from '@secretlint/types';
import type { Finding } from './pii.ts';

/**
 * Secretlint's recommended rules, as the scanner runs them:
 * - without `filter-comments`, which honours `secretlint-disable` comments in the scanned text: a
 *   tool's output (or the downstream answer it passes on) must not be able to switch the scan off;
 * - with the AWS rule's access-key-id scan on (`AKIA…`), which the preset leaves off for source code.
 */
const CONFIG: SecretLintCoreConfig = {
  rules: rules
    .filter((rule) => rule.meta.id !== '@secretlint/secretlint-rule-filter-comments')
    .map((rule) => ({
      id: rule.meta.id,
      rule,
      ...(rule.meta.id === '@secretlint/secretlint-rule-aws' ? { options: { enableIDScanRule: true } } : {}),
    })),
};

const RULE_PREFIX = '@secretlint/secretlint-rule-';

// secretlint's profiler is on by default: every scan adds `performance.mark` entries to the process's
// global buffer and to the profiler's own arrays, never cleared. Fine for a CLI run, a memory leak (and
// p99 spikes) in a server scanning every result. Off for the whole process (it is a singleton).
secretLintProfiler.setEnabled(false);

/**
 * The secrets secretlint's recommended rules find in `text`, each named `secret.<rule>` (e.g.
 * `secret.github`, `secret.stripe`, `secret.privatekey`). Only rule ids and ranges are kept: the
 * messages secretlint writes quote the secret and are dropped here.
 */
export async function findSecrets(text: string): Promise<Finding[]> {
  const result = await lintSource({
    source: { content: text, filePath: 'result.txt', ext: '.txt', contentType: 'text' },
    options: { config: CONFIG, maskSecrets: true, noPhysicFilePath: true },
  });
  return result.messages.map((message) => ({
    detector: `secret.${message.ruleId.startsWith(RULE_PREFIX) ? message.ruleId.slice(RULE_PREFIX.length) : message.ruleId}`,
    start: message.range[0],
    end: message.range[1],
  }));
}
