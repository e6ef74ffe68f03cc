import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import {
  type CertificateAuthority,
  createCertificateAuthority,
  issueWorkloadCertificate,
  mutualTlsDispatcher,
  serverTlsOptions,
  type WorkloadCertificate,
} from '@baton/workload-identity';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import type { Agent } from 'undici';
import { downstreamVerifier } from '../src/index.ts';
import { ADAPTERS } from './fixtures/adapters.ts';

const BROKER = 'https://broker.baton.test';

/**
 * Certificate-bound tokens (RFC 8705 §3) through every adapter of the downstream verifier, over real
 * mutual TLS on 127.0.0.1: the adapter reads the certificate the handshake verified from the connection
 * (`clientCertificateOf`) and the verifier checks it against the token's `cnf["x5t#S256"]`.
 */
describe('downstream verifier adapters over mutual TLS: certificate-bound tokens', () => {
  let ca: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let caller: WorkloadCertificate;
  let serverIdentity: WorkloadCertificate;
  let signingKey: CryptoKey;
  let jwks: Server;
  let jwksUri: string;
  const dispatchers: Agent[] = [];

  const token = (audience: string, thumbprint: string) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      sub: 'user-alice',
      client_id: 'agent-1',
      scope: 'orders:read',
      tenant: 'acme',
      act: { sub: 'orders-mcp' },
      jti: randomUUID(),
      cnf: { 'x5t#S256': thumbprint },
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'broker-key' })
      .setIssuer(BROKER)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(signingKey);
  };

  const dispatcher = (identity?: WorkloadCertificate, trust = ca) => {
    const created = mutualTlsDispatcher({ ...(identity ? { identity } : {}), ca: trust.certificatePem });
    dispatchers.push(created);
    return created;
  };

  before(async () => {
    ca = await createCertificateAuthority({ trustDomain: 'baton.test' });
    otherCa = await createCertificateAuthority({ trustDomain: 'baton.test' });
    caller = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/orders-mcp',
      usage: 'client',
    });
    serverIdentity = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/orders-api',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    const pair = await generateKeyPair('ES256', { extractable: true });
    signingKey = pair.privateKey;
    const publicJwk: JWK = {
      ...(await exportJWK(pair.publicKey)),
      kid: 'broker-key',
      alg: 'ES256',
      use: 'sig',
    };
    jwks = createHttpServer((_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    jwksUri = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
  });
  after(async () => {
    for (const created of dispatchers) await created.close();
    jwks.close();
  });

  for (const adapter of ADAPTERS) {
    describe(adapter.name, () => {
      let server: Server;
      let url: string;
      const audit = new MemoryAuditSink();

      before(async () => {
        // A certificate is asked for, not required, so a call without one reaches the verifier.
        server = createHttpsServer(
          serverTlsOptions({
            identity: serverIdentity,
            ca: ca.certificatePem,
            requireClientCertificate: false,
          }),
        ) as unknown as Server;
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const api = `https://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
        url = `${api}/orders`;
        const verifier = downstreamVerifier({
          audience: api,
          broker: { issuer: BROKER, jwksUri },
          senderConstraint: { mtls: {} },
        });
        adapter.mount(server, {
          routes: [{ path: '/api/orders', requiredScopes: ['orders:read'] }],
          options: { verifier, audit },
          answer: (identity) => ({
            status: 200,
            body: { user: identity.user, senderConstraint: identity.senderConstraint ?? null },
            headers: {},
          }),
        });
      });
      after(() => {
        server.closeAllConnections();
        server.close();
      });

      const get = async (bearer: string, agent: Agent) => {
        const response = await fetch(url, {
          headers: { authorization: `Bearer ${bearer}` },
          dispatcher: agent,
        } as RequestInit);
        return {
          status: response.status,
          challenge: response.headers.get('www-authenticate') ?? '',
          body: (await response.json()) as Record<string, unknown>,
        };
      };

      it('serves a token bound to the certificate the caller presented', async () => {
        const answer = await get(
          await token(url.replace('/orders', ''), caller.thumbprint),
          dispatcher(caller),
        );
        assert.equal(answer.status, 200, JSON.stringify(answer));
        assert.deepEqual(answer.body.senderConstraint, {
          method: 'mtls',
          thumbprint: caller.thumbprint,
          spiffeId: 'spiffe://baton.test/orders-mcp',
        });
      });

      it('refuses a token bound to another certificate (invalid_token, certificate_mismatch)', async () => {
        const other = await issueWorkloadCertificate(ca, {
          spiffeId: 'spiffe://baton.test/billing-mcp',
          usage: 'client',
        });
        const answer = await get(
          await token(url.replace('/orders', ''), other.thumbprint),
          dispatcher(caller),
        );
        assert.equal(answer.status, 401);
        assert.match(answer.challenge, /error="invalid_token"/);
        assert.equal(audit.events.at(-1)?.reason, 'certificate_mismatch');
      });

      it('refuses a bound token without a client certificate (invalid_token, certificate_missing)', async () => {
        const answer = await get(await token(url.replace('/orders', ''), caller.thumbprint), dispatcher());
        assert.equal(answer.status, 401);
        assert.match(answer.challenge, /error="invalid_token"/);
        assert.equal(audit.events.at(-1)?.reason, 'certificate_missing');
      });

      it('refuses a bound token with the right thumbprint from a certificate another CA issued (never authorized)', async () => {
        // The attacker cannot hold the key of the bound certificate; the best they can do is a certificate
        // of their own, which the handshake does not authorize, so it never reaches the verifier.
        const forged = await issueWorkloadCertificate(otherCa, {
          spiffeId: 'spiffe://baton.test/orders-mcp',
          usage: 'client',
        });
        const answer = await get(
          await token(url.replace('/orders', ''), forged.thumbprint),
          dispatcher(forged),
        );
        assert.equal(answer.status, 401);
        assert.equal(audit.events.at(-1)?.reason, 'certificate_missing');
      });
    });
  }
});
