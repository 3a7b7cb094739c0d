import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { LabError, LabNotFoundError } from './errors.ts';
import { LabPlanSchema, type LabPlan } from './options.ts';

/**
 * lab.json in the lab dir: the plan the lab was built from and every process it started. It is
 * written before the first process starts and after each one, so a lab that crashed half-way can
 * still be torn down by pid. No secret is ever stored here (the PCP password lives in .pcppass).
 */

export const ProcessRecordSchema = z.strictObject({
  kind: z.enum(['postgres', 'pgpool', 'redis']),
  pid: z.number().int().positive(),
  startedAt: z.iso.datetime(),
});
export type ProcessRecord = z.infer<typeof ProcessRecordSchema>;

export const LabStateSchema = z.strictObject({
  version: z.literal(1),
  phase: z.enum(['starting', 'up']),
  createdAt: z.iso.datetime(),
  plan: LabPlanSchema,
  /** Keyed by role: redis, pgpool, pg0, pg1, ... */
  processes: z.record(z.string(), ProcessRecordSchema),
});
export type LabState = z.infer<typeof LabStateSchema>;

export function readState(path: string): LabState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new LabNotFoundError(`no lab at ${path} (run: pcpflow lab up)`);
    throw new LabError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new LabError(`${path} is not valid JSON; remove the lab dir by hand after checking no lab process runs`, { cause: err });
  }
  const parsed = LabStateSchema.safeParse(raw);
  if (!parsed.success)
    throw new LabError(`${path} is not a lab state file this version understands: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/** Atomic replace, so a crash mid-write never leaves a torn state file. */
export function writeState(path: string, state: LabState): void {
  const valid = LabStateSchema.parse(state);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(valid, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, path);
}

export function newState(plan: LabPlan): LabState {
  return { version: 1, phase: 'starting', createdAt: new Date().toISOString(), plan, processes: {} };
}

export function recordProcess(path: string, role: string, kind: ProcessRecord['kind'], pid: number): void {
  const state = readState(path);
  state.processes[role] = { kind, pid, startedAt: new Date().toISOString() };
  writeState(path, state);
}

export function forgetProcess(path: string, role: string): void {
  const state = readState(path);
  delete state.processes[role];
  writeState(path, state);
}
