import type { DetailedError } from '@cedar-policy/cedar-wasm/nodejs';

/**
 * Cedar's messages, with line:column when the error points into `text`.
 *
 * @example
 * const parts = policySetTextToParts(text);
 * if (parts.type === 'failure') throw new TypeError(describeErrors(parts.errors, text));
 */
export function describeErrors(errors: readonly DetailedError[], text?: string): string {
  return errors
    .map((error) => {
      const location = text === undefined ? undefined : error.sourceLocations?.[0];
      const where = location === undefined ? '' : ` (line ${lineAndColumn(text ?? '', location.start)})`;
      const help = error.help ? ` (${error.help})` : '';
      return `${error.message}${where}${help}`;
    })
    .join('; ');
}

/** Cedar's offsets count UTF-8 bytes, not UTF-16 code units. */
function lineAndColumn(text: string, byteOffset: number): string {
  const before = Buffer.from(text).subarray(0, byteOffset).toString().split('\n');
  return `${before.length}:${(before.at(-1)?.length ?? 0) + 1}`;
}
