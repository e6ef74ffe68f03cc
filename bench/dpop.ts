import { createPublicKey, randomUUID, verify } from 'node:crypto';
import {
  type DpopReplayStore,
  jwtAccessTokenVerifier,
  MemoryDpopReplayStore,
  type SenderConstraintOptions,
  SenderConstraints,
} from '@baton/resource-server';
import { RedisDpopReplayStore } from '@baton/resource-server/redis';
import { DpopSession } from '@modelcontextprotocol/client';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createClient } from 'redis';
import { fmt } from './stats.ts';

const ISSUER = 'https://idp.bench';
const RESOURCE = 'https://orders.bench/mcp';
const NONCE_SECRET = 'the bench nonce secret, at least 32 bytes long';

/**
 * The per-request cost of checking a DPoP proof at a resource server (issue #14), against a bearer
 * token on the same path: read the `Authorization`/`DPoP` headers, verify the access token (a warm
 * `VerifiedTokenCache`, as in steady state), then the sender-constraint check (proof signature with
 * its embedded key, `htm`/`htu`/`iat`/`ath`, the RFC 7638 thumbprint, the replay store). Proofs are
 * made by the SDK client's `DpopSession` before the clock starts (each is usable once); sequential,
 * one core. The difference between a row and `bearer` is what DPoP costs per call.
 */
export async function benchDpop(calls = 3_000): Promise<Array<Record<string, string>>> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  const verifier = jwtAccessTokenVerifier({ issuer: ISSUER, audience: RESOURCE, jwks: { keys: [jwk] } });
  const session = await DpopSession.create();
  const mint = (cnf?: Record<string, unknown>) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      sub: 'user-alice',
      client_id: 'agent-1',
      scope: 'orders:read',
      jti: randomUUID(),
      ...(cnf ? { cnf } : {}),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience(RESOURCE)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(privateKey);
  };
  const bearer = await mint();
  const bound = await mint({ jkt: session.thumbprint });
  const redis = createClient({ url: 'redis://127.0.0.1:6379' });
  await redis.connect();
  const stores: Array<[string, DpopReplayStore]> = [
    ['memory', new MemoryDpopReplayStore()],
    ['redis', new RedisDpopReplayStore({ redis, keyPrefix: `baton:bench:dpop:${randomUUID()}:` })],
  ];
  const rows: Array<Record<string, string>> = [];
  try {
    const bearerConstraints = new SenderConstraints();
    const bearerHeaders = new Headers({ authorization: `Bearer ${bearer}` });
    const bearerUs = await perCall(calls, async () => {
      const presented = bearerConstraints.presented(bearerHeaders);
      const claims = await verifier.verify(presented.token);
      await bearerConstraints.check(claims.claims, presented, { method: 'POST', htu: RESOURCE });
    });
    rows.push(row('bearer (no proof)', bearerUs, bearerUs));
    // The floor: one ES256 signature check with node:crypto, which a proof cannot cost less than.
    const proofKey = createPublicKey({ key: session.publicJwk as never, format: 'jwk' });
    const sample = await session.buildProof({ htm: 'POST', htu: RESOURCE, accessToken: bound });
    const [head, body, signature] = sample.split('.') as [string, string, string];
    const input = Buffer.from(`${head}.${body}`);
    const signatureBytes = Buffer.from(signature, 'base64url');
    const rawUs = await perCall(calls, async () => {
      if (!verify('sha256', input, { key: proofKey, dsaEncoding: 'ieee-p1363' }, signatureBytes))
        throw new Error('raw');
    });
    rows.push({ ...row('floor: raw ES256 verify (node:crypto)', rawUs, bearerUs), 'DPoP cost µs': '—' });
    for (const [storeName, replay] of stores) {
      for (const nonces of [false, true]) {
        const options: SenderConstraintOptions = {
          dpop: { replay, ...(nonces ? { nonces: { secret: NONCE_SECRET } } : {}) },
        };
        const constraints = new SenderConstraints(options);
        const nonce = constraints.freshNonce();
        // Made before timing: a proof is signed by the client, and is good for one request only.
        const headers: Headers[] = [];
        for (let i = 0; i < calls + 200; i++) {
          const proof = await session.buildProof({
            htm: 'POST',
            htu: RESOURCE,
            accessToken: bound,
            ...(nonce ? { nonce } : {}),
          });
          headers.push(new Headers({ authorization: `DPoP ${bound}`, dpop: proof }));
        }
        let next = 0;
        const us = await perCall(calls, async () => {
          const presented = constraints.presented(headers[next++]!);
          const claims = await verifier.verify(presented.token);
          await constraints.check(claims.claims, presented, { method: 'POST', htu: RESOURCE });
        });
        rows.push(row(`DPoP, ${storeName} replay store${nonces ? ', server nonces' : ''}`, us, bearerUs));
      }
    }
  } finally {
    await redis.close();
  }
  return rows;
}

/** Mean microseconds per call after 200 warm-up calls. */
async function perCall(calls: number, run: () => Promise<void>): Promise<number> {
  for (let i = 0; i < 200; i++) await run();
  const started = performance.now();
  for (let i = 0; i < calls; i++) await run();
  return ((performance.now() - started) * 1000) / calls;
}

function row(name: string, us: number, bearerUs: number): Record<string, string> {
  return {
    request: name,
    'µs / call': fmt(us, 1),
    'calls / s': fmt(1e6 / us),
    'DPoP cost µs': name.startsWith('bearer') ? '—' : fmt(us - bearerUs, 1),
  };
}
