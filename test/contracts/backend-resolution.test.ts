import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { configuredAddresses, resolveAddress, resolveInCluster } from '../../contracts/backend-resolution.ts';
import { BackendResolutionError } from '../../contracts/errors.ts';
import { isHost } from '../../contracts/address-syntax.ts';
import { parseHistory } from '../../diagrams/diagram.ts';
import { initialSnapshot, resolveBackend } from '../../machines/index.ts';
import { runCli } from '../../testkit/hooks.ts';

/** All backends on one host, told apart by port: how the issue-11 lab (and many test rigs) look. */
const SHARED = ['127.0.0.1:5432', '127.0.0.1:5433', '10.0.0.9:5432'];

describe('one address-resolution rule', () => {
  it('a unique match is used, bare host or host:port, host names case-insensitively', () => {
    assert.deepEqual(resolveAddress(SHARED, '10.0.0.9'), { kind: 'match', address: '10.0.0.9:5432' });
    assert.deepEqual(resolveAddress(SHARED, '127.0.0.1:5433'), { kind: 'match', address: '127.0.0.1:5433' });
    assert.deepEqual(resolveAddress(['db1.example:5432'], 'DB1.example'), { kind: 'match', address: 'db1.example:5432' });
  });

  it('a bare host several backends share is ambiguous, with the candidates', () => {
    assert.deepEqual(resolveAddress(SHARED, '127.0.0.1'), { kind: 'ambiguous', candidates: ['127.0.0.1:5432', '127.0.0.1:5433'] });
  });

  it('an address no backend has is unknown, naming the configured ones; a configured host on another port too', () => {
    assert.deepEqual(resolveAddress(SHARED, '10.1.1.1'), { kind: 'unknown', configured: SHARED });
    assert.equal(resolveAddress(SHARED, '127.0.0.1:6000').kind, 'unknown');
  });

  it('300.1.1.1 is neither an IPv4 address nor a host name: invalid input', () => {
    assert.equal(isHost('300.1.1.1'), false);
    assert.equal(isHost('1.2.3'), false);
    assert.equal(resolveAddress(SHARED, '300.1.1.1').kind, 'invalid');
    assert.equal(isHost('db-1.example'), true);
    assert.equal(isHost('10.0.0.255'), true);
  });

  it('the decider resolves exactly as the hooks and the CLI do', () => {
    const snapshot = initialSnapshot({
      cluster: 'c1',
      backends: SHARED.map((address, i) => ({ address, role: i === 0 ? 'primary' : 'standby', attached: true })),
      policy: { detachHealthyPrimary: false },
    });
    for (const text of ['10.0.0.9', '127.0.0.1', '127.0.0.1:5433', '10.1.1.1', '300.1.1.1', 'x y']) {
      const r = resolveAddress(SHARED, text);
      assert.equal(resolveBackend(snapshot, text), r.kind === 'match' ? r.address : null, text);
    }
  });

  it('errors say what to do: the candidates and the fix, or the configured backends', () => {
    const cluster = { name: 'c1', backends: [{ address: '127.0.0.1', port: 5432 }, { address: '127.0.0.1', port: 5433 }] };
    assert.deepEqual(configuredAddresses(cluster.backends), ['127.0.0.1:5432', '127.0.0.1:5433']);
    assert.throws(
      () => resolveInCluster(cluster, '127.0.0.1', '--backend'),
      (err: unknown) =>
        err instanceof BackendResolutionError &&
        err.exitCode === 2 &&
        err.kind === 'ambiguous' &&
        /--backend: 127\.0\.0\.1 is ambiguous in cluster c1: it matches 127\.0\.0\.1:5432, 127\.0\.0\.1:5433; name one as host:port, or give each backend its own address \(EFM's %h carries no port\) with nodeId or port pinned/.test(err.message),
    );
    assert.throws(
      () => resolveInCluster(cluster, '10.0.0.1', '--backend'),
      /--backend: 10\.0\.0\.1 is not a backend of cluster c1; configured backends: 127\.0\.0\.1:5432, 127\.0\.0\.1:5433/,
    );
  });

  it('viz --backend: the rule over the backends a history names', () => {
    const history = ['127.0.0.1:5432', '127.0.0.1:5433']
      .map((backend) => JSON.stringify({ kind: 'decision', backend, from: 'up', to: 'detached' }))
      .join('\n');
    assert.equal(parseHistory(history, '127.0.0.1:5433').backend, '127.0.0.1:5433');
    assert.throws(() => parseHistory(history, '127.0.0.1'), /--backend: 127\.0\.0\.1 is ambiguous in the history: it matches 127\.0\.0\.1:5432, 127\.0\.0\.1:5433/);
    assert.throws(() => parseHistory(history, '10.0.0.1'), /10\.0\.0\.1 is not a backend of the history; backends in it: 127\.0\.0\.1:5432, 127\.0\.0\.1:5433/);
  });
});

describe('the CLI applies the rule before touching Redis or pgpool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pcpflow-resolve-'));
  const config = join(dir, 'pcpflow.json');
  writeFileSync(
    config,
    JSON.stringify({
      redis: { url: 'redis://127.0.0.1:1' },
      clusters: [
        {
          name: 'c1',
          pcp: { endpoints: [{ host: '127.0.0.1', port: 1 }], user: 'u' },
          backends: [{ address: '127.0.0.1', port: 5432 }, { address: '127.0.0.1', port: 5433 }],
        },
      ],
    }),
  );
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('audit --backend: ambiguous and unknown are exit 2 with the candidates or the configured backends', async () => {
    const ambiguous = await runCli(['audit', '--config', config, '--backend', '127.0.0.1']);
    assert.equal(ambiguous.code, 2, ambiguous.stderr);
    assert.match(ambiguous.stderr, /--backend: 127\.0\.0\.1 is ambiguous in cluster c1: it matches 127\.0\.0\.1:5432, 127\.0\.0\.1:5433/);
    const unknown = await runCli(['audit', '--config', config, '--backend', '10.0.0.1']);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /configured backends: 127\.0\.0\.1:5432, 127\.0\.0\.1:5433/);
    const invalid = await runCli(['audit', '--config', config, '--backend', '300.1.1.1']);
    assert.equal(invalid.code, 2, invalid.stderr);
  });

  it('viz --backend: ambiguous in the history is exit 2', async () => {
    const history = join(dir, 'history.jsonl');
    writeFileSync(
      history,
      ['127.0.0.1:5432', '127.0.0.1:5433'].map((backend) => JSON.stringify({ kind: 'decision', backend, from: 'up', to: 'detached' })).join('\n'),
    );
    const run = await runCli(['viz', '--format', 'mermaid', '--history', history, '--backend', '127.0.0.1']);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /is ambiguous in the history/);
  });
});
