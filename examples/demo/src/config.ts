/**
 * Where the demo listens. Defaults are fixed so a person can point another MCP client at them;
 * each can be overridden, and `0` picks a free port (the test suite does that).
 */
export interface DemoConfig {
  host: string;
  idpPort: number;
  ordersMcpPort: number;
  billingMcpPort: number;
  ordersApiPort: number;
  billingApiPort: number;
  brokerPort: number;
  consolePort: number;
  /** Run the walk-through and exit instead of serving until interrupted. */
  once: boolean;
}

export function demoConfig(
  env: NodeJS.ProcessEnv = process.env,
  argv: readonly string[] = process.argv,
): DemoConfig {
  return {
    host: env.BATON_HOST ?? '127.0.0.1',
    idpPort: port(env.BATON_IDP_PORT, 4000, 'BATON_IDP_PORT'),
    ordersMcpPort: port(env.BATON_ORDERS_MCP_PORT, 4001, 'BATON_ORDERS_MCP_PORT'),
    billingMcpPort: port(env.BATON_BILLING_MCP_PORT, 4002, 'BATON_BILLING_MCP_PORT'),
    ordersApiPort: port(env.BATON_ORDERS_API_PORT, 4003, 'BATON_ORDERS_API_PORT'),
    billingApiPort: port(env.BATON_BILLING_API_PORT, 4004, 'BATON_BILLING_API_PORT'),
    brokerPort: port(env.BATON_BROKER_PORT, 4010, 'BATON_BROKER_PORT'),
    consolePort: port(env.BATON_CONSOLE_PORT, 4020, 'BATON_CONSOLE_PORT'),
    once: argv.includes('--once') || env.BATON_DEMO_ONCE === '1',
  };
}

function port(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) {
    throw new TypeError(`${name} must be a port number (0 for any free port), got ${JSON.stringify(value)}`);
  }
  return parsed;
}
