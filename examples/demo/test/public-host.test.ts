import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import { rawRequest } from '../../../packages/resource-server/test/fixtures/raw-http.ts';
import { demoConfig, exposureWarning } from '../src/config.ts';
import { startTopology } from '../src/topology.ts';
import { runDemoOnce } from './fixtures/run-demo.ts';

describe('BATON_HOST beyond loopback (BATON_PUBLIC_HOST)', () => {
  it('advertises 127.0.0.1 when binding every interface, unless BATON_PUBLIC_HOST says otherwise', () => {
    assert.equal(demoConfig({}, []).publicHost, '127.0.0.1');
    assert.equal(demoConfig({ BATON_HOST: '0.0.0.0' }, []).publicHost, '127.0.0.1');
    assert.equal(demoConfig({ BATON_HOST: '::' }, []).publicHost, '127.0.0.1');
    assert.equal(demoConfig({ BATON_HOST: '192.0.2.7' }, []).publicHost, '192.0.2.7');
    assert.equal(
      demoConfig({ BATON_HOST: '0.0.0.0', BATON_PUBLIC_HOST: 'demo.example' }, []).publicHost,
      'demo.example',
    );
    for (const value of [
      'http://demo.example',
      'demo.example:4000',
      '[::1]:4000',
      'a b',
      '0.0.0.0',
      'demo.',
    ]) {
      assert.throws(() => demoConfig({ BATON_PUBLIC_HOST: value }, []), /BATON_PUBLIC_HOST/, value);
    }
  });

  it('warns, naming what is exposed, only when binding beyond loopback', () => {
    assert.equal(exposureWarning({ host: '127.0.0.1', publicHost: '127.0.0.1' }), undefined);
    assert.equal(exposureWarning({ host: 'localhost', publicHost: 'localhost' }), undefined);
    const warning = exposureWarning({ host: '0.0.0.0', publicHost: '127.0.0.1' }) ?? '';
    for (const exposed of [
      'identity provider',
      'published passwords',
      'token broker',
      'MCP servers',
      'audit console',
    ])
      assert.match(warning, new RegExp(exposed));
    assert.match(warning, /advertise http:\/\/127\.0\.0\.1:<port> \(BATON_PUBLIC_HOST\)/);
    assert.doesNotMatch(warning, /walk-through is skipped/);
    assert.match(
      exposureWarning({ host: '0.0.0.0', publicHost: 'demo.example' }) ?? '',
      /walk-through is skipped/,
    );
  });

  it('npm start with BATON_HOST=0.0.0.0 warns on stderr and runs the walk-through to the end', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'baton-demo-public-'));
    try {
      const { code, stdout, stderr } = await runDemoOnce({ BATON_HOST: '0.0.0.0', BATON_DATA_DIR: dataDir });
      assert.equal(code, 0, stderr);
      assert.match(stderr, /BATON_HOST=0\.0\.0\.0 binds every demo server beyond loopback/);
      assert.doesNotMatch(stdout, /0\.0\.0\.0/, 'nothing advertises the bind-all address');
      assert.match(stdout, /identity provider +http:\/\/127\.0\.0\.1:\d+/);
      assert.match(stdout, /audit console +http:\/\/127\.0\.0\.1:\d+\//);
      assert.match(stdout, /✓ order_summary: .*INV-77/);
      assert.match(stdout, /✓ list_orders: .*B-2001/);
      assert.match(stdout, /audit: \d+ events/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a topology bound to 0.0.0.0 answers on other addresses, but only to the advertised Host', async () => {
    const demo = await startTopology(
      {
        host: '0.0.0.0',
        idpPort: 0,
        ordersMcpPort: 0,
        billingMcpPort: 0,
        ordersApiPort: 0,
        billingApiPort: 0,
        brokerPort: 0,
      },
      { audit: new MemoryAuditSink() },
    );
    try {
      const mcp = new URL(demo.urls.ordersMcp);
      assert.equal(mcp.hostname, '127.0.0.1');
      assert.equal(new URL(demo.idp.issuer).hostname, '127.0.0.1');
      assert.equal(new URL(demo.broker.issuer).hostname, '127.0.0.1');
      const metadata = (host: string) =>
        rawRequest(
          Number(mcp.port),
          `GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
          // 127.0.0.2 is loopback too, but a server bound to 127.0.0.1 alone would not answer on it.
          { address: '127.0.0.2' },
        );
      const served = await metadata(mcp.host);
      assert.equal(served.status, 200);
      assert.equal((JSON.parse(served.body) as { resource: string }).resource, demo.urls.ordersMcp);
      assert.equal(
        (await metadata(`127.0.0.2:${mcp.port}`)).status,
        403,
        'DNS-rebinding defence still holds',
      );
    } finally {
      await demo.close();
    }
  });
});
