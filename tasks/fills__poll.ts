// Graphile Worker task fills__poll: pulls the venue's fills after the stored cursor and books them
// (src/execution/fills.ts). Queued "now" after each acknowledgement (job key fills__poll); the
// order__reconcile cadence polls too, so no fill waits longer than one reconcile cycle.
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { executionContext } from '../src/execution/context.ts';
import { pollFills } from '../src/execution/fills.ts';

const payloadSchema = z.object({}).passthrough();

const task: Task = async (raw, helpers) => {
  payloadSchema.parse(raw ?? {});
  await pollFills({ query: (text, values) => helpers.query(text, values as unknown[]) }, executionContext());
};
export default task;
