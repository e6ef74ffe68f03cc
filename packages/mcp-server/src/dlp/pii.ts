import { getCountrySpecifications, isValidIBAN } from 'ibantools';
import { isValidPhoneNumber } from 'libphonenumber-js/min';

/** Where a detector found something in a text: `[start, end)` offsets, never the value. */
export interface Finding {
  readonly detector: string;
  readonly start: number;
  readonly end: number;
}

/** The personal-data detectors: each finds candidates with a linear-time pattern, then validates them. */
export const PII_DETECTORS = ['card', 'iban', 'email', 'phone', 'us_ssn'] as const;
export type PiiDetector = (typeof PII_DETECTORS)[number];

/**
 * Payment card numbers (PAN): 13 to 19 digits, optionally grouped by single spaces (also no-break and
 * thin spaces), hyphens or dots, that pass the Luhn check and start with an issuer prefix of a card
 * network (ISO/IEC 7812 IIN ranges of Visa, Mastercard, American Express, Discover, JCB, Diners Club,
 * UnionPay, Maestro). A Luhn-invalid number, or one outside every network's range, is not a card.
 * Full-width and Arabic-Indic digits count as digits. Not preceded or followed by a digit, nor preceded
 * by a digit and a dot (the fraction of a decimal number), so a longer digit run (an id, a timestamp)
 * is never read as a card; a comma is a boundary (CSV fields, JSON array elements).
 */
function* cards(text: string): Generator<Finding> {
  const ascii = asciiDigits(text);
  for (const match of ascii.matchAll(/(?<!\d|\d\.)\d(?:[ .\-\u00A0\u2007\u2009\u202F]?\d){12,18}(?!\d)/g)) {
    const digits = match[0].replace(/\D/g, '');
    if (isCardPrefix(digits) && luhnValid(digits)) {
      yield span('card', match);
      continue;
    }
    // A card beside another number ("row 3 4111 …", "4111 … 12/27", "4111….00"): the candidate took
    // both. Try the runs of whole digit groups within it (at most 8 groups: at most 36 tries).
    const found = cardWithinGroups(match[0]);
    if (found) yield { detector: 'card', start: match.index! + found.start, end: match.index! + found.end };
  }
}

/** The longest run of whole digit groups in `candidate` that is a card, as offsets into it. */
function cardWithinGroups(candidate: string): { start: number; end: number } | undefined {
  const groups = [...candidate.matchAll(/\d+/g)].map((group) => ({
    start: group.index!,
    end: group.index! + group[0].length,
  }));
  // A card is written in at most 5 groups; with a neighbouring number or two, 8. Runs of many short
  // groups (phone-like text) are not tried: each try is a Luhn check, and they cannot be cards.
  if (groups.length > 8) return undefined;
  let best: { start: number; end: number; length: number } | undefined;
  for (let first = 0; first < groups.length; first++) {
    // Never the fraction of a decimal number: a run does not start right after a dot.
    if (candidate[groups[first]!.start - 1] === '.') continue;
    for (let last = groups.length - 1; last >= first; last--) {
      if (first === 0 && last === groups.length - 1) continue;
      const start = groups[first]!.start;
      const end = groups[last]!.end;
      const digits = candidate.slice(start, end).replace(/\D/g, '');
      if (digits.length < 13 || digits.length > 19 || (best && digits.length <= best.length)) continue;
      if (isCardPrefix(digits) && luhnValid(digits)) best = { start, end, length: digits.length };
    }
  }
  return best && { start: best.start, end: best.end };
}

/** Decimal digits of other scripts a card number is written in, each block's zero (all in the BMP). */
const DIGIT_ZEROS = [0x0660 /* Arabic-Indic */, 0x06f0 /* Extended Arabic-Indic */, 0xff10 /* full-width */];
const OTHER_DIGITS = /[\u0660-\u0669\u06F0-\u06F9\uFF10-\uFF19]/g;

/** `text` with other scripts' digits as ASCII digits: one code unit for one, so offsets are kept. */
function asciiDigits(text: string): string {
  return text.replace(OTHER_DIGITS, (char) => {
    const code = char.charCodeAt(0);
    const zero = DIGIT_ZEROS.find((start) => code >= start && code <= start + 9)!;
    return String.fromCharCode(48 + code - zero);
  });
}

/** The Luhn (mod 10) check of ISO/IEC 7812-1 Annex B. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let digit = digits.charCodeAt(i) - 48;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    double = !double;
  }
  return sum % 10 === 0;
}

function isCardPrefix(digits: string): boolean {
  const length = digits.length;
  const two = Number(digits.slice(0, 2));
  const four = Number(digits.slice(0, 4));
  const six = Number(digits.slice(0, 6));
  if (digits[0] === '4') return length === 13 || length === 16 || length === 19; // Visa
  if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)) return length === 16; // Mastercard
  if (two === 34 || two === 37) return length === 15; // American Express
  if (four === 6011 || two === 65 || (six >= 644000 && six <= 649999)) return length >= 16; // Discover
  if (four >= 3528 && four <= 3589) return length >= 16; // JCB
  if (two === 36 || two === 38 || two === 39 || (six >= 300000 && six <= 305999)) return length >= 14; // Diners
  if (two === 62) return length >= 16; // UnionPay
  if (two === 50 || (two >= 56 && two <= 69)) return length >= 12; // Maestro
  return false;
}

const IBAN_LENGTHS: ReadonlyMap<string, number> = new Map(
  Object.entries(getCountrySpecifications()).flatMap(([country, spec]) =>
    spec.chars ? [[country, spec.chars] as const] : [],
  ),
);

/**
 * International Bank Account Numbers: a country code of the IBAN registry, two check digits, the BBAN
 * (plain or in groups of four), of exactly the country's length, passing ISO 13616's mod-97 check and
 * the country's BBAN format (`ibantools`).
 */
function* ibans(text: string): Generator<Finding> {
  for (const match of text.matchAll(/(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}/g)) {
    const length = IBAN_LENGTHS.get(match[0].slice(0, 2));
    if (length === undefined) continue;
    // Exactly the country's length: text after the IBAN (a word in capitals) is not part of it.
    let taken = 0;
    let end = 0;
    let compact = '';
    for (const char of match[0]) {
      end++;
      if (char === ' ') continue;
      compact += char;
      if (++taken === length) break;
    }
    const after = text.charCodeAt(match.index + end);
    if (taken !== length || isAlphanumeric(after) || !isValidIBAN(compact)) continue;
    yield { detector: 'iban', start: match.index, end: match.index + end };
  }
}

/**
 * E-mail addresses (RFC 5322 dot-atom local part, a domain with a dotted alphabetic top-level label).
 * Found from each `@` outwards rather than with one pattern, so that a long run of word characters
 * (base64, a hash) costs linear time, not quadratic.
 */
function* emails(text: string): Generator<Finding> {
  let at = text.indexOf('@');
  while (at !== -1) {
    let start = at;
    while (start > 0 && at - start < 64 && isLocalPartChar(text.charCodeAt(start - 1))) start--;
    let end = at + 1;
    let lastDot = -1;
    while (end < text.length && end - at <= 253) {
      const code = text.charCodeAt(end);
      if (code === 46 /* . */) lastDot = end;
      else if (!isAlphanumeric(code) && code !== 45 /* - */) break;
      end++;
    }
    // A trailing dot ends a sentence, not the domain.
    while (end > at + 1 && text.charCodeAt(end - 1) === 46) end--;
    if (lastDot >= end) lastDot = text.lastIndexOf('.', end - 1);
    const tld = lastDot > at + 1 ? text.slice(lastDot + 1, end) : '';
    if (start < at && text.charCodeAt(start) !== 46 && /^[A-Za-z]{2,63}$/.test(tld)) {
      yield { detector: 'email', start, end };
    }
    at = text.indexOf('@', at + 1);
  }
}

function isLocalPartChar(code: number): boolean {
  // atext (RFC 5322 §3.2.3) without the rarely used symbols, plus the dot.
  return isAlphanumeric(code) || code === 46 || code === 95 || code === 37 || code === 43 || code === 45;
}

function isAlphanumeric(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

/**
 * Telephone numbers: in international format (`+` and a country code, E.164), or in the North American
 * national format (`(415) 555-2671`, `415-555-2671`), each validated against libphonenumber's metadata
 * for its country. Other countries' national formats are not recognised (they need the country).
 */
function* phones(text: string): Generator<Finding> {
  // Compact (`+14155552671`), or in groups each after a separator: where a group ends is never a
  // choice, so a long digit run after a `+` cannot make the pattern try every way to split it.
  const international =
    /(?<![\w+])\+(?:\d{7,15}|[1-9]\d{0,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]\d{1,12}){1,6})(?!\d)/g;
  for (const match of text.matchAll(international)) {
    // The pattern may run on into a following number: drop trailing groups until the rest is valid.
    let candidate = match[0];
    // At most three tries: each is a metadata lookup, and a run of one-digit groups must stay cheap.
    for (let tries = 0; tries < 3 && candidate.length >= 8; tries++) {
      const digits = candidate.replace(/\D/g, '').length;
      // E.164: at most 15 digits; no country's numbers are shorter than 8 with the country code.
      if (digits >= 8 && digits <= 15 && isValidPhoneNumber(candidate)) {
        yield { detector: 'phone', start: match.index, end: match.index + candidate.length };
        break;
      }
      const cut = candidate.search(/[ .-]\d{1,12}$/);
      if (cut <= 1) break;
      candidate = candidate.slice(0, cut);
    }
  }
  for (const match of text.matchAll(/(?<![\w+(-])(?:\(\d{3}\) ?|\d{3}[-. ])\d{3}[-. ]\d{4}(?![\w-])/g)) {
    if (isValidPhoneNumber(match[0], 'US')) yield span('phone', match);
  }
}

/**
 * US Social Security numbers written `AAA-GG-SSSS` (or with spaces), without the numbers the SSA never
 * issues: area 000, 666 or 900-999, group 00, serial 0000, and the two long-published samples.
 */
function* usSsns(text: string): Generator<Finding> {
  for (const match of text.matchAll(/(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])/g)) {
    const [, area, , group, serial] = match as unknown as [string, string, string, string, string];
    if (area === '000' || area === '666' || area[0] === '9' || group === '00' || serial === '0000') continue;
    const compact = `${area}${group}${serial}`;
    if (compact === '078051120' || compact === '219099999') continue;
    yield span('us_ssn', match);
  }
}

function span(detector: string, match: RegExpMatchArray): Finding {
  return { detector, start: match.index!, end: match.index! + match[0].length };
}

const FINDERS: Record<PiiDetector, (text: string) => Iterable<Finding>> = {
  card: cards,
  iban: ibans,
  email: emails,
  phone: phones,
  us_ssn: usSsns,
};

/** What the personal-data detectors in `detectors` find in `text`. */
export function findPii(text: string, detectors: Iterable<PiiDetector>): Finding[] {
  const found: Finding[] = [];
  for (const detector of detectors) for (const finding of FINDERS[detector](text)) found.push(finding);
  return found;
}
