// Graphile Worker task order__submit (decision-cluster runner): sends one order intent to the
// exchange, DB-first and crash-safe (src/execution/submit.ts). Queued by order__create_intent in the
// transaction that wrote the intent (job key order__submit:<order_id>). A failure (unknown outcome,
// venue unavailable, rate limit) fails the job; Graphile retries it with backoff and the retry asks
// the exchange about the client order id before anything is sent again.
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { executionContext } from '../src/execution/context.ts';
import { submitOrder } from '../src/execution/submit.ts';

const payloadSchema = z.object({ order_id: z.coerce.number().int().positive() });

const task: Task = async (raw, helpers) => {
  const { order_id } = payloadSchema.parse(raw);
  const ctx = executionContext();
  await submitOrder({ query: (text, values) => helpers.query(text, values as unknown[]) }, order_id, ctx);
};
export default task;
