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
  assert.equal(present([s('prepared')]).text, "$(sync~spin) Tether: waiting for orders's local port");
  assert.equal(present([s('prepared'), s('active')]).phase, 'starting');
  assert.equal(present([s('active')]).text, '$(plug) Tether: exchange orders (demo)');
  assert.equal(present([s('reconnecting')]).text, '$(sync~spin) Tether: reconnecting orders');
  assert.equal(present([s('failed')]).text, '$(error) Tether: failed orders');
  assert.equal(present([s('stopped')]).phase, 'idle');
});

test('the most urgent session is shown, with a count and every session in the tooltip', () => {
  const p = present([s('active', 'orders'), s('failed', 'billing')]);
  assert.equal(p.text, '$(error) Tether: failed billing +1');
  assert.match(p.tooltip, /active: exchange \*\*orders\*\* in demo/);
  assert.match(p.tooltip, /failed: exchange \*\*billing\*\* in demo .* — boom/);
});
