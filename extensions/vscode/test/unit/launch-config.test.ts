// The launch-configuration merge: reading the `tether` block, start params from block + settings, session reuse,
// and the environment merge into each debug type's shape.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  applySession, BLOCK_KEYS, debuggeeBaseEnv, INJECTED_KEY, mergeEnv, readTetherBlock, SESSION_KEY, startParams,
  TetherConfigError,
} from '../../src/launchConfig';
import type { Session } from '../../src/protocol';
import { substitute } from '../../src/substitute';
import { EXTENSION_ROOT } from './paths';

const session = (over: Partial<Session> = {}): Session => ({
  id: 's-1', state: 'active', mode: 'exchange', context: 'dev', namespace: 'feature-42', target: 'orders',
  expose: [{ local: 12001, servicePort: 80, targetPort: 8080 }], owner: 'me@host', startedAt: '2025-01-01T00:00:00Z',
  launch: {
    env: { HTTP_PROXY: 'http://127.0.0.1:4000', NO_PROXY: 'localhost,127.0.0.1', JAVA_TOOL_OPTIONS: '-Dhttp.proxyHost=127.0.0.1' },
    unset: ['SOCKS_PROXY'], notes: [],
  },
  ...over,
});

test('a configuration without a tether block is not read', () => {
  assert.equal(readTetherBlock({ type: 'node', request: 'launch' }), undefined);
});

test('the block of the issue is read with its defaults', () => {
  const block = readTetherBlock({ tether: { namespace: 'feature-42', mode: 'exchange', service: 'orders', expose: '12001:8080' } });
  assert.deepEqual(block, { service: 'orders', expose: ['12001:8080'], mode: 'exchange', namespace: 'feature-42',
    context: undefined, kubeconfig: undefined, strategy: undefined, image: undefined });
});

test('expose accepts a number, a comma list and an array', () => {
  assert.deepEqual(readTetherBlock({ tether: { service: 'a', expose: 8080 } })!.expose, ['8080']);
  assert.deepEqual(readTetherBlock({ tether: { service: 'a', expose: '1:http, 2:9' } })!.expose, ['1:http', '2:9']);
  assert.deepEqual(readTetherBlock({ tether: { service: 'a', expose: ['1', '2:grpc'] } })!.expose, ['1', '2:grpc']);
});

test('bad blocks are refused with a message naming the field', () => {
  const bad: [unknown, RegExp][] = [
    ['orders', /must be an object/],
    [{ expose: '1' }, /tether.service is required/],
    [{ service: 'a' }, /tether.expose is required/],
    [{ service: 'a', expose: 'x:1' }, /tether.expose "x:1"/],
    [{ service: 'a', expose: '1', mode: 'mesh' }, /tether.mode "mesh"/],
    [{ service: 'a', expose: '1', strategy: 'move' }, /tether.strategy/],
    [{ service: 'a', expose: '70000:http' }, /tether.expose "70000:http": the local port must be between 1 and 65535/],
    [{ service: 'a', expose: '0' }, /tether.expose "0": the local port must be between 1 and 65535/],
    [{ service: 'a', expose: '1', outbound: 'tun' }, /tether.outbound "tun": expected "proxy", "preload", "netns" or "auto"/],
    [{ service: 'a', expose: '1', servce: 'b' }, /tether.servce is not a known field/],
    [{ service: 7, expose: '1' }, /tether.service: expected a string/],
  ];
  for (const [tether, message] of bad) assert.throws(() => readTetherBlock({ tether }), (e: Error) =>
    e instanceof TetherConfigError && message.test(e.message), JSON.stringify(tether));
});

test('outbound netns is for Node launches; other debug types are told to use preload', () => {
  assert.equal(readTetherBlock({ type: 'node', tether: { service: 'a', expose: '1', outbound: 'netns' } })!.outbound, 'netns');
  assert.equal(readTetherBlock({ type: 'pwa-node', tether: { service: 'a', expose: '1', outbound: 'auto' } })!.outbound, 'auto');
  for (const type of ['debugpy', 'go', 'java', 'cppdbg']) {
    assert.throws(() => readTetherBlock({ type, tether: { service: 'a', expose: '1', outbound: 'netns' } }),
      (e: Error) => e instanceof TetherConfigError && e.message.includes(`not with type "${type}"`) &&
        e.message.includes('Use "preload"'), type);
  }
});

test('applySession with a netns session: the runtime starts behind the wrapper, its own arguments after it', () => {
  const wrapper = ['/opt/tether/bin/tether', 'netns-exec', '--control', '/run/user/1000/tether/netns-s-1.sock', '--'];
  const netns = session({ outbound: 'netns', launch: { env: { TETHER_NETNS_CONTROL: wrapper[3] }, unset: [], notes: [], wrapper } });
  const custom = applySession({ type: 'node', runtimeExecutable: '/usr/bin/node', runtimeArgs: ['--enable-source-maps'] },
    netns).config;
  assert.equal(custom.runtimeExecutable, wrapper[0]);
  assert.deepEqual(custom.runtimeArgs, [...wrapper.slice(1), '/usr/bin/node', '--enable-source-maps']);
  const plain = applySession({ type: 'node' }, netns).config;
  assert.deepEqual(plain.runtimeArgs, [...wrapper.slice(1), 'node']);
  // Without a wrapper (proxy, preload) the runtime is left alone.
  assert.equal(applySession({ type: 'node', runtimeExecutable: '/usr/bin/node' }, session()).config.runtimeExecutable,
    '/usr/bin/node');
});

test('outbound preload is passed to the session start', () => {
  const block = readTetherBlock({ tether: { service: 'orders', expose: '1', outbound: 'preload' } })!;
  assert.equal(block.outbound, 'preload');
  assert.equal(startParams(block, {}).outbound, 'preload');
  assert.equal(startParams(readTetherBlock({ tether: { service: 'orders', expose: '1' } })!, {}).outbound, undefined);
});

test('start params: the block wins over settings, empty settings are left out', () => {
  const block = readTetherBlock({ tether: { service: 'orders', expose: '12001:8080', namespace: 'ns1', strategy: 'scale' } })!;
  assert.deepEqual(startParams(block, { kubeconfig: '/k', context: '', namespace: 'other' }), {
    mode: 'exchange', target: 'orders', expose: ['12001:8080'], kubeconfig: '/k', namespace: 'ns1',
    exchange: { strategy: 'scale' } });
  const bare = readTetherBlock({ tether: { service: 'orders', expose: '1' } })!;
  assert.deepEqual(startParams(bare, { context: 'dev', namespace: 'team' }),
    { mode: 'exchange', target: 'orders', expose: ['1'], context: 'dev', namespace: 'team' });
});

test('the base environment is the IDE\'s under the configuration\'s env, and goes to the backend', () => {
  const base = debuggeeBaseEnv({ PATH: '/bin', NO_PROXY: 'corp.example', GONE: 'x', UNDEF: undefined },
    { NO_PROXY: 'corp.example,.internal', GONE: null, PORT: 8080, EXTRA: 'y' });
  assert.deepEqual(base, { PATH: '/bin', NO_PROXY: 'corp.example,.internal', EXTRA: 'y' });
  assert.deepEqual(debuggeeBaseEnv({ A: '1' }, undefined), { A: '1' });
  const block = readTetherBlock({ tether: { service: 'orders', expose: '1' } })!;
  assert.deepEqual(startParams(block, {}, base).baseEnv, base);
});

test('env merge: session wins for proxies, lists are joined, options appended, unsets applied', () => {
  const { env, overridden } = mergeEnv({ HTTP_PROXY: 'http://corp:3128', NO_PROXY: 'corp.local,localhost',
    JAVA_TOOL_OPTIONS: '-Xmx1g', SOCKS_PROXY: 'x', MINE: 'kept', GONE: undefined },
  session().launch!, false);
  assert.deepEqual(env, { HTTP_PROXY: 'http://127.0.0.1:4000', NO_PROXY: 'corp.local,localhost,127.0.0.1',
    JAVA_TOOL_OPTIONS: '-Xmx1g -Dhttp.proxyHost=127.0.0.1', MINE: 'kept' });
  assert.deepEqual(overridden, ['HTTP_PROXY']);
});

test('env merge: unset becomes null for adapters that read null as removal', () => {
  const { env } = mergeEnv(undefined, session().launch!, true);
  assert.equal(env.SOCKS_PROXY, null);
  assert.equal(env.HTTP_PROXY, 'http://127.0.0.1:4000');
});

test('applySession: node gets env with nulls, cppdbg an environment array; both are marked; input untouched', () => {
  const node = { type: 'node', request: 'launch', name: 'n', env: { A: '1' }, tether: { service: 'orders', expose: '1' } };
  const { config } = applySession(node, session());
  assert.deepEqual(config.env, { A: '1', HTTP_PROXY: 'http://127.0.0.1:4000', NO_PROXY: 'localhost,127.0.0.1',
    JAVA_TOOL_OPTIONS: '-Dhttp.proxyHost=127.0.0.1', SOCKS_PROXY: null });
  assert.equal(config[SESSION_KEY], 's-1');
  assert.equal(config[INJECTED_KEY], true);
  assert.deepEqual(node.env, { A: '1' });

  const cpp = { type: 'cppdbg', request: 'launch', environment: [{ name: 'NO_PROXY', value: 'corp' }] };
  const out = applySession(cpp, session()).config.environment as { name: string; value: string }[];
  assert.deepEqual(out.find((e) => e.name === 'NO_PROXY'), { name: 'NO_PROXY', value: 'corp,localhost,127.0.0.1' });
  assert.ok(out.some((e) => e.name === 'HTTP_PROXY'));
  assert.ok(!out.some((e) => e.name === 'SOCKS_PROXY'));
  assert.equal((applySession({ type: 'python' }, session()).config.env as Record<string, unknown>).SOCKS_PROXY, undefined);
});

test('the launch.json schema lists exactly the block keys, and the workspace schema embeds the same block', () => {
  const launch = JSON.parse(fs.readFileSync(path.join(EXTENSION_ROOT, 'schemas', 'launch-tether.schema.json'), 'utf8'));
  const block = launch.properties.configurations.items.properties.tether;
  assert.deepEqual(Object.keys(block.properties).sort(), [...BLOCK_KEYS].sort());
  assert.deepEqual(block.required, ['service', 'expose']);
  const ws = JSON.parse(fs.readFileSync(path.join(EXTENSION_ROOT, 'schemas', 'workspace-tether.schema.json'), 'utf8'));
  assert.deepEqual(ws.properties.launch.properties.configurations.items.properties.tether, block);
  const pkg = JSON.parse(fs.readFileSync(path.join(EXTENSION_ROOT, 'package.json'), 'utf8'));
  assert.ok(pkg.contributes.jsonValidation.some((v: { fileMatch: string; url: string }) =>
    v.fileMatch === 'launch.json' && v.url === './schemas/launch-tether.schema.json'));
});

test('settings substitution', () => {
  const vars = { workspaceFolder: '/ws', userHome: '/home/me', env: { KC: '/k/config' } };
  assert.equal(substitute('${workspaceFolder}/bin/tether', vars), '/ws/bin/tether');
  assert.equal(substitute('${userHome}/.kube/${env:NOPE}x', vars), '/home/me/.kube/x');
  assert.equal(substitute('${env:KC}', vars), '/k/config');
  assert.equal(substitute('${unknown}', vars), '${unknown}');
});
