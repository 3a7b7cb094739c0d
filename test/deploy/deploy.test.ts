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
  const r = spawnSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const resolved = parse(r.stdout) as { services: Record<string, { healthcheck?: unknown; deploy?: { replicas?: number }; environment?: Record<string, string> }> };
  assert.ok(resolved.services.redis?.healthcheck, 'redis has a healthcheck');
  const worker = resolved.services.worker;
  assert.ok(worker?.healthcheck, 'worker has a healthcheck');
  assert.ok((worker?.deploy?.replicas ?? 1) >= 2, 'the worker runs as a fleet');
  assert.equal(worker?.environment?.PCPFLOW_REDIS_URL, 'redis://redis:6379');
});

test('the example configs are valid pcpflow configs that a worker would serve (loopback, or auth)', () => {
  for (const file of [join(root, 'deploy', 'pcpflow.example.yaml'), join(root, 'deploy', 'docker', 'pcpflow.yaml')]) {
    const parsed = ConfigSchema.safeParse(parse(readFileSync(file, 'utf8')));
    assert.ok(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues));
    assert.deepEqual(servingProblems(parsed.data, file, {}), []);
    // Opened to the network as the comments describe, it needs the token they name.
    const exposed = { ...parsed.data, http: { ...parsed.data.http, host: '0.0.0.0' } };
    assert.match(servingProblems(exposed, file, {}).join('\n'), /beyond loopback without authentication/);
  }
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
