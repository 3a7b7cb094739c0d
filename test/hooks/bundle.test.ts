import assert from 'node:assert/strict';
import { accessSync, constants, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { bundleHook, HOOK_BUNDLE } from '../../scripts/build-hook.ts';

describe('bin/pcpflow-hook.cjs', () => {
  it('is up to date with hooks/*.ts (rebuild: npx tsx scripts/build-hook.ts)', async () => {
    for (const f of await bundleHook()) {
      assert.ok(
        readFileSync(f.path, 'utf8') === f.text,
        `${f.path} is stale; run npx tsx scripts/build-hook.ts`,
      );
    }
  });

  it('is executable and carries neither zod classic nor ioredis', () => {
    accessSync(HOOK_BUNDLE, constants.X_OK);
    const text = readFileSync(HOOK_BUNDLE, 'utf8');
    assert.ok(!text.includes('ioredis'));
    // .superRefine exists only on zod classic's schemas; zod/mini's core has no such method.
    assert.ok(!text.includes('superRefine'));
    assert.ok(text.length < 80_000, `bundle grew to ${text.length} bytes`);
  });
});
