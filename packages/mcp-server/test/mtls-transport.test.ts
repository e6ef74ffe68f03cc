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
