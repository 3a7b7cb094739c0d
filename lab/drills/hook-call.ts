import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../runtime/package-root.ts';

const HOOK = join(packageRoot(), 'bin', 'pcpflow-hook.cjs');

export interface HookResult {
  argv: string[];
  code: number | null;
  stderr: string;
  ms: number;
}

/**
 * Calls the real hook executable the way EFM does: a separate process, positional arguments,
 * no shell, cluster and config from the environment, and the local node for the hooks EFM calls
 * without an address.
 */
export function callHook(configPath: string, cluster: string, argv: string[], opts: { node?: string } = {}): Promise<HookResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, PCPFLOW_CONFIG: configPath, PCPFLOW_CLUSTER: cluster };
    if (opts.node) env.PCPFLOW_NODE = opts.node;
    else delete env.PCPFLOW_NODE;
    const child = spawn(process.execPath, [HOOK, ...argv], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ argv, code, stderr: stderr.trim(), ms: performance.now() - started }));
  });
}

const CLI = join(packageRoot(), 'bin', 'pcpflow.js');

export interface CliResult extends HookResult {
  stdout: string;
}

/** Runs the real `pcpflow` command as an operator would (no shell), against the lab's config. */
export function callCli(configPath: string, cluster: string, argv: string[]): Promise<CliResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, PCPFLOW_CONFIG: configPath, PCPFLOW_CLUSTER: cluster };
    const child = spawn(process.execPath, [CLI, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ argv, code, stdout: stdout.trim(), stderr: stderr.trim(), ms: performance.now() - started }));
  });
}
