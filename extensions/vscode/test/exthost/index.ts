// Extension-host tests: run inside the real VS Code of test/e2e/run.js (the `extensionTestsPath` route), with the
// extension under development and the kubesim cluster of that run (demo/sample-app.json in namespace "demo").
// `run()` resolving is a pass, rejecting a failure; every wait is on an event with a deadline.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import type { TetherApi } from '../../src/extension';
import type * as proto from '../../src/protocol';

function within<T>(what: string, seconds: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<T>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${seconds} s: ${what}`)), seconds * 1000);
  })]).finally(() => clearTimeout(timer));
}

/** Resolves when `check` holds, re-checking on every session change. */
function sessionsSatisfy(api: TetherApi, what: string, check: (s: proto.Session[]) => boolean): Promise<void> {
  const ctx = api.context;
  return within(what, 180, new Promise<void>((resolve) => {
    if (check([...ctx.sessions.values()])) return resolve();
    const sub = ctx.onDidChangeSessions(() => {
      if (check([...ctx.sessions.values()])) { sub.dispose(); resolve(); }
    });
  }));
}

const tests: [string, (api: TetherApi) => Promise<void>][] = [
  ['every command of package.json is registered', async () => {
    const ext = vscode.extensions.getExtension('tether.tether')!;
    const declared = ext.packageJSON.contributes.commands.map((c: { command: string }) => c.command);
    const registered = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(declared.filter((c: string) => !registered.has(c)), []);
  }],
  ['the backend answers with the cluster of the settings', async (api) => {
    const r = await api.context.request(api.protocol.contexts, { kubeconfig: vscode.workspace.getConfiguration('tether').get<string>('kubeconfig') });
    assert.ok(r.contexts.length >= 1 && r.current, JSON.stringify(r));
    const { services } = await api.context.request(api.protocol.services, {
      kubeconfig: vscode.workspace.getConfiguration('tether').get<string>('kubeconfig'), namespace: 'demo' });
    assert.deepEqual(services.map((s) => s.name).sort(), ['frontend', 'inventory', 'orders']);
  }],
  ['Stop All Sessions with none running stops nothing', async () => {
    assert.deepEqual(await vscode.commands.executeCommand('tether.stopAllSessions'), []);
  }],
  ['a debug launch with a tether block starts a session, keeps it (setting), reuses it, and Stop All ends it', async (api) => {
    const settings = vscode.workspace.getConfiguration('tether');
    await settings.update('keepSessionAfterDebug', true, vscode.ConfigurationTarget.Global);
    const config = {
      name: 'inventory (exthost test)', type: 'node', request: 'launch', runtimeExecutable: '/usr/bin/node',
      program: `${vscode.workspace.workspaceFolders![0].uri.fsPath}/server.js`, console: 'internalConsole',
      env: { PORT: '23456', CONFIG_NAME: 'exthost' },
      tether: { namespace: 'demo', service: 'inventory', expose: '23456:http' },
    };
    const launched = async () => {
      const started = new Promise<vscode.DebugSession>((resolve) => {
        const sub = vscode.debug.onDidStartDebugSession((s) => { if (!s.parentSession) { sub.dispose(); resolve(s); } });
      });
      assert.equal(await vscode.debug.startDebugging(vscode.workspace.workspaceFolders![0], config), true);
      return within('the debug session to start', 180, started);
    };
    const first = await launched();
    const id = first.configuration.__tetherSessionId as string;
    assert.ok(id, 'the resolved configuration carries the session id');
    assert.match(first.configuration.env.HTTP_PROXY, /^http:\/\/tether:[0-9a-f]{32}@127\.0\.0\.1:\d+$/);
    // Two-phase: prepared when the debuggee started, active once it listens on 23456.
    await sessionsSatisfy(api, 'the session active', (s) => s.some((x) => x.id === id && x.state === 'active'));
    const ended = new Promise<void>((resolve) => {
      const sub = vscode.debug.onDidTerminateDebugSession((s) => { if (s.id === first.id) { sub.dispose(); resolve(); } });
    });
    await vscode.debug.stopDebugging(first);
    await within('the debug session to end', 120, ended);
    assert.equal(api.context.sessions.get(id)?.state, 'active', 'kept by tether.keepSessionAfterDebug');
    const second = await launched();
    assert.equal(second.configuration.__tetherSessionId, id, 'the second launch reuses the session');
    await vscode.debug.stopDebugging(second);
    const stopped = await vscode.commands.executeCommand<proto.Session[]>('tether.stopAllSessions');
    assert.deepEqual(stopped!.map((s) => [s.id, s.state]), [[id, 'stopped']]);
    await sessionsSatisfy(api, 'no session left', (s) => s.length === 0);
    await settings.update('keepSessionAfterDebug', undefined, vscode.ConfigurationTarget.Global);
  }],
  ['a Node launch with outbound netns runs in a network namespace of its own, and the Service\'s traffic reaches it', async (api) => {
    const folder = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const kubeconfig = vscode.workspace.getConfiguration('tether').get<string>('kubeconfig')!;
    const config = {
      name: 'inventory netns (exthost test)', type: 'node', request: 'launch', runtimeExecutable: '/usr/bin/node',
      program: `${folder}/server.js`, console: 'internalConsole', env: { PORT: '23457', CONFIG_NAME: 'netns' },
      tether: { namespace: 'demo', service: 'inventory', expose: '23457:http', outbound: 'netns' },
    };
    const started = new Promise<vscode.DebugSession>((resolve) => {
      const sub = vscode.debug.onDidStartDebugSession((s) => { if (!s.parentSession) { sub.dispose(); resolve(s); } });
    });
    assert.equal(await vscode.debug.startDebugging(vscode.workspace.workspaceFolders![0], config), true);
    const debug = await within('the debug session to start', 180, started);
    const id = debug.configuration.__tetherSessionId as string;
    assert.match(debug.configuration.runtimeExecutable, /\/tether$/);
    assert.deepEqual(debug.configuration.runtimeArgs.slice(0, 1), ['netns-exec']);
    // Active only once the debuggee listens on 23457 inside its namespace (this machine's port is the carrier).
    await sessionsSatisfy(api, 'the netns session active', (s) => s.some((x) => x.id === id && x.state === 'active'));
    const { pid } = JSON.parse(fs.readFileSync(`${folder}/out/started-netns.json`, 'utf8')) as { pid: number };
    assert.notEqual(fs.readlinkSync(`/proc/${pid}/ns/net`), fs.readlinkSync('/proc/self/ns/net'),
      'the debuggee runs in another network namespace');
    const body = execFileSync('kubectl', ['--kubeconfig', kubeconfig, 'exec', '-n', 'demo', 'client', '--', 'curl', '-s',
      '-m', '10', 'http://inventory/through-netns'], { encoding: 'utf8', timeout: 60000 });
    assert.deepEqual([JSON.parse(body).served_by, JSON.parse(body).pid], ['vscode-debuggee', pid]);
    const ended = new Promise<void>((resolve) => {
      const sub = vscode.debug.onDidTerminateDebugSession((s) => { if (s.id === debug.id) { sub.dispose(); resolve(); } });
    });
    await vscode.debug.stopDebugging(debug);
    await within('the debug session to end', 120, ended);
    await sessionsSatisfy(api, 'the netns session stopped', (s) => !s.some((x) => x.id === id && x.state !== 'stopped'));
  }],
  ['Clean Up with no stale session changes nothing and asks nothing', async () => {
    const result = await vscode.commands.executeCommand<proto.CleanResult>('tether.clean');
    assert.deepEqual(result?.actions, []);
  }],
  ['Restart Backend starts a new backend that answers', async (api) => {
    await vscode.commands.executeCommand('tether.restartBackend');
    assert.equal(api.context.state, 'running');
    const v = await api.context.request(api.protocol.version, {});
    assert.equal(v.protocolVersion, api.protocol.PROTOCOL_VERSION);
  }],
];

export async function run(): Promise<void> {
  const ext = vscode.extensions.getExtension<TetherApi>('tether.tether');
  assert.ok(ext, 'the extension is installed');
  const api = await ext.activate();
  await within('the backend to start', 120, api.context.connect());
  let failed = 0;
  for (const [name, fn] of tests) {
    try {
      await fn(api);
      console.log(`ok - ${name}`);
    } catch (error) {
      failed++;
      console.log(`not ok - ${name}: ${(error as Error).stack}`);
    }
  }
  console.log(`exthost: ${tests.length - failed} passed, ${failed} failed`);
  if (failed) throw new Error(`${failed} extension-host test(s) failed`);
}
