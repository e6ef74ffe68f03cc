import {
  type CallToolResult,
  inputRequired,
  UrlElicitationRequiredError,
} from '@modelcontextprotocol/server';
import type { ApprovalRecord } from './store.ts';

/** What the boundary knows about the calling client's reach, for one call. */
export interface ClientReach {
  /** `modern`: MCP 2026-07-28 (multi-round-trip); `legacy`: 2025-11-25 and before. */
  era: 'modern' | 'legacy';
  /**
   * Whether the client declared URL-mode elicitation (`capabilities.elicitation.url`); undefined when
   * the server cannot know (a stateless 2025-era server never saw the client's `initialize`).
   */
  urlElicitation: boolean | undefined;
}

/** How the call that needs approval is answered: a result to return, or an error to throw. */
export type ApprovalAsk = { result: CallToolResult } | { error: Error };

/**
 * A way to reach the person for an approval. The URL channel (MCP URL-mode elicitation) is the one
 * implemented; OpenID CIBA (the IdP pushes the request to the person's device) fits the same shape:
 * `reaches` would be true for any client, and `ask` would start a backchannel request and answer the
 * call with "approval pending".
 */
export interface ApprovalChannel {
  readonly name: string;
  /** Whether this channel can reach the person through this client. */
  reaches(client: ClientReach): boolean;
  ask(record: ApprovalRecord, url: string, client: ClientReach): ApprovalAsk;
}

/** The key the approval rides under in a 2026-07-28 `inputRequests` (and its `inputResponses`). */
export const APPROVAL_INPUT_KEY = 'baton_approval';

/**
 * MCP URL-mode elicitation (2025-11-25 `elicitation/create` with `mode: "url"`): the client opens the
 * approval page for the person. On 2026-07-28 the call returns `input_required` with an embedded
 * URL elicitation and the approval id as `requestState`; the SDK client opens it and retries. On
 * 2025-11-25 the call fails with `URLElicitationRequiredError` (-32042) naming the page; the client
 * opens it and calls again with the same input.
 */
export const urlApprovalChannel: ApprovalChannel = Object.freeze({
  name: 'url',
  reaches(client: ClientReach) {
    return client.urlElicitation !== false;
  },
  ask(record: ApprovalRecord, url: string, client: ClientReach): ApprovalAsk {
    const message = `Approve ${record.tool} before it runs: sign in and check the request at the approval page.`;
    if (client.era === 'modern') {
      return {
        result: inputRequired({
          inputRequests: { [APPROVAL_INPUT_KEY]: inputRequired.elicitUrl({ message, url }) },
          requestState: record.id,
        }) as unknown as CallToolResult,
      };
    }
    return {
      error: new UrlElicitationRequiredError(
        [{ mode: 'url', elicitationId: record.id, url, message }],
        `approval required: ${record.tool} runs once the person approves it at ${url}`,
      ),
    };
  },
});
