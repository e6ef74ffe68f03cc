/** The APIs' data: each person sees only their own orders and invoices. */
export interface Order {
  id: string;
  item: string;
  quantity?: number;
  total: number;
}

export interface Invoice {
  id: string;
  order: string;
  amount: number;
  status: 'paid' | 'due';
}

const ORDERS = new Map<string, Order[]>([
  [
    'user-alice',
    [
      { id: 'A-1001', item: 'climbing rope', total: 89.0 },
      { id: 'A-1002', item: 'head lamp', total: 34.5 },
    ],
  ],
  ['user-bob', [{ id: 'B-2001', item: 'claw hammer', total: 19.99 }]],
]);

const INVOICES = new Map<string, Invoice[]>([
  [
    'user-alice',
    [
      { id: 'INV-77', order: 'A-1001', amount: 89.0, status: 'paid' },
      { id: 'INV-78', order: 'A-1002', amount: 34.5, status: 'due' },
    ],
  ],
  ['user-bob', [{ id: 'INV-90', order: 'B-2001', amount: 19.99, status: 'due' }]],
]);

export function ordersOf(sub: string): readonly Order[] {
  return ORDERS.get(sub) ?? [];
}

export function invoicesOf(sub: string): readonly Invoice[] {
  return INVOICES.get(sub) ?? [];
}

export function createOrder(sub: string, item: string, quantity = 1): Order {
  const orders = ORDERS.get(sub) ?? [];
  const order = { id: `${sub.slice(5, 6).toUpperCase()}-${1001 + orders.length}`, item, quantity, total: 0 };
  orders.push(order);
  ORDERS.set(sub, orders);
  return order;
}
