// The one object that owns the backend process, its JSON-RPC connection, the output channel, the sessions the
// backend reported, and every disposable of the extension. Features receive it and never talk to the process
// themselves.
import { ChildProcess, spawn } from 'child_process';
import * as vscode from 'vscode';
import {
  CancellationTokenSource, createMessageConnection, MessageConnection, NotificationType, RequestType,
  ResponseError, StreamMessageReader, StreamMessageWriter,
} from 'vscode-jsonrpc/node';
import { resolveBackend } from './backend';
import * as config from './config';
import { ACTION_LABELS, forIde, Where } from './ideText';
import * as proto from './protocol';

export type BackendState = 'stopped' | 'starting' | 'running' | 'failed';

/** A failed request, with the backend's `error.data` when it sent one. */
/** Which Service "Tether: Recover Service…" puts back; the palette asks for each part not given. */
export interface RecoverTarget { context?: string; namespace?: string; service?: string }

export class TetherError extends Error {
  constructor(message: string, readonly code: number, readonly data: proto.ErrorData = {}) {
    super(message);
  }
  get hint(): string | undefined { return this.data.hint; }
}

export class TetherContext implements vscode.Disposable {
  readonly subscriptions: vscode.Disposable[] = [];
  readonly log: vscode.OutputChannel;
  readonly sessions = new Map<string, proto.Session>();

  private readonly sessionsChanged = new vscode.EventEmitter<proto.Session | undefined>();
  /** Fires with the changed session, or undefined when the whole list was reset (backend restart). */
  readonly onDidChangeSessions = this.sessionsChanged.event;
  private readonly stateChanged = new vscode.EventEmitter<BackendState>();
  readonly onDidChangeState = this.stateChanged.event;

  private process?: ChildProcess;
  private connection?: MessageConnection;
  private ready?: Promise<MessageConnection>;
  private crashes = 0;
  private stopping = false;
  private nextToken = 1;
  private readonly progressHandlers = new Map<proto.ProgressToken, (v: proto.WorkDoneProgressValue) => void>();
  private stateValue: BackendState = 'stopped';
  methods: string[] = [];

  constructor(readonly extension: vscode.ExtensionContext) {
    this.log = vscode.window.createOutputChannel('Tether');
    this.subscriptions.push(this.log, this.sessionsChanged, this.stateChanged);
  }

  get state(): BackendState { return this.stateValue; }

  private setState(state: BackendState) {
    this.stateValue = state;
    this.stateChanged.fire(state);
  }

  /** The connection, starting the backend when it is not running. */
  connect(): Promise<MessageConnection> {
    if (!this.ready) {
      this.ready = this.start();
      this.ready.catch(() => { this.ready = undefined; });
    }
    return this.ready;
  }

  private async start(): Promise<MessageConnection> {
    this.setState('starting');
    let backend;
    try {
      backend = await resolveBackend(config.get<string>('path'), this.extension.extensionPath);
    } catch (error) {
      this.setState('failed');
      this.log.appendLine(`[tether] ${(error as Error).message}`);
      throw error;
    }
    const args = ['serve', '--stdio', '--log-level', config.get<string>('logLevel') || 'info'];
    this.log.appendLine(`[tether] starting ${backend.path} ${args.join(' ')} (${backend.version})`);
    const child = spawn(backend.path, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.process = child;
    child.stderr!.setEncoding('utf8');
    let partial = '';
    child.stderr!.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.log.appendLine(line);
    });
    const connection = createMessageConnection(new StreamMessageReader(child.stdout!),
      new StreamMessageWriter(child.stdin!));
    this.connection = connection;
    connection.onNotification(proto.logMessage, (p) => this.log.appendLine(`[backend] ${p.message}`));
    connection.onNotification(proto.showMessage, (p) => {
      const show = p.type === proto.MessageKind.Error ? vscode.window.showErrorMessage
        : p.type === proto.MessageKind.Warning ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
      void show(`Tether: ${p.message}`);
    });
    connection.onNotification(proto.progress, (p) => this.progressHandlers.get(p.token)?.(p.value));
    connection.onNotification(proto.sessionChanged, ({ session }) => {
      if (session.state === 'stopped') this.sessions.delete(session.id);
      else this.sessions.set(session.id, session);
      // A new attempt on a Service (or a session that holds it now) replaces the failures on it still shown.
      if (session.state === 'starting' || session.state === 'active') {
        for (const [id, s] of this.sessions) {
          if (s.state === 'failed' && s.target === session.target && s.namespace === session.namespace) this.sessions.delete(id);
        }
      }
      this.sessionsChanged.fire(session);
    });
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
    child.on('error', (error) => this.log.appendLine(`[tether] backend process error: ${error.message}`));
    connection.listen();
    try {
      const result = await connection.sendRequest(proto.initialize, {
        processId: process.pid,
        clientInfo: { name: 'vscode-tether', version: this.extension.extension.packageJSON.version },
        capabilities: { window: { workDoneProgress: true } },
      });
      this.methods = result.capabilities.tether?.methods ?? [];
      const protocolVersion = result.capabilities.tether?.protocolVersion;
      if (protocolVersion !== proto.PROTOCOL_VERSION) {
        this.log.appendLine(`[tether] backend speaks protocol ${protocolVersion}, this extension ${proto.PROTOCOL_VERSION}`);
      }
      await connection.sendNotification(proto.initialized, {});
      const { sessions } = await connection.sendRequest(proto.sessionList, {});
      this.sessions.clear();
      for (const s of sessions) this.sessions.set(s.id, s);
      this.sessionsChanged.fire(undefined);
    } catch (error) {
      this.setState('failed');
      child.kill();
      throw toTetherError(error);
    }
    this.setState('running');
    return connection;
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null) {
    if (child !== this.process) return;
    this.log.appendLine(`[tether] backend exited (${signal ?? `code ${code}`})`);
    this.connection?.dispose();
    this.connection = undefined;
    this.process = undefined;
    this.ready = undefined;
    this.sessions.clear();
    this.sessionsChanged.fire(undefined);
    if (this.stopping) {
      this.setState('stopped');
      return;
    }
    const cap = config.get<number>('restartAfterCrash') ?? 4;
    if (this.crashes < cap) {
      this.crashes++;
      this.log.appendLine(`[tether] restarting the backend (${this.crashes} of ${cap})`);
      this.connect().catch((error) => this.log.appendLine(`[tether] restart failed: ${error.message}`));
    } else {
      this.setState('failed');
      void vscode.window.showErrorMessage(
        `Tether: the backend stopped ${cap + 1} times; it stays stopped until "Tether: Restart Backend".`,
        'Restart Backend', 'Open Log').then((choice) => {
        if (choice === 'Restart Backend') void vscode.commands.executeCommand('tether.restartBackend');
        if (choice === 'Open Log') this.log.show();
      });
    }
  }

  /** Forgets the failures a Clean Up resolved: those on a Service it restored without error. */
  forgetResolvedFailures(actions: proto.CleanAction[]) {
    const restored = new Set(actions.filter((a) => !a.error).map((a) => a.object.split(' ')[0]));
    let changed = false;
    for (const [id, s] of this.sessions) {
      if (s.state === 'failed' && restored.has(`service/${s.namespace}/${s.target}`)) changed = this.sessions.delete(id) || changed;
    }
    if (changed) this.sessionsChanged.fire(undefined);
  }

  /** Forgets a failed session the user has seen (the backend holds nothing for it). */
  dismiss(id: string) {
    if (this.sessions.get(id)?.state === 'failed' && this.sessions.delete(id)) this.sessionsChanged.fire(undefined);
  }

  /** Sends a request; errors come back as TetherError. */
  async request<P, R>(type: RequestType<P, R, proto.ErrorData>, params: P,
    token?: vscode.CancellationToken): Promise<R> {
    const connection = await this.connect();
    const source = new CancellationTokenSource();
    const sub = token?.onCancellationRequested(() => source.cancel());
    try {
      return await connection.sendRequest(type, params, source.token);
    } catch (error) {
      throw toTetherError(error);
    } finally {
      sub?.dispose();
      source.dispose();
    }
  }

  notify<P>(type: NotificationType<P>, params: P) {
    void this.connection?.sendNotification(type, params);
  }

  /** A fresh work-done token whose `$/progress` values go to `handler` until it is released. */
  progressToken(handler: (value: proto.WorkDoneProgressValue) => void): { token: number; release(): void } {
    const token = this.nextToken++;
    this.progressHandlers.set(token, handler);
    return { token, release: () => this.progressHandlers.delete(token) };
  }

  /** Stops the backend in order (`shutdown`, which restores the cluster, then `exit`). */
  async stop(): Promise<void> {
    const connection = this.connection;
    const child = this.process;
    if (!child) return;
    this.stopping = true;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      if (connection) {
        await withDeadline(connection.sendRequest(proto.shutdown), 120000);
        await connection.sendNotification(proto.exit);
      }
    } catch (error) {
      this.log.appendLine(`[tether] shutdown: ${(error as Error).message}`);
      child.kill('SIGTERM');
    }
    await withDeadline(exited, 30000).catch(() => child.kill('SIGKILL'));
    this.stopping = false;
  }

  async restart(): Promise<void> {
    await this.stop();
    this.crashes = 0;
    await this.connect();
  }

  /**
   * Shows a failure in the IDE's terms (launch.json fields and this extension's commands rather than CLI flags),
   * with the actions that resolve it: Clean Up Stale Sessions, Open launch.json, Retry (when `retry` is given
   * and the cluster did not answer), Show Log.
   */
  async showError(prefix: string, error: unknown, where: Where = 'command',
    { retry, recover }: { retry?: () => unknown; recover?: RecoverTarget } = {}): Promise<void> {
    const e = toTetherError(error);
    const { text, actions } = forIde({ message: e.message, ...e.data }, where);
    this.log.appendLine(`[tether] ${prefix}: ${e.message}${e.hint ? ` (${e.hint})` : ''}`);
    const offered = actions.filter((a) => a !== 'retry' || retry);
    const choice = await vscode.window.showErrorMessage(`${prefix}: ${text}`, ...offered.map((a) => ACTION_LABELS[a]));
    const action = offered.find((a) => ACTION_LABELS[a] === choice);
    if (action === 'showLog') this.log.show();
    if (action === 'cleanUp') await vscode.commands.executeCommand('tether.clean');
    if (action === 'recover') await vscode.commands.executeCommand('tether.recover', recover);
    if (action === 'retry') await retry?.();
    // VS Code's own "open launch.json": the workspace's file, whichever it is, created when there is none.
    if (action === 'openLaunchJson') await vscode.commands.executeCommand('workbench.action.debug.configure');
  }

  /** "Tether: Start Session…": a command's name as the palette shows it. */
  commandTitle(id: string): string {
    const commands = (this.extension.extension.packageJSON.contributes?.commands ?? []) as
      { command: string; title: string; category?: string }[];
    const found = commands.find((c) => c.command === id);
    return found ? `${found.category ? `${found.category}: ` : ''}${found.title}` : id;
  }

  dispose() {
    void this.stop();
    for (const d of this.subscriptions.splice(0).reverse()) d.dispose();
  }
}

export function toTetherError(error: unknown): TetherError {
  if (error instanceof TetherError) return error;
  if (error instanceof ResponseError) return new TetherError(error.message, error.code, (error.data ?? {}) as proto.ErrorData);
  return new TetherError(error instanceof Error ? error.message : String(error), proto.ErrorCodes.InternalError,
    { category: 'internal' });
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<T>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  })]).finally(() => clearTimeout(timer));
}
