import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ClientCertificate } from '@baton/resource-server';
import {
  type CertificateAuthority,
  createCertificateAuthority,
  issueWorkloadCertificate,
  mutualTlsDispatcher,
  serverTlsOptions,
  type WorkloadCertificate,
} from '@baton/workload-identity';
import type { Agent } from 'undici';
import { STACKS } from './fixtures/mounts.ts';
import { refusalProbe, TOOL_CALL } from './fixtures/refusal-probe.ts';
import { type Stack, startStack } from './fixtures/stack.ts';

const NODE_ADAPTER = STACKS.find(
  (stack) => stack.name === 'SDK v1 StreamableHTTPServerTransport on node:http',
)!;

/**
 * The boundary behind HTTPS with client certificates from an internal CA, through
 * `protectNodeRequests` (`@baton/mcp-server/node`): the certificate the handshake verified reaches
 * `boundary.admit` as `clientCertificate`, for certificate-bound tokens.
 */
describe('@baton/mcp-server/node over mutual TLS', () => {
  let ca: CertificateAuthority;
  let agent: WorkloadCertificate;
  const stacks: Stack[] = [];
  const dispatchers: Agent[] = [];

  before(async () => {
    ca = await createCertificateAuthority({ trustDomain: 'baton.test' });
    agent = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/agents/travel',
      usage: 'client',
    });
  });
  after(async () => {
    for (const dispatcher of dispatchers) await dispatcher.close();
    for (const stack of stacks) await stack.close();
  });

  async function serve(requireClientCertificate: boolean) {
    const identity = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/mcp/orders',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    const stack = await startStack({
      tls: serverTlsOptions({ identity, ca: ca.certificatePem, requireClientCertificate }),
      mount: NODE_ADAPTER.mount,
    });
    stacks.push(stack);
    const admitted: Array<ClientCertificate | undefined> = [];
    const admit = stack.boundary.admit.bind(stack.boundary);
    stack.boundary.admit = (request, options) => {
      admitted.push(options?.clientCertificate);
      return admit(request, options);
    };
    const probe = await refusalProbe(stack);
    return { stack, admitted, token: await probe.forge() };
  }

  function callTool(stack: Stack, token: string, dispatcher: Agent) {
    return fetch(stack.resource, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: TOOL_CALL,
      dispatcher,
    } as RequestInit);
  }

  function dispatcher(identity?: WorkloadCertificate): Agent {
    const created = mutualTlsDispatcher({ ...(identity ? { identity } : {}), ca: ca.certificatePem });
    dispatchers.push(created);
    return created;
  }

  it("hands the boundary the agent's certificate, its thumbprint and SPIFFE ID as issued", async () => {
    const { stack, admitted, token } = await serve(true);
    const response = await callTool(stack, token, dispatcher(agent));
    assert.equal(response.status, 200, await response.clone().text());
    await response.body?.cancel();
    assert.deepEqual(admitted, [
      {
        thumbprint: agent.thumbprint,
        spiffeId: 'spiffe://baton.test/agents/travel',
        uris: ['spiffe://baton.test/agents/travel'],
        subject: '',
      },
    ]);
  });

  it('refuses an agent without a certificate in the TLS handshake, before the boundary sees a request', async () => {
    const { stack, admitted, token } = await serve(true);
    await assert.rejects(callTool(stack, token, dispatcher()), (error: Error) => {
      // undici sends the request as the handshake completes; the server's `certificate_required` alert
      // then closes the socket: no byte of an HTTP answer came back.
      const cause = error.cause as { code?: string; socket?: { bytesRead?: number } };
      assert.equal(cause.code, 'UND_ERR_SOCKET');
      assert.equal(cause.socket?.bytesRead, 0);
      return true;
    });
    assert.deepEqual(admitted, []);
  });

  it('on a server where a certificate is optional, a request without one has no clientCertificate', async () => {
    const { stack, admitted, token } = await serve(false);
    const response = await callTool(stack, token, dispatcher());
    assert.equal(response.status, 200);
    await response.body?.cancel();
    assert.deepEqual(admitted, [undefined]);
  });
});

/**
 * Certificate-bound tokens (RFC 8705 §3) at the boundary, end to end over mutual TLS, through both
 * Node adapters: `protectNodeRequests` and `serveNodeRequests(boundary.protect(mcp))`.
 */
describe('certificate-bound tokens at the boundary over mutual TLS', () => {
  let ca: CertificateAuthority;
  let agent: WorkloadCertificate;
  const closing: Array<() => Promise<void>> = [];

  before(async () => {
    ca = await createCertificateAuthority({ trustDomain: 'baton.test' });
    agent = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/agents/travel',
      usage: 'client',
    });
  });
  after(async () => {
    for (const close of closing) await close();
  });

  for (const mount of [
    NODE_ADAPTER,
    STACKS.find((stack) => stack.name === 'SDK v2 createMcpHandler on node:http')!,
  ]) {
    describe(mount.name, () => {
      let stack: Stack;
      let probe: Awaited<ReturnType<typeof refusalProbe>>;

      before(async () => {
        const identity = await issueWorkloadCertificate(ca, {
          spiffeId: 'spiffe://baton.test/mcp/orders',
          ipAddresses: ['127.0.0.1'],
          usage: 'server',
        });
        stack = await startStack({
          // Optional at the TLS layer, so that the boundary's own refusal of a missing certificate shows.
          tls: serverTlsOptions({ identity, ca: ca.certificatePem, requireClientCertificate: false }),
          mount: mount.mount,
          boundary: { senderConstraint: { mtls: {} } },
        });
        closing.push(() => stack.close());
        probe = await refusalProbe(stack);
      });

      const callWith = async (token: string, identity?: WorkloadCertificate) => {
        const dispatcher = mutualTlsDispatcher({ ...(identity ? { identity } : {}), ca: ca.certificatePem });
        closing.push(() => dispatcher.close());
        const lines = stack.logLines.length;
        const response = await fetch(stack.resource, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
          },
          body: TOOL_CALL,
          dispatcher,
        } as RequestInit);
        await response.body?.cancel();
        const logged = stack.logLines.slice(lines).map((line) => JSON.parse(line) as { reason?: string });
        return {
          status: response.status,
          challenge: response.headers.get('www-authenticate') ?? '',
          reason: logged.find((line) => line.reason)?.reason,
        };
      };

      it('admits a token bound to the certificate the agent presented', async () => {
        const token = await probe.forge(probe.claims({ cnf: { 'x5t#S256': agent.thumbprint } }));
        const answer = await callWith(token, agent);
        assert.equal(answer.status, 200, JSON.stringify(answer));
      });

      it('refuses a token bound to another certificate (401 invalid_token, certificate_mismatch)', async () => {
        const other = await issueWorkloadCertificate(ca, {
          spiffeId: 'spiffe://baton.test/agents/other',
          usage: 'client',
        });
        const token = await probe.forge(probe.claims({ cnf: { 'x5t#S256': other.thumbprint } }));
        const answer = await callWith(token, agent);
        assert.equal(answer.status, 401);
        assert.match(answer.challenge, /error="invalid_token"/);
        assert.equal(answer.reason, 'certificate_mismatch');
      });

      it('refuses a bound token on a connection without a client certificate (certificate_missing)', async () => {
        const token = await probe.forge(probe.claims({ cnf: { 'x5t#S256': agent.thumbprint } }));
        const answer = await callWith(token);
        assert.equal(answer.status, 401);
        assert.match(answer.challenge, /error="invalid_token"/);
        assert.equal(answer.reason, 'certificate_missing');
      });
    });
  }
});
