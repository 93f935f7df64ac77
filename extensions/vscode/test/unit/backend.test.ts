// Finding the backend: the configured path is checked with --version, and a failure names the setting.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { BackendNotFound, resolveBackend } from '../../src/backend';

test('a configured binary that answers --version is used', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-backend-'));
  const fake = path.join(dir, 'tether');
  fs.writeFileSync(fake, '#!/bin/sh\necho "tether 9.9.9"\n', { mode: 0o755 });
  assert.deepEqual(await resolveBackend(fake, dir), { path: fake, version: 'tether 9.9.9' });
});

test('a configured binary that does not run is reported naming tether.path', async () => {
  await assert.rejects(resolveBackend('/nonexistent/tether', os.tmpdir()),
    (e: Error) => e instanceof BackendNotFound && /"tether.path" \(\/nonexistent\/tether\)/.test(e.message));
});

test('without a setting, the bundled bin/tether comes before PATH', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-ext-'));
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.writeFileSync(path.join(dir, 'bin', 'tether'), '#!/bin/sh\necho "tether bundled"\n', { mode: 0o755 });
  assert.equal((await resolveBackend('', dir)).version, 'tether bundled');
});
