/**
 * Child process for the exchange benchmark, pinned to one core by the parent: either the broker
 * (`broker`: memory store, `broker-embedded`: the durable embedded store, PGlite) or the practical limit — a bare node:http server doing one ES256 verify and one
 * ES256 sign per request.
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, LogAuditSink } from '@baton/audit';
import { startBroker } from '@baton/broker';
import { createCedarPolicyEngine } from '../packages/broker/src/policy/index.ts';
import { openStores } from '../packages/broker/src/stores/open-stores.ts';

const mode = process.argv[2];
const setup = (await new Promise((resolve) => process.once('message', resolve))) as {
  idpIssuer: string;
  subjectToken: string;
  client: Record<string, unknown>;
  audiences: Array<{ resource: string; scopes: string[] }>;
  policy: string;
  idpPublicJwk: Record<string, unknown>;
};

if (mode === 'bare') {
  const publicKey = createPublicKey({ key: setup.idpPublicJwk as never, format: 'jwk' });
  const { privateKey } = await import('node:crypto').then((crypto) =>
    crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }),
  );
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'at+jwt' })).toString('base64url');
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const token = new URLSearchParams(Buffer.concat(chunks).toString()).get('subject_token') ?? '';
      const [h, p, s] = token.split('.');
      const ok = verify(
        'sha256',
        Buffer.from(`${h}.${p}`),
        { key: publicKey, dsaEncoding: 'ieee-p1363' },
        Buffer.from(s ?? '', 'base64url'),
      );
      const payload = Buffer.from(JSON.stringify({ sub: 'user-alice', ok, iat: Date.now() })).toString(
        'base64url',
      );
      const signature = sign('sha256', Buffer.from(`${header}.${payload}`), {
        key: privateKey,
        dsaEncoding: 'ieee-p1363',
      });
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({ access_token: `${header}.${payload}.${signature.toString('base64url')}` }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.send?.({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token` });
} else {
  void createPrivateKey;
  const directory = mode === 'broker-embedded' ? await mkdtemp(join(tmpdir(), 'baton-bench-')) : undefined;
  const stores = directory ? await openStores({ kind: 'embedded', directory }) : undefined;
  if (stores && directory) {
    process.on('disconnect', () => {
      void stores
        .close()
        .then(() => rm(directory, { recursive: true, force: true }))
        .finally(() => process.exit(0));
    });
  }
  const broker = await startBroker({
    ...(stores ? { registry: stores.registry, adapter: stores.adapter } : {}),
    trustedIssuers: [{ issuer: setup.idpIssuer }],
    audiences: setup.audiences,
    policy: createCedarPolicyEngine({
      policies: setup.policy,
      defaults: { lifetimeSeconds: 300, maxDepth: 3 },
    }),
    audit: new LogAuditSink(createLogger({ name: 'bench', destination: { write: () => true } as never })),
    clients: [setup.client as never],
    initialAccessToken: 'bench-initial-access-token',
  });
  process.send?.({ url: `${broker.issuer}/token`, issuer: broker.issuer });
}
process.on('message', (message) => {
  if (message === 'cpu') process.send?.({ cpu: process.cpuUsage() });
});
if (mode !== 'broker-embedded') process.on('disconnect', () => process.exit(0));
