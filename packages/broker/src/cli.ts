#!/usr/bin/env node
/**
 * `baton-broker [--config broker.json]` starts the broker; `baton-broker rotate-key --config …`
 * rotates its signing key. Configuration: the JSON file (default `$BATON_BROKER_CONFIG` or
 * `broker.json`) plus BATON_BROKER_* environment overrides.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger, LogAuditSink } from '@baton/audit';
import { onShutdownSignal } from '@baton/resource-server/operations';
import type { ClientMetadata } from 'oidc-provider';
import { startBroker } from './broker.ts';
import { loadBrokerConfig } from './config.ts';
import { createCedarPolicyEngine } from './policy/index.ts';
import { loadSigningKeys, rotateSigningKeys } from './signing-keys.ts';
import { openStores } from './stores/open-stores.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
});

if (values.help) {
  process.stdout.write('usage: baton-broker [start|rotate-key] [--config broker.json]\n');
  process.exit(0);
}

const configFile = values.config ?? process.env.BATON_BROKER_CONFIG ?? 'broker.json';
const logger = createLogger({ name: 'baton-broker' });
try {
  const { config, baseDir } = await loadBrokerConfig(configFile);
  const keysFile = resolve(baseDir, config.signingKeysFile);
  if (positionals[0] === 'rotate-key') {
    const keys = await rotateSigningKeys(keysFile);
    logger.info(
      { kid: keys[0]!.kid, kept: keys.length - 1 },
      'signing key rotated; restart instances one by one',
    );
    process.exit(0);
  }
  // The keys first: a bad key file refuses to start before the store's data directory is touched.
  const signingKeys = await loadSigningKeys(keysFile);
  const stores = await openStores(config.store);
  const broker = await startBroker({
    ...(config.issuer ? { issuer: config.issuer } : {}),
    host: config.host,
    port: config.port,
    trustedIssuers: config.trustedIssuers,
    audiences: config.audiences,
    policy: createCedarPolicyEngine({
      policies: await readFile(resolve(baseDir, config.policy.file), 'utf8'),
      defaults: config.policy.defaults,
    }),
    audit: new LogAuditSink(logger),
    clients: config.clients as ClientMetadata[],
    ...(config.registration.initialAccessToken
      ? { initialAccessToken: config.registration.initialAccessToken }
      : {}),
    // loadBrokerConfig has checked that every approval has its token.
    registrationApprovals: config.registration.approvals.map((approved) => ({
      ...approved,
      initialAccessToken: approved.initialAccessToken!,
    })),
    fetchAllowedHosts: config.fetchAllowedHosts,
    allowAnonymousRegistration: config.registration.allowAnonymous,
    signingKeys,
    operations: { readiness: stores.checks },
    registry: stores.registry,
    adapter: stores.adapter,
    maxLifetimeSeconds: config.maxLifetimeSeconds,
    adminClients: config.adminClients,
    ...(config.sharedSignals
      ? {
          sharedSignals: {
            ...(config.sharedSignals.receivers ? { receivers: config.sharedSignals.receivers } : {}),
            pushAllowedHosts: config.sharedSignals.pushAllowedHosts,
            store: await stores.sharedSignalsStore(),
          },
        }
      : {}),
    ...(config.identityProviderSignals ? { identityProviderSignals: config.identityProviderSignals } : {}),
    ...(config.scim
      ? { scim: { store: await stores.scimStore(), approvedClients: config.scim.approvedClients } }
      : {}),
    ...(config.transactionTokens ? { transactionTokens: config.transactionTokens } : {}),
    ...(config.identityAssertionGrants ? { identityAssertionGrants: config.identityAssertionGrants } : {}),
    ...(config.identityChaining ? { identityChaining: config.identityChaining } : {}),
    ...(config.clientIdMetadataDocuments
      ? { clientIdMetadataDocuments: config.clientIdMetadataDocuments }
      : {}),
    // Sender-constrained tokens: HTTPS (and mutual TLS with client CAs), DPoP nonces.
    ...(config.tls
      ? {
          tls: {
            cert: await readFile(resolve(baseDir, config.tls.certFile), 'utf8'),
            key: await readFile(resolve(baseDir, config.tls.keyFile), 'utf8'),
            ...(config.tls.clientCaFile
              ? { clientCa: await readFile(resolve(baseDir, config.tls.clientCaFile), 'utf8') }
              : {}),
            ...(config.tls.clientCertificates ? { clientCertificates: config.tls.clientCertificates } : {}),
          },
        }
      : {}),
    ...(config.dpop ? { dpop: config.dpop } : {}),
    logger,
    onError: (error) =>
      logger.error(
        { err_name: (error as Error)?.name, err_message: (error as Error)?.message },
        'broker error',
      ),
  }).catch(async (error: unknown) => {
    // Releases the embedded store's data directory (and its lock) before the process exits.
    await stores.close().catch(() => {});
    throw error;
  });
  // Before 'broker ready': a process manager may signal as soon as it reads that line.
  // SIGTERM/SIGINT: stop accepting, let requests in flight finish, then flush the audit log and close the stores.
  onShutdownSignal(logger, [
    { name: 'http', run: () => broker.close() },
    { name: 'audit', run: () => new Promise<void>((done) => logger.flush(() => done())) },
    { name: 'stores', run: () => stores.close() },
  ]);
  logger.info({ issuer: broker.issuer, url: broker.url.origin, store: config.store.kind }, 'broker ready');
} catch (error) {
  logger.error({ err_message: (error as Error).message }, 'broker failed to start');
  process.exit(1);
}
