import type { OperatorOutcome } from '../workers/operator.ts';

const PGPOOL_UNREACHABLE = /connect|timed out|timeout|unreachable|ECONNREFUSED|EHOSTUNREACH|no endpoint|endpoints failed/i;

/** Prints what became of an operator event and returns the command's exit code (0, 1 or 4). */
export function reportOutcome(what: string, eventId: string, o: OperatorOutcome, json: boolean | undefined): number {
  const code = exitCodeOf(o);
  if (json) {
    process.stdout.write(`${JSON.stringify({ command: what, eventId, exitCode: code, ...o })}\n`);
    return code;
  }
  const out = (line: string) => (code === 0 ? process.stdout : process.stderr).write(`${code === 0 ? '' : 'pcpflow: '}${line}\n`);
  switch (o.kind) {
    case 'undecided':
      out(`${what}: not decided in time (is a worker with the decider role running?); event ${eventId} stays in the intake and will be decided`);
      break;
    case 'decided':
      out(`${what}: ${o.refused ? 'not done' : 'nothing to do'}: ${o.note} (audited as event ${eventId})`);
      break;
    case 'done':
      out(
        `${what}: ${o.results.map((r) => (r.result === 'already' ? 'pgpool already had it so' : 'done and confirmed by pgpool')).join(', ')} (attempt ${o.results.map((r) => r.attempt).join(', ')}; audited as event ${eventId}): ${o.note}`,
      );
      break;
    case 'gave-up':
      out(`${what}: failed: ${o.results.map((r) => `${r.actionId} ${r.result}${r.reason ? `: ${r.reason}` : ''}`).join('; ')} (the backend is in attention; see pcpflow audit --backend)`);
      break;
    case 'in-flight':
      out(`${what}: decided (${o.note}) but not finished in time; actions ${o.actionIds.join(', ')} are still running (pcpflow status)`);
      break;
  }
  return code;
}

function exitCodeOf(o: OperatorOutcome): number {
  switch (o.kind) {
    case 'decided':
      return o.refused ? 1 : 0;
    case 'done':
      return 0;
    case 'gave-up':
      return o.results.some((r) => PGPOOL_UNREACHABLE.test(r.reason ?? '')) ? 4 : 1;
    case 'undecided':
    case 'in-flight':
      return 1;
  }
}
