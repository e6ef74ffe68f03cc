import { exchangeToken, TokenRequestError } from '@baton/broker-client';
import type { DemoTopology } from './topology.ts';

/** One hop of bob's chain, asked again and again with the credential that hop would receive. */
interface Hop {
  name: string;
  /** `undefined` while the hop still serves the call; the refusal (status and error) once it refuses. */
  ask(): Promise<string | undefined>;
}

export interface HopRefusal {
  hop: string;
  /** Milliseconds from the identity provider's disable to the hop's first refusal; `undefined`: never, within the wait. */
  afterMs: number | undefined;
  answer: string | undefined;
}

/** How long the walk-through waits for every hop to refuse. */
const WAIT_MS = 5_000;
/** How often each hop is asked again. */
const EVERY_MS = 2;

/**
 * Offboards a person midway: their agent still holds their access token, and every hop behind it
 * would accept the tokens the chain already holds. An administrator disables the account at the
 * identity provider, which pushes RISC `account-disabled` to the broker (RFC 8935); the broker
 * revokes the person, audits it and queues a SET on every hop's Shared Signals stream; each hop's
 * long poll returns it. Each hop is asked again every few milliseconds with the credential it would
 * receive (the agent's token at the orders MCP server, the exchanged tokens at the billing MCP server
 * and the billing API, a new exchange at the broker) until it refuses.
 */
export async function offboard(demo: DemoTopology, sub: string, agentToken: string): Promise<HopRefusal[]> {
  const { broker, urls } = demo;
  // Each hop is called as the hop before it would call it: over that hop's workload certificate.
  const asOrdersMcp = demo.pki.identities['orders-mcp'].fetch;
  const asBillingMcp = demo.pki.identities['billing-mcp'].fetch;
  // What the chain holds before the person is offboarded: the hop tokens the MCP servers exchanged.
  // The orders MCP server's exchange for the billing MCP server, as it makes it for bob's calls.
  const exchangeForBillingMcp = () =>
    exchangeToken(
      broker.issuer,
      broker.ordersMcp,
      { subjectToken: agentToken, resource: urls.billingMcp, scope: ['billing:read'] },
      { fetch: asOrdersMcp },
    );
  const toBillingMcp = await exchangeForBillingMcp();
  const toBillingApi = await exchangeToken(
    broker.issuer,
    broker.billingMcp,
    {
      subjectToken: toBillingMcp.access_token,
      resource: urls.billingApi,
      scope: ['billing:read'],
    },
    { fetch: asBillingMcp },
  );
  const hops: Hop[] = [
    {
      name: 'token broker (a new exchange)',
      ask: async () => {
        try {
          await exchangeForBillingMcp();
          return undefined;
        } catch (error) {
          if (!(error instanceof TokenRequestError)) throw error;
          return `${error.status} ${error.error}`;
        }
      },
    },
    // The agent reaches the orders MCP server as any MCP client does.
    { name: 'orders MCP server', ask: () => toolCall(fetch, urls.ordersMcp, agentToken, 'list_orders') },
    {
      name: 'billing MCP server',
      ask: () => toolCall(asOrdersMcp, urls.billingMcp, toBillingMcp.access_token, 'list_invoices'),
    },
    {
      name: 'billing API',
      ask: async () =>
        refusalOf(
          await asBillingMcp(`${urls.billingApi}/invoices`, {
            headers: { authorization: `Bearer ${toBillingApi.access_token}` },
          }),
        ),
    },
  ];
  for (const hop of hops) {
    const answer = await hop.ask();
    if (answer !== undefined) throw new Error(`${hop.name} refused before the offboarding: ${answer}`);
  }
  const started = performance.now();
  await demo.idp.disableUser(sub);
  return Promise.all(hops.map((hop) => untilRefused(hop, started)));
}

async function untilRefused(hop: Hop, started: number): Promise<HopRefusal> {
  while (performance.now() - started < WAIT_MS) {
    const answer = await hop.ask();
    if (answer !== undefined) return { hop: hop.name, afterMs: performance.now() - started, answer };
    await new Promise((resolve) => setTimeout(resolve, EVERY_MS));
  }
  return { hop: hop.name, afterMs: undefined, answer: undefined };
}

/** An MCP `tools/call` (stateless, as the demo's servers serve it); the refusal, or `undefined` when served. */
async function toolCall(
  send: typeof fetch,
  url: string,
  token: string,
  tool: string,
): Promise<string | undefined> {
  return refusalOf(
    await send(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: tool, arguments: {} },
      }),
    }),
  );
}

async function refusalOf(response: Response): Promise<string | undefined> {
  const body = await response.text();
  if (response.ok) return undefined;
  let error = '';
  try {
    error = (JSON.parse(body) as { error?: string }).error ?? '';
  } catch {
    // Not JSON: the status says enough.
  }
  return `${response.status}${error ? ` ${error}` : ''}`;
}
