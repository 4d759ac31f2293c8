/** The seed order every benchmark webhook carries: a realistic shop order of exactly 678 bytes as JSON. */
export const SEED_ORDER_BYTES = 678;

export function seedOrder(orderId = 'ord_2026_000481') {
  return {
    order_id: orderId,
    created_at: '2026-11-29T10:15:42Z',
    currency: 'EUR',
    customer_email: 'ada.lovelace@example.com',
    customer_name: 'Ada Lovelace',
    total: 71.7,
    subtotal: 66.7,
    shipping_cost: 5,
    items: [
      { sku: 'TEA-EARL-250', name: 'Earl Grey loose tea, 250 g', qty: 2, price: 12.5 },
      { sku: 'MUG-STONE-BLU', name: 'Stoneware mug, blue', qty: 1, price: 18.9 },
      { sku: 'HONEY-ACACIA-500', name: 'Acacia honey, 500 g', qty: 3, price: 7.6 },
    ],
    shipping_address: {
      name: 'Ada Lovelace',
      line1: "12 St James's Square",
      city: 'London',
      postcode: 'SW1Y 4JH',
      country: 'GB',
    },
    payment: { method: 'card', brand: 'visa', last4: '4242', status: 'captured' },
    note: 'Ring the doorbell.',
  };
}

/** The seed order as sent by the accept measurements; fails loudly if an edit changed its size. */
export function seedOrderBody(): string {
  const body = JSON.stringify(seedOrder());
  if (Buffer.byteLength(body) !== SEED_ORDER_BYTES) {
    throw new Error(`the seed order is ${Buffer.byteLength(body)} bytes, expected ${SEED_ORDER_BYTES}`);
  }
  return body;
}

/** The trigger variables that describe the seed order (STRICT validation checks every request against them). */
export const ORDER_VARIABLES = [
  { name: 'order_id', type: 'STRING', required: true },
  { name: 'customer_email', type: 'STRING', required: true },
  { name: 'total', type: 'NUMBER', required: true },
  {
    name: 'items',
    type: 'ARRAY',
    items: {
      type: 'OBJECT',
      properties: [
        { name: 'sku', type: 'STRING', required: true },
        { name: 'name', type: 'STRING' },
        { name: 'qty', type: 'NUMBER', required: true },
        { name: 'price', type: 'NUMBER', required: true },
      ],
    },
  },
  {
    name: 'shipping_address',
    type: 'OBJECT',
    properties: [
      { name: 'name', type: 'STRING', required: true },
      { name: 'line1', type: 'STRING', required: true },
      { name: 'city', type: 'STRING', required: true },
      { name: 'postcode', type: 'STRING' },
      { name: 'country', type: 'STRING', required: true },
    ],
  },
];
