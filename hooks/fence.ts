import * as z from 'zod/mini';
import { RespErrorReply, type RespClient } from './resp.ts';
import { hookKeys } from './wire.ts';

/**
 * The fence hook's wait: the decider writes what it made of the event (eventResult), the
 * executor writes each action's final result (actionResult). Both are plain keys, so the hook
 * polls them with one GET/MGET round trip per tick; the tick is short next to fence.timeoutMs.
 * Schemas mirror contracts/keys.ts (EventResultSchema, ActionFinalResultSchema).
 */
const EventResult = z.strictObject({ actionIds: z.array(z.string()), note: z.string() });
const ActionFinalResult = z.strictObject({
  result: z.enum(['changed', 'already', 'gave-up']),
  attempt: z.number().check(z.int(), z.minimum(1)),
  reason: z.optional(z.string()),
});

export type FenceOutcome = { confirmed: true; detail: string } | { confirmed: false; detail: string };

const POLL_MS = 20;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function parseJson<T>(schema: z.ZodMiniType<T>, text: string, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${what} is not JSON`);
  }
  const r = schema.safeParse(raw);
  if (!r.success)
    throw new Error(`${what} does not match its schema: ${r.error.issues.map((i) => i.message).join('; ')}`);
  return r.data;
}

export async function awaitFence(
  client: RespClient,
  opts: { prefix: string; cluster: string; eventId: string; deadlineAt: number },
): Promise<FenceOutcome> {
  client.setDeadline(opts.deadlineAt + 1000);
  const eventKey = hookKeys.eventResult(opts.prefix, opts.cluster, opts.eventId);
  let actionIds: string[] | undefined;
  let note = '';
  while (Date.now() < opts.deadlineAt) {
    if (actionIds === undefined) {
      const raw = await client.call('GET', eventKey);
      if (raw instanceof RespErrorReply) return { confirmed: false, detail: `Redis: ${raw.message}` };
      if (typeof raw === 'string') {
        const result = parseJson(EventResult, raw, `event result ${eventKey}`);
        actionIds = result.actionIds;
        note = result.note;
        if (actionIds.length === 0) return { confirmed: true, detail: `no action needed (${note})` };
        continue;
      }
    } else {
      const raw = await client.call(
        'MGET',
        ...actionIds.map((id) => hookKeys.actionResult(opts.prefix, opts.cluster, id)),
      );
      if (!Array.isArray(raw))
        return { confirmed: false, detail: 'Redis answered MGET with something else than an array' };
      const results = raw.map((r, i) =>
        typeof r === 'string' ? parseJson(ActionFinalResult, r, `action result ${actionIds?.[i]}`) : null,
      );
      const gaveUp = results.findIndex((r) => r?.result === 'gave-up');
      if (gaveUp >= 0)
        return {
          confirmed: false,
          detail: `action ${actionIds[gaveUp]} gave up: ${results[gaveUp]?.reason ?? 'no reason given'}`,
        };
      if (results.every((r) => r !== null)) {
        return {
          confirmed: true,
          detail: `${results.map((r, i) => `${actionIds?.[i]}=${r?.result}`).join(', ')} (${note})`,
        };
      }
    }
    await sleep(POLL_MS);
  }
  return {
    confirmed: false,
    detail:
      actionIds === undefined
        ? 'no decision on the event before fence.timeoutMs (is a decider running?)'
        : `actions ${actionIds.join(', ')} not finished before fence.timeoutMs`,
  };
}
