/** The orders API's data: each person sees only their own. */
export interface Order {
  id: string;
  item: string;
  total: number;
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

export function ordersOf(sub: string): readonly Order[] {
  return ORDERS.get(sub) ?? [];
}

export function createOrder(sub: string, item: string): Order {
  const orders = ORDERS.get(sub) ?? [];
  const order = { id: `${sub.slice(5, 6).toUpperCase()}-${1001 + orders.length}`, item, total: 0 };
  orders.push(order);
  ORDERS.set(sub, orders);
  return order;
}
