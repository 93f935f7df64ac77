// The status bar's text for each session state: an icon and words, never colour alone.
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Session, SessionState } from '../../src/protocol';
import { present } from '../../src/statusPresentation';

const s = (state: SessionState, target = 'orders'): Session => ({
  id: target, state, mode: 'exchange', context: 'dev', namespace: 'demo', target,
  expose: [{ local: 12001, servicePort: 80, targetPort: 8080 }], owner: 'me', startedAt: '', message: state === 'failed' ? 'boom' : undefined,
});

test('idle without sessions', () => {
  const p = present([]);
  assert.equal(p.phase, 'idle');
  assert.equal(p.text, '$(debug-disconnect) Tether: idle');
});

test('each state has its own icon and words, naming the Service', () => {
  assert.equal(present([s('starting')]).text, '$(sync~spin) Tether: starting orders');
  assert.equal(present([s('prepared')]).text, '$(sync~spin) Tether: orders waiting for 127.0.0.1:12001');
  assert.equal(present([s('active')]).text, '$(plug) Tether: exchange orders (demo)');
  assert.equal(present([s('reconnecting')]).text, '$(sync~spin) Tether: reconnecting orders');
  assert.equal(present([s('failed')]).text, '$(error) Tether: failed orders');
  assert.equal(present([s('stopped')]).phase, 'idle');
});

test('a live session ranks above a failure: counts, active first, and every session in the tooltip', () => {
  const p = present([s('failed', 'inventory'), s('active', 'orders')]);
  assert.equal(p.phase, 'active');
  assert.equal(p.text, '$(plug) Tether: 1 active · 1 failed');
  assert.match(p.tooltip, /active: exchange \*\*orders\*\* in demo/);
  assert.match(p.tooltip, /failed: exchange \*\*inventory\*\* in demo .* — boom/);
  assert.ok(p.tooltip.indexOf('orders') < p.tooltip.indexOf('inventory'), 'the active session is listed first');
  // A session losing its tunnel is the news; one starting comes before failures too.
  assert.equal(present([s('active', 'a'), s('reconnecting', 'b')]).text, '$(sync~spin) Tether: 1 active · 1 reconnecting');
  assert.equal(present([s('failed', 'a'), s('prepared', 'b')]).text, '$(sync~spin) Tether: 1 starting · 1 failed');
});

test('of two failures the newer is named first in the tooltip', () => {
  const older = { ...s('failed', 'old'), startedAt: '2026-01-01T00:00:00Z' };
  const newer = { ...s('failed', 'new'), startedAt: '2026-01-02T00:00:00Z' };
  const p = present([older, newer]);
  assert.equal(p.text, '$(error) Tether: 2 failed');
  assert.ok(p.tooltip.indexOf('new') < p.tooltip.indexOf('old'));
});

test('an active session with nothing listening is not shown as healthy, alone or among others', () => {
  const silent = { ...s('active', 'inventory'), message: 'nothing answers on 127.0.0.1:10080 (connection refused); the cluster\'s clients get a reset until your process listens there' };
  assert.equal(present([silent]).text, '$(warning) Tether: inventory: nothing listens on 127.0.0.1:10080');
  const both = present([s('active', 'orders'), silent, s('failed', 'billing')]);
  assert.equal(both.phase, 'warning');
  assert.equal(both.text, '$(warning) Tether: 1 active · 1 not listening · 1 failed');
  // Another message (a forward problem) is not read as "nothing listens".
  assert.equal(present([{ ...s('active'), message: 'a connection to 127.0.0.1:5432 could not reach Service db' }]).phase, 'active');
});
