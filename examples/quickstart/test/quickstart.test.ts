/**
 * The quickstart example runs as an outside project runs it: on the packages' built JavaScript (no
 * `@baton/source` condition), and serves a real demo-IdP token with the SDK client. Needs `npm run build`
 * first (`npm test` does it).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { DEMO_USERS, type DemoIdp, obtainUserAccessToken, startDemoIdp } from '@baton/demo-idp';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

const EXAMPLE = new URL('../', import.meta.url).pathname;
const outside = { ...process.env, NODE_OPTIONS: '' };

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let idp: DemoIdp;
let child: ChildProcess;
let resource: string;

before(async () => {
  resource = `http://127.0.0.1:${await freePort()}/mcp`;
  idp = await startDemoIdp({ resources: [{ resource, scopes: ['orders:read'] }] });
  child = spawn(process.execPath, ['src/server.ts'], {
    cwd: EXAMPLE,
    env: { ...outside, ISSUER: idp.issuer, RESOURCE: resource },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the example exited with ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (String(chunk).includes('orders MCP server at')) resolve();
    });
  });
});

after(async () => {
  child?.kill();
  await idp?.close();
});

test('the example imports the built JavaScript, not the workspace sources', () => {
  const resolved = execFileSync(
    process.execPath,
    ['--input-type=module', '-e', "console.log(import.meta.resolve('@baton/mcp-server'))"],
    {
      cwd: EXAMPLE,
      env: outside,
      encoding: 'utf8',
    },
  );
  assert.match(resolved.trim(), /\/packages\/mcp-server\/dist\/index\.js$/);
});

test('a caller without a token gets the 401 challenge naming the metadata', async () => {
  const response = await fetch(resource, { method: 'POST', body: '{}' });
  assert.equal(response.status, 401);
  assert.match(response.headers.get('www-authenticate') ?? '', /resource_metadata="/);
});

test("alice's token gets alice's orders through the SDK client", async () => {
  const { username, password } = DEMO_USERS.alice;
  const token = await obtainUserAccessToken(idp, { username, password, resource, scope: 'orders:read' });
  const client = new Client({ name: 'quickstart-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(resource), {
      requestInit: { headers: { Authorization: `Bearer ${token.access_token}` } },
    }),
  );
  const result = await client.callTool({ name: 'list_orders', arguments: {} });
  await client.close();
  assert.deepEqual(result.content, [{ type: 'text', text: '["A-1","A-2"]' }]);
});
