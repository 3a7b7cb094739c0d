import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { ConfigSchema } from '../../contracts/config.ts';
import { servingProblems } from '../../runtime/config.ts';

const root = join(import.meta.dirname, '..', '..');

test('docker-compose.yml is valid for docker-compose and runs Redis plus a worker fleet with health checks', () => {
  // Without a console token the fleet (which listens beyond loopback) is refused up front.
  const { PCPFLOW_CONSOLE_TOKEN: _unset, ...envWithout } = process.env;
  const refused = spawnSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config'], { encoding: 'utf8', env: envWithout });
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /PCPFLOW_CONSOLE_TOKEN/);
  const r = spawnSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config'], {
    encoding: 'utf8',
    env: { ...process.env, PCPFLOW_CONSOLE_TOKEN: 'a-long-random-test-token' },
  });
  assert.equal(r.status, 0, r.stderr);
  const resolved = parse(r.stdout) as { services: Record<string, { healthcheck?: unknown; deploy?: { replicas?: number }; environment?: Record<string, string> }> };
  assert.ok(resolved.services.redis?.healthcheck, 'redis has a healthcheck');
  const worker = resolved.services.worker;
  assert.ok(worker?.healthcheck, 'worker has a healthcheck');
  assert.ok((worker?.deploy?.replicas ?? 1) >= 2, 'the worker runs as a fleet');
  assert.equal(worker?.environment?.PCPFLOW_REDIS_URL, 'redis://redis:6379');
});

test('the example config is a valid pcpflow config, and binds beyond loopback only with a console token', () => {
  const parsed = ConfigSchema.safeParse(parse(readFileSync(join(root, 'deploy', 'pcpflow.example.yaml'), 'utf8')));
  assert.ok(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues));
  assert.deepEqual(servingProblems(parsed.data, 'example', { PCPFLOW_CONSOLE_TOKEN: 'a-long-random-test-token' }), []);
  assert.match(servingProblems(parsed.data, 'example', {}).join('\n'), /http\.token: environment variable PCPFLOW_CONSOLE_TOKEN is not set/);
});

test('systemd units start the worker and the outbox timer as an unprivileged user', () => {
  const worker = readFileSync(join(root, 'deploy', 'pcpflow-worker.service'), 'utf8');
  assert.match(worker, /^User=pcpflow$/m);
  assert.match(worker, /^ExecStart=\/usr\/bin\/pcpflow worker$/m);
  const timer = readFileSync(join(root, 'deploy', 'pcpflow-outbox.timer'), 'utf8');
  assert.match(timer, /^(OnUnitActiveSec|OnUnitInactiveSec|OnCalendar)=/m);
  const efm = readFileSync(join(root, 'deploy', 'efm.properties.snippet'), 'utf8');
  for (const hook of ['load.balancer.attach', 'load.balancer.detach', 'post.promotion', 'fence', 'resumed']) assert.match(efm, new RegExp(`^script\\.${hook.replace(/\./g, '\\.')}=`, 'm'));
});
