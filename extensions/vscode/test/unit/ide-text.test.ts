// The backend's errors in VS Code's terms: from error.data's reason and field, the launch.json field to check,
// the extension's command to run, and the actions that resolve each failure.
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { forIde } from '../../src/ideText';
import type { Session } from '../../src/protocol';
import { afterStop, ports, stopped } from '../../src/sessionText';

// What the backend says to an IDE caller (no command lines), and its error.data.
const UNCHANGED = 'Nothing in the cluster was changed';

test('a missing Service: the launch.json field in a launch, the Start Session list from the palette', () => {
  const failure = { message: 'Service "no-such-service" in namespace "demo" was not found', hint: UNCHANGED,
    category: 'user', reason: 'service-not-found', field: 'target' };
  const launch = forIde(failure, 'launch');
  assert.equal(launch.text, 'Service "no-such-service" in namespace "demo" was not found. Check tether.service in ' +
    'launch.json. "Tether: Start Session…" lists the namespace\'s Services. Nothing in the cluster was changed.');
  assert.deepEqual(launch.actions, ['openLaunchJson', 'showLog']);
  const command = forIde(failure, 'command');
  assert.equal(command.text, 'Service "no-such-service" in namespace "demo" was not found. Pick one of the ' +
    'namespace\'s Services in "Tether: Start Session…". Nothing in the cluster was changed.');
  assert.deepEqual(command.actions, ['retry', 'showLog']);
});

test('a Service held by a session (your own dead one, or another\'s) offers Clean Up, not launch.json', () => {
  const message = 'Service "orders" in namespace "demo" is held by your own session 1a2b (since 2026-12-07T06:00:00Z), ' +
    'which is not one this Tether runs: if it ended without restoring the Service, clean up stale sessions; ' +
    'if it still runs elsewhere, stop it there';
  const own = forIde({ message, hint: UNCHANGED, category: 'user', reason: 'held-by-own-session' }, 'launch');
  assert.equal(own.text, `${message}. Nothing in the cluster was changed.`);
  assert.deepEqual(own.actions, ['cleanUp', 'showLog']);
  assert.deepEqual(forIde({ message: 'held by session 9f of bob@box', category: 'user',
    reason: 'held-by-other-session' }, 'command').actions, ['cleanUp', 'retry', 'showLog']);
});

test('a bad field names its launch.json key in a launch; the palette, which has no launch.json, does not', () => {
  const failure = { message: 'expose 80:web: no Service port "web" (ports: 80/http)',
    hint: 'write expose as LOCAL[:REMOTE], e.g. 12001:8080', category: 'user', reason: 'invalid-field', field: 'expose' };
  assert.equal(forIde(failure, 'launch').text, 'expose 80:web: no Service port "web" (ports: 80/http). Check ' +
    'tether.expose in launch.json. Write expose as LOCAL[:REMOTE], e.g. 12001:8080.');
  assert.doesNotMatch(forIde(failure, 'command').text, /launch\.json/);
  const ns = forIde({ message: 'namespace "nope" does not exist', hint: UNCHANGED, category: 'user',
    reason: 'namespace-not-found', field: 'namespace' }, 'command');
  assert.equal(ns.text, 'namespace "nope" does not exist. Pick or type another namespace in "Tether: Start Session…". ' +
    'Nothing in the cluster was changed.');
  // A field a launch configuration cannot set (mesh, preview) is not pointed at.
  assert.doesNotMatch(forIde({ message: 'bad matcher', category: 'user', reason: 'invalid-field',
    field: 'mesh.matchers' }, 'launch').text, /Check/);
});

test('a Service this backend\'s own session holds points at Show Sessions; a failed restore offers Recover', () => {
  const running = forIde({ message: 'Service "orders" is held by session 1a2b, which this Tether runs; stop that ' +
    'session first', hint: UNCHANGED, category: 'user', reason: 'held-by-running-session' }, 'launch');
  assert.match(running.text, /stop that session first\. "Tether: Show Sessions" lists it\. Nothing/);
  assert.deepEqual(running.actions, ['openLaunchJson', 'showLog']);
  const recover = forIde({ message: 'could not restore the Service (conflict); the shadow pod is kept so the Service ' +
    'still has an endpoint: recover orders', reason: 'needs-recover' }, 'command');
  assert.deepEqual(recover.actions, ['recover', 'retry', 'showLog']);
  assert.doesNotMatch(recover.text, /`tether/);
});

test('a reason this extension does not know yet adds nothing but is no error', () => {
  assert.deepEqual(forIde({ message: 'something new', hint: 'do the new thing', category: 'user',
    reason: 'from-the-future' }, 'launch'), { text: 'something new. Do the new thing.', actions: ['openLaunchJson', 'showLog'] });
});

test('a cluster that did not answer offers Retry; an internal error at least the log', () => {
  assert.deepEqual(forIde({ message: 'listing Services: connection refused',
    hint: 'check the network, VPN or proxy to the cluster', category: 'cluster' }, 'command').actions, ['retry', 'showLog']);
  assert.deepEqual(forIde({ message: 'boom', hint: 'see the backend log', category: 'internal' }, 'launch').actions,
    ['showLog']);
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
