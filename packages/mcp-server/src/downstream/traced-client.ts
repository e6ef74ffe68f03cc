import { Client } from '@modelcontextprotocol/client';

type CallToolParams = Parameters<Client['callTool']>[0];
type CallToolOptions = Parameters<Client['callTool']>[1];

/**
 * An MCP client for one downstream hop that puts the hop's W3C `traceparent` in every tool call's
 * `_meta` (as the MCP trace-context convention asks) as well as in the HTTP header, so the next
 * server links its events to this hop whichever it reads.
 */
export class TracedClient extends Client {
  readonly #traceparent: string;

  constructor(info: { name: string; version: string }, traceparent: string) {
    super(info);
    this.#traceparent = traceparent;
  }

  override callTool(params: CallToolParams, options?: CallToolOptions) {
    return super.callTool({ ...params, _meta: { ...params._meta, traceparent: this.#traceparent } }, options);
  }
}
