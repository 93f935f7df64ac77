// The backend's errors in VS Code's terms: launch.json fields and the extension's commands instead of CLI flags,
// the closing sentence said once and short, and the actions that resolve each failure.
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { forIde } from '../../src/ideText';
import type { Session } from '../../src/protocol';
import { afterStop, ports, stopped } from '../../src/sessionText';

const LEFT = 'Tether left the cluster as it was; fix what the message names and start again';

test('a missing Service: launch.json field in a launch, the Start Session list from the palette', () => {
  const message = 'Service "no-such-service" in namespace "demo" was not found; `tether services -n demo` lists them';
  const launch = forIde(message, LEFT, 'launch', 'user');
  assert.equal(launch.text, 'Service "no-such-service" in namespace "demo" was not found; check tether.service in ' +
    'launch.json ("Tether: Start Session…" lists the namespace\'s Services). Nothing in the cluster was changed.');
  assert.deepEqual(launch.actions, ['openLaunchJson', 'showLog']);
  const command = forIde(message, LEFT, 'command', 'user');
  assert.match(command.text, /pick one of the namespace's Services in "Tether: Start Session…"/);
  assert.doesNotMatch(command.text, /tether services|-n demo|start again/);
  assert.deepEqual(command.actions, ['retry', 'showLog']);
});

test('a Service held by your own dead session says so and offers Clean Up', () => {
  const message = 'Service "orders" in namespace "demo" is held by your own session 1a2b (since 2026-12-07T06:00:00Z), ' +
    'which is not one this Tether runs: if it ended without restoring the Service, run `tether clean -n demo`; ' +
    'if it still runs elsewhere, stop it there';
  const text = forIde(message, LEFT, 'launch', 'user');
  assert.match(text.text, /held by your own session 1a2b .* run "Tether: Clean Up Stale Sessions"/);
  assert.doesNotMatch(text.text, /`tether clean/);
  assert.deepEqual(text.actions, ['cleanUp', 'showLog']);
});

test('flags become fields: --expose in a launch is tether.expose; a missing namespace names tether.namespace', () => {
  assert.equal(forIde('--expose 80:web: no Service port "web" (ports: 80/http)', 'write expose as LOCAL[:REMOTE], e.g. 12001:8080',
    'launch', 'user').text, 'tether.expose 80:web: no Service port "web" (ports: 80/http). Write tether.expose as ' +
    'LOCAL[:REMOTE], e.g. 12001:8080.');
  const ns = forIde('namespace "nope" does not exist; `tether namespaces` lists them (or pass -n with the right one)',
    LEFT, 'command', 'user');
  assert.equal(ns.text, 'namespace "nope" does not exist; pick or type another namespace in "Tether: Start Session…". ' +
    'Nothing in the cluster was changed.');
});

test('a cluster that did not answer offers Retry; an internal error at least the log', () => {
  assert.deepEqual(forIde('listing Services: connection refused', 'check the network, VPN or proxy to the cluster',
    'command', 'cluster').actions, ['retry', 'showLog']);
  assert.deepEqual(forIde('boom', 'see the backend log', 'launch', 'internal').actions, ['showLog']);
});

const session = (mode: Session['mode'], target = 'orders'): Session => ({
  id: 's', state: 'active', mode, context: 'dev', namespace: 'demo', target, owner: 'me', startedAt: '',
  expose: [{ local: 18099, servicePort: 80, targetPort: 8080 }],
});

test('what a stop does, asked before and confirmed after, with the ports', () => {
  assert.equal(stopped(session('exchange')), 'orders restored: its traffic goes to its pods again.');
  assert.equal(stopped(session('preview', 'orders-preview')), 'preview Service orders-preview deleted.');
  assert.match(afterStop(session('exchange')), /orders's traffic goes back to its pods in demo/);
  assert.equal(ports(session('exchange')), '127.0.0.1:18099→80');
});

test('"expose" the verb is left alone; only the field is renamed', () => {
  const verb = forIde('Service "db" has a named targetPort; give it a number, or expose a Service port with a numeric targetPort',
    undefined, 'launch', 'user').text;
  assert.match(verb, /or expose a Service port/);
  assert.match(forIde('expose is required: LOCAL[:REMOTE]', undefined, 'launch', 'user').text, /^tether\.expose is required/);
});
