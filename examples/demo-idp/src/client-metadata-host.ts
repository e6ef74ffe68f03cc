import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { OAuthClientMetadata } from '@modelcontextprotocol/client';
import type { LoopbackTls } from './loopback-tls.ts';

/** Where the document is served: a path, because the draft requires the `client_id` URL to have one. */
const DOCUMENT_PATH = '/oauth/client-metadata.json';

export interface ClientMetadataDocumentHost {
  /** The document's URL, which is also the client's `client_id`. */
  url: string;
  /** How often the document was fetched (an authorization server caches it). */
  readonly fetched: number;
  close(): Promise<void>;
}

/**
 * Serves a client's own Client ID Metadata Document (draft-ietf-oauth-client-id-metadata-document)
 * over https: the JSON client metadata, with `client_id` set to the very URL it is served at (an
 * authorization server refuses a document whose `client_id` differs). Binds first, so the URL (with
 * its port) is known before the document is written.
 *
 * @example
 * const host = await serveClientMetadataDocument({ tls: await loopbackTls(), metadata: provider.clientMetadata });
 * new ScriptedAgentProvider({ ..., clientMetadataUrl: host.url });
 */
export async function serveClientMetadataDocument(options: {
  tls: LoopbackTls;
  /** The client's metadata, without `client_id` (it is the document's URL). */
  metadata: OAuthClientMetadata;
  /** Interface to bind; defaults to `127.0.0.1`. */
  host?: string;
  /** Replaces the document's `client_id` (a test's way to serve a document that lies about its URL). */
  clientId?: string;
}): Promise<ClientMetadataDocumentHost> {
  const server: Server = createServer({ key: options.tls.key, cert: options.tls.cert });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `https://${host.includes(':') ? `[${host}]` : host}:${port}${DOCUMENT_PATH}`;
  const body = JSON.stringify({ ...options.metadata, client_id: options.clientId ?? url });
  let fetched = 0;
  server.on('request', (request, response) => {
    if (request.method !== 'GET' || request.url !== DOCUMENT_PATH) {
      response.writeHead(404).end();
      return;
    }
    fetched++;
    // The draft lets the authorization server cache by HTTP caching headers; a demo agent's document
    // may change at every start, so a short lifetime (oidc-provider keeps it 30 s at the least).
    response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' });
    response.end(body);
  });
  return {
    url,
    get fetched() {
      return fetched;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
