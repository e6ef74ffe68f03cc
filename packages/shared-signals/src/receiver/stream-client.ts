import { BatonError } from '@baton/core';
import { checkedEndpoint } from './endpoint.ts';

/** The transmitter metadata fields a receiver uses (SSF 1.0 §7.1). */
export interface TransmitterMetadata {
  issuer: string;
  jwks_uri: string;
  configuration_endpoint: string;
  status_endpoint?: string;
  verification_endpoint?: string;
  delivery_methods_supported: string[];
}

/** A stream configuration as the transmitter answers it (SSF 1.0 §8.1.1). */
export interface StreamConfiguration {
  stream_id: string;
  iss: string;
  aud: string | string[];
  delivery: { method: string; endpoint_url?: string; authorization_header?: string };
  events_requested?: string[];
  events_delivered?: string[];
  [field: string]: unknown;
}

/** How the receiver talks to one transmitter: its token and fetch. */
export interface StreamClientOptions {
  getAccessToken: () => string | Promise<string>;
  fetch?: typeof fetch;
}

/**
 * Reads `/.well-known/ssf-configuration` of `transmitter` (its issuer URL; a path goes after the
 * well-known segment, as RFC 8414 does) and checks that the metadata names that same issuer, so one
 * transmitter cannot pose as another. The transmitter and every endpoint its metadata names must be
 * https (plain http only on loopback).
 *
 * @example
 * const metadata = await discoverTransmitter('https://broker.example');
 */
export async function discoverTransmitter(
  transmitter: string | URL,
  options: { fetch?: typeof fetch } = {},
): Promise<TransmitterMetadata> {
  const issuer = checkedEndpoint(transmitter, 'the transmitter');
  const path = issuer.pathname === '/' ? '' : issuer.pathname.replace(/\/$/, '');
  const url = new URL(`/.well-known/ssf-configuration${path}`, issuer);
  const response = await (options.fetch ?? fetch)(url, {
    headers: { accept: 'application/json' },
    redirect: 'error',
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) throw new StreamRequestFailed('transmitter metadata', response.status);
  const metadata = (await response.json()) as Record<string, unknown>;
  const expected = issuer.href.replace(/\/$/, '');
  if (typeof metadata.issuer !== 'string' || metadata.issuer.replace(/\/$/, '') !== expected) {
    throw new StreamRequestFailed('transmitter metadata', response.status, 'it names another issuer');
  }
  // The receiver sends its token (and, for push, its authorization secret) to these and takes the
  // SET signing keys from `jwks_uri`: each must be https, as the transmitter itself is.
  const endpoint = (field: string): string | undefined => {
    const value = metadata[field];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') {
      throw new StreamRequestFailed('transmitter metadata', response.status, `${field} is not a URL`);
    }
    try {
      return checkedEndpoint(value, field).href;
    } catch (error) {
      throw new StreamRequestFailed('transmitter metadata', response.status, (error as Error).message);
    }
  };
  const jwksUri = endpoint('jwks_uri');
  const configurationEndpoint = endpoint('configuration_endpoint');
  if (!jwksUri) throw new StreamRequestFailed('transmitter metadata', response.status, 'no jwks_uri');
  if (!configurationEndpoint) {
    throw new StreamRequestFailed('transmitter metadata', response.status, 'no configuration_endpoint');
  }
  const statusEndpoint = endpoint('status_endpoint');
  const verificationEndpoint = endpoint('verification_endpoint');
  const supported = metadata.delivery_methods_supported;
  return {
    issuer: metadata.issuer,
    jwks_uri: jwksUri,
    configuration_endpoint: configurationEndpoint,
    ...(statusEndpoint ? { status_endpoint: statusEndpoint } : {}),
    ...(verificationEndpoint ? { verification_endpoint: verificationEndpoint } : {}),
    delivery_methods_supported: Array.isArray(supported)
      ? supported.filter((method): method is string => typeof method === 'string')
      : [],
  };
}

/** Creates a stream (SSF 1.0 §8.1.1.1): `POST configuration_endpoint`. */
export async function createStream(
  metadata: TransmitterMetadata,
  request: {
    delivery: { method: string; endpoint_url?: string; authorization_header?: string };
    events_requested: readonly string[];
    description?: string;
  },
  options: StreamClientOptions,
): Promise<StreamConfiguration> {
  const response = await call(options, metadata.configuration_endpoint, 'POST', request);
  if (response.status !== 201 && response.status !== 200) {
    throw new StreamRequestFailed('stream creation', response.status);
  }
  return streamOf(await response.json());
}

/** Reads a stream back (SSF 1.0 §8.1.1.2): `GET configuration_endpoint?stream_id=`. */
export async function readStream(
  metadata: TransmitterMetadata,
  streamId: string,
  options: StreamClientOptions,
): Promise<StreamConfiguration> {
  const url = withStream(metadata.configuration_endpoint, streamId);
  const response = await call(options, url, 'GET');
  if (!response.ok) throw new StreamRequestFailed('stream read', response.status);
  const body = await response.json();
  // A transmitter may answer a list of streams.
  return streamOf(Array.isArray(body) ? body.find((stream) => stream?.stream_id === streamId) : body);
}

/** Deletes a stream (SSF 1.0 §8.1.1.5): `DELETE configuration_endpoint?stream_id=`. */
export async function deleteStream(
  metadata: TransmitterMetadata,
  streamId: string,
  options: StreamClientOptions,
): Promise<void> {
  const response = await call(options, withStream(metadata.configuration_endpoint, streamId), 'DELETE');
  await response.body?.cancel().catch(() => {});
  if (!response.ok && response.status !== 404)
    throw new StreamRequestFailed('stream deletion', response.status);
}

/**
 * Asks the transmitter for a verification event (SSF 1.0 §8.1.4.2) carrying `state`: on a quiet
 * stream, the event proves the transmitter is alive and delivering.
 */
export async function requestVerification(
  metadata: TransmitterMetadata,
  streamId: string,
  state: string,
  options: StreamClientOptions,
): Promise<void> {
  if (!metadata.verification_endpoint) throw new TypeError('the transmitter has no verification_endpoint');
  const response = await call(options, metadata.verification_endpoint, 'POST', {
    stream_id: streamId,
    state,
  });
  await response.body?.cancel().catch(() => {});
  if (!response.ok) throw new StreamRequestFailed('verification request', response.status);
}

/**
 * A stream management request the transmitter refused, or answered with something unusable (then
 * `status` is the 2xx it came with). Carries the status only, never a body or token.
 */
export class StreamRequestFailed extends BatonError<'ERR_SSF_STREAM_REQUEST_FAILED'> {
  override name = 'StreamRequestFailed';
  readonly status: number;
  constructor(what: string, status: number, why = `HTTP ${status}`) {
    super('ERR_SSF_STREAM_REQUEST_FAILED', `${what} failed: ${why}`);
    this.status = status;
  }
}

async function call(
  options: StreamClientOptions,
  url: string,
  method: string,
  body?: unknown,
): Promise<Response> {
  const token = await options.getAccessToken();
  return (options.fetch ?? fetch)(url, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    redirect: 'error',
    signal: AbortSignal.timeout(10_000),
  });
}

function withStream(endpoint: string, streamId: string): string {
  const url = new URL(endpoint);
  url.searchParams.set('stream_id', streamId);
  return url.href;
}

function streamOf(value: unknown): StreamConfiguration {
  const stream = value as Partial<StreamConfiguration> | undefined;
  if (
    typeof stream !== 'object' ||
    stream === null ||
    typeof stream.stream_id !== 'string' ||
    typeof stream.delivery !== 'object' ||
    stream.delivery === null ||
    typeof stream.delivery.method !== 'string'
  ) {
    throw new StreamRequestFailed('stream configuration', 200, 'not a stream configuration');
  }
  return stream as StreamConfiguration;
}
