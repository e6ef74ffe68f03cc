import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkedDlpPolicy } from '../src/dlp/policy.ts';
import { scanResult, scanThrown } from '../src/dlp/scan.ts';

/** The findings DLP makes in one text (audit mode: the result is untouched). */
async function findingsIn(text: string): Promise<Record<string, number>> {
  return (await scanResult({ content: [{ type: 'text', text }] }, { action: 'audit' })).dlp?.findings ?? {};
}

// Test values are assembled at run time so that this file itself holds no scanner-tripping literal.
const GITHUB_TOKEN = `ghp_${'wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx'}`;
const STRIPE_LIVE = `sk_live_${'4eC39HqLyjWDarjtT1zdp7dc'}`;
const AWS_ACCESS_KEY_ID = `AKIA${'QWERTYUIOPASDFGH'}`;
const AWS_SECRET = `aws_secret_access_key = ${'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLE12'}`;
const PRIVATE_KEY = [
  `-----BEGIN ${'RSA PRIVATE'} KEY-----`,
  'MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi6Vtx8FzBfpJg5Yl0P1xhLp0iL',
  'u3xCjQ0b0mB1n2V1YqQ8cL5c0v5h8k9Qm5nY2rQ7a1bXcJ8eQp0b0mB1n2V1YqQ8',
  `-----END ${'RSA PRIVATE'} KEY-----`,
].join('\n');

describe('DLP detectors: each finds what it should and nothing it should not', () => {
  const cases: Array<[string, string, string | undefined]> = [
    ['a card followed by its expiry date', 'card 4111 1111 1111 1111 12/27', 'card'],
    ['a card after a row number', 'row 3 4111111111111111', 'card'],
    ['a card with cents after a dot', 'paid with 4111111111111111.00', 'card'],
    // [what, text, detector expected (undefined: nothing)]
    ['a Visa number with a valid Luhn check digit', 'card 4111 1111 1111 1111 on file', 'card'],
    ['a Mastercard number written with hyphens', 'pay 5555-5555-5555-4444', 'card'],
    ['an American Express number', 'amex 378282246310005', 'card'],
    ['a card number in a CSV row, after a name and a comma', 'alice,4111111111111111,12/27', 'card'],
    ['a card number grouped by dots', 'card 4111.1111.1111.1111 on file', 'card'],
    ['a card number grouped by no-break spaces', 'card 4111\u00A01111\u00A01111\u00A01111', 'card'],
    ['a card number in full-width digits', `card ${'\uFF14'}${'\uFF11'.repeat(15)}`, 'card'],
    ['the fraction of a decimal number is not a card', 'ratio 0.4111111111111111', undefined],
    ['a Luhn-invalid number is not a card', 'card 4111 1111 1111 1112 on file', undefined],
    ['a Luhn-valid number outside every card network is not a card', 'ref 1234 5678 9012 3452', undefined],
    ['a card-length run inside a longer digit string is not a card', 'id 9941111111111111111234', undefined],
    ['a German IBAN in groups', 'IBAN DE89 3704 0044 0532 0130 00 please', 'iban'],
    ['a British IBAN, compact', 'to GB82WEST12345698765432.', 'iban'],
    ['an IBAN with a wrong check digit is not an IBAN', 'IBAN DE88 3704 0044 0532 0130 00', undefined],
    [
      'an IBAN of the wrong length for its country is not an IBAN',
      'IBAN DE89 3704 0044 0532 0130',
      undefined,
    ],
    ['an e-mail address', 'write to alice.smith+orders@example.co.uk.', 'email'],
    ['an @-mention is not an e-mail address', 'ping @alice about it', undefined],
    ['a scoped package name is not an e-mail address', 'install @baton/core@0.1.0 now', undefined],
    ['an international phone number', 'call +44 20 7946 0958 today', 'phone'],
    ['a North American phone number', 'call (415) 555-2671', 'phone'],
    ['a German number with a six-digit group', 'Tel. +49 30 901820', 'phone'],
    ['a compact E.164 number', 'sms +14155552671', 'phone'],
    ['a date is not a phone number', 'on 2024-03-05 at 10:15', undefined],
    ['a 40-digit run after a plus is not a phone number', `+${'1'.repeat(40)}`, undefined],
    ['an impossible international number is not a phone number', 'code +999 1234', undefined],
    ['a US SSN', 'ssn 123-45-6789', 'us_ssn'],
    ['an SSN in area 666 is not an SSN', 'ssn 666-12-3456', undefined],
    ['an SSN in area 9xx is not an SSN', 'ssn 912-34-5678', undefined],
    ['an SSN with group 00 is not an SSN', 'ssn 123-00-6789', undefined],
    ['an SSN with serial 0000 is not an SSN', 'ssn 123-45-0000', undefined],
    ['a GitHub token', `token ${GITHUB_TOKEN}`, 'secret.github'],
    ['a Stripe live secret key', `STRIPE_KEY=${STRIPE_LIVE}`, 'secret.stripe'],
    ['an AWS access key id', `key ${AWS_ACCESS_KEY_ID}`, 'secret.aws'],
    ['an AWS secret access key', AWS_SECRET, 'secret.aws'],
    ['a private key block', PRIVATE_KEY, 'secret.privatekey'],
    ['AWS documentation’s sample key id is not a secret', 'key AKIAIOSFODNN7EXAMPLE', undefined],
    ['ordinary order data holds nothing', '{"id":"ord-1001","total":42.50,"sku":"AB-1234-567"}', undefined],
  ];
  for (const [what, text, detector] of cases) {
    it(detector ? `finds ${what}` : `finds nothing: ${what}`, async () => {
      const findings = await findingsIn(text);
      if (detector) assert.deepEqual(findings, { [detector]: 1 });
      else assert.deepEqual(findings, {});
    });
  }

  it('finds every card number of a JSON array, not only the first', async () => {
    assert.deepEqual(await findingsIn('[4111111111111111,5500000000000004]'), { card: 2 });
    const scan = await scanResult(
      { content: [], structuredContent: { cards: [4111111111111111, 5500000000000004] } },
      { action: 'audit' },
    );
    assert.deepEqual(scan.dlp?.findings, { card: 2 });
  });

  it('finds a secret hidden under a data, type, blob, mimeType or role key outside content items', async () => {
    const scan = await scanResult(
      {
        content: [{ type: 'text', text: 'ok' }],
        structuredContent: {
          data: `key ${GITHUB_TOKEN}`,
          type: 'card 4111111111111111',
          role: 'eve@example.org',
        },
        _meta: { blob: `key ${GITHUB_TOKEN}`, mimeType: 'ssn 123-45-6789' },
      },
      { action: 'redact' },
    );
    assert.deepEqual(scan.dlp?.findings, { 'secret.github': 2, card: 1, email: 1, us_ssn: 1 });
    assert.ok(!JSON.stringify(scan.result).includes(GITHUB_TOKEN));
  });

  it('finds a secret under a type key of a content item’s _meta', async () => {
    const scan = await scanResult(
      { content: [{ type: 'text', text: 'ok', _meta: { type: `key ${GITHUB_TOKEN}` } }] },
      { action: 'audit' },
    );
    assert.deepEqual(scan.dlp?.findings, { 'secret.github': 1 });
  });

  it('finds a secret used as an object key, and blocks the result rather than sending the key', async () => {
    const leaky = {
      content: [{ type: 'text', text: 'ok' }],
      structuredContent: { [GITHUB_TOKEN]: 'deploy key' },
    };
    const audited = await scanResult(leaky, { action: 'audit' });
    assert.deepEqual(audited.dlp?.findings, { 'secret.github': 1 });
    const redacted = await scanResult(leaky, { action: 'redact' });
    assert.equal(redacted.blocked, true);
    assert.equal(redacted.dlp?.action, 'block');
    assert.ok(!JSON.stringify(redacted.result).includes(GITHUB_TOKEN));
  });

  it('redacts a thrown string or non-Error body, which the SDK sends to the client as String(error)', async () => {
    const policy = checkedDlpPolicy({ action: 'redact' }, 'test');
    for (const thrown of [`failed: ${GITHUB_TOKEN}`, { toString: () => `failed: ${GITHUB_TOKEN}` }]) {
      const scan = await scanThrown(thrown, policy);
      assert.deepEqual(scan.dlp?.findings, { 'secret.github': 1 });
      assert.ok(scan.error instanceof Error);
      assert.ok(!String(scan.error).includes(GITHUB_TOKEN));
    }
  });

  it('scans what JSON sends, not the object’s own fields: a toJSON, a URL or a boxed string hiding a secret', async () => {
    const leaky = {
      structuredContent: {
        link: new URL(`https://user:${GITHUB_TOKEN}@git.example/repo`),
        hidden: { toJSON: () => `token ${GITHUB_TOKEN}` },
        boxed: new String(`token ${GITHUB_TOKEN}`),
      },
    };
    const scan = await scanResult(leaky, { action: 'redact' });
    assert.equal(scan.dlp?.findings['secret.github'], 3);
    assert.ok(!JSON.stringify(scan.result).includes(GITHUB_TOKEN));
  });

  it('scans a thrown plain object’s message and an error’s data (what the SDKs send for resources and prompts)', async () => {
    const policy = checkedDlpPolicy({ action: 'redact' }, 'test');
    for (const thrown of [
      { message: `card 4111111111111111`, code: -32603 },
      Object.assign(new Error('upstream failed'), { code: -32603, data: { body: `token ${GITHUB_TOKEN}` } }),
    ]) {
      const scan = await scanThrown(thrown, policy);
      assert.ok(scan.dlp, 'found');
      assert.ok(scan.error instanceof Error);
      assert.equal((scan.error as Error & { code?: number }).code, -32603, 'the JSON-RPC code is kept');
      assert.equal((scan.error as Error & { data?: unknown }).data, undefined, 'the data is left behind');
      assert.ok(!JSON.stringify({ m: (scan.error as Error).message }).includes('4111111111111111'));
    }
  });

  it('refuses to be switched off by a secretlint-disable comment in the scanned text', async () => {
    const findings = await findingsIn(`// secretlint-disable\ntoken ${GITHUB_TOKEN}\n// secretlint-enable`);
    assert.deepEqual(findings, { 'secret.github': 1 });
  });

  it('redacts in a copy, naming the detector, and leaves the original untouched', async () => {
    const original = {
      content: [{ type: 'text', text: `card 4111111111111111 key ${GITHUB_TOKEN}` }],
      structuredContent: {
        owner: { email: 'bob@example.com' },
        notes: ['fine', 'iban GB82WEST12345698765432'],
      },
    };
    const before = structuredClone(original);
    const scan = await scanResult(original, { action: 'redact' });
    assert.deepEqual(original, before);
    assert.deepEqual(scan.result, {
      content: [{ type: 'text', text: 'card [REDACTED:card] key [REDACTED:secret.github]' }],
      structuredContent: { owner: { email: '[REDACTED:email]' }, notes: ['fine', 'iban [REDACTED:iban]'] },
    });
    assert.deepEqual(scan.dlp, {
      action: 'redact',
      findings: { card: 1, 'secret.github': 1, email: 1, iban: 1 },
    });
  });

  it('scans embedded resources and prompt messages, not base64 payloads', async () => {
    const scan = await scanResult(
      {
        content: [
          {
            type: 'resource',
            resource: { uri: 'file:///a.txt', mimeType: 'text/plain', text: 'ssn 123-45-6789' },
          },
          { type: 'image', mimeType: 'image/png', data: 'QUtJQVFXRVJUWVVJT1BBU0RGR0g=' },
        ],
        messages: [{ role: 'user', content: { type: 'text', text: 'mail eve@example.org' } }],
      },
      { action: 'redact' },
    );
    assert.deepEqual(scan.dlp?.findings, { us_ssn: 1, email: 1 });
  });

  it('finds a card number sent as a JSON number, and leaves other numbers numbers', async () => {
    const scan = await scanResult(
      { content: [], structuredContent: { card: 4111111111111111, order: 100000000001, total: 42.5 } },
      { action: 'redact' },
    );
    assert.deepEqual(scan.dlp?.findings, { card: 1 });
    assert.deepEqual((scan.result as { structuredContent: unknown }).structuredContent, {
      card: '[REDACTED:card]',
      order: 100000000001,
      total: 42.5,
    });
  });

  it('runs only the detectors the policy names', async () => {
    const scan = await scanResult(
      { content: [{ type: 'text', text: `mail eve@example.org key ${GITHUB_TOKEN}` }] },
      { action: 'redact', detectors: ['secrets'] },
    );
    assert.deepEqual(scan.dlp?.findings, { 'secret.github': 1 });
    assert.match(JSON.stringify(scan.result), /eve@example\.org/);
  });

  it('blocks with an error that names detectors and counts, never a value', async () => {
    const scan = await scanResult(
      { content: [{ type: 'text', text: `${GITHUB_TOKEN} 4111111111111111` }] },
      { action: 'block' },
    );
    assert.equal(scan.blocked, true);
    const text = JSON.stringify(scan.result);
    assert.match(text, /secret\.github \(1\)/);
    assert.match(text, /card \(1\)/);
    assert.ok(!text.includes(GITHUB_TOKEN) && !text.includes('4111111111111111'));
  });

  it('refuses an unknown detector or action at construction', async () => {
    await assert.rejects(scanResult({}, { action: 'redact', detectors: ['cards' as never] }), TypeError);
    await assert.rejects(scanResult({}, { action: 'drop' as never }), TypeError);
  });

  it('keeps no profiling marks per scan (secretlint’s profiler would grow the global buffer without bound)', async () => {
    performance.clearMarks();
    for (let i = 0; i < 20; i++) await findingsIn(`token ${GITHUB_TOKEN}`);
    assert.equal(performance.getEntriesByType('mark').length, 0);
  });
});
