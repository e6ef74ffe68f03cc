import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalEntryId, parseRecord } from '../src/index.ts';

describe('canonicalEntryId', () => {
  it('is namespace:key, exactly as given (no case folding or normalisation)', () => {
    const key = 'user-alice|agent-1|https://api|orders:read';
    assert.equal(canonicalEntryId({ namespace: 'obo', key }), `obo:${key}`);
    assert.notEqual(
      canonicalEntryId({ namespace: 'obo', key: 'Alice' }),
      canonicalEntryId({ namespace: 'obo', key: 'alice' }),
    );
    assert.notEqual(
      canonicalEntryId({ namespace: 'obo', key: 'caf\u00e9' }),
      canonicalEntryId({ namespace: 'obo', key: 'cafe\u0301' }),
    );
  });

  it('is injective: a namespace cannot contain the separator, so no two ids collide', () => {
    assert.equal(canonicalEntryId({ namespace: 'a', key: 'b:c' }), 'a:b:c');
    assert.throws(() => canonicalEntryId({ namespace: 'a:b', key: 'c' }), TypeError);
  });

  it('refuses malformed ids with a TypeError', () => {
    const bad: unknown[] = [
      null,
      'obo:key',
      { namespace: '', key: 'k' },
      { namespace: 'Obo', key: 'k' },
      { namespace: 'obo', key: '' },
      { namespace: 'obo', key: 42 },
      { namespace: 'obo', key: 'x'.repeat(4097) },
      { namespace: 'obo', key: 'lone \ud800 surrogate' },
    ];
    for (const id of bad) assert.throws(() => canonicalEntryId(id as never), TypeError, JSON.stringify(id));
  });
});

describe('parseRecord', () => {
  const valid = {
    v: 1,
    id: 'obo:k',
    exp: 1,
    enc: 'utf8',
    kek: 'kek-1',
    wdek: Buffer.alloc(40).toString('base64url'),
    iv: Buffer.alloc(12).toString('base64url'),
    ct: '',
    tag: Buffer.alloc(16).toString('base64url'),
  };

  it('accepts exactly the record fields', () => {
    assert.equal(parseRecord(JSON.stringify(valid)).id, 'obo:k');
  });

  it('refuses extra or missing fields, loose base64 and wrong lengths as ERR_VAULT_RECORD_MALFORMED', () => {
    const variants: Array<Record<string, unknown>> = [
      { ...valid, extra: 1 },
      { ...valid, tag: undefined },
      { ...valid, iv: `${valid.iv}=` },
      { ...valid, iv: `${valid.iv.slice(0, -1)}!` },
      { ...valid, iv: Buffer.alloc(16).toString('base64url') },
      { ...valid, exp: '1' },
      { ...valid, enc: 'latin1' },
      { ...valid, wdek: '' },
    ];
    for (const variant of variants) {
      assert.throws(
        () => parseRecord(JSON.stringify(variant)),
        { code: 'ERR_VAULT_RECORD_MALFORMED' },
        JSON.stringify(variant),
      );
    }
    assert.throws(() => parseRecord('[]'), { code: 'ERR_VAULT_RECORD_MALFORMED' });
    assert.throws(() => parseRecord(JSON.stringify({ ...valid, v: 7 })), {
      code: 'ERR_VAULT_RECORD_UNSUPPORTED',
    });
  });
});
