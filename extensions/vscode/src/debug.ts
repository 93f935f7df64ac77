// The debug-launch binding: a DebugConfigurationProvider for every debug type. A launch configuration with a
// `tether` block starts a session before the debuggee starts (the backend joins it to a live session with
// the same binding, and counts the holds), with the session's launch environment merged in. The start is
// two-phase: it returns once the session is prepared, the debuggee starts, and the backend moves the
// traffic when the debuggee listens. When that debug session ends, its hold is let go (the last one stops
// the session) unless `tether.keepSessionAfterDebug` is set. Configurations without the block are returned
// untouched.
import * as vscode from 'vscode';
import * as config from './config';
import { type TetherContext, TetherError } from './context';
import {
  applySession, debuggeeBaseEnv, INJECTED_KEY, readTetherBlock, SESSION_KEY, startParams, TetherConfigError,
} from './launchConfig';
import { portHolder, portIsFree } from './ports';
import { ErrorCodes } from './protocol';
import { startSession, stopSession } from './sessions';

export function activate(ctx: TetherContext) {
  const provider: vscode.DebugConfigurationProvider = {
    resolveDebugConfigurationWithSubstitutedVariables: (folder, debugConfiguration, token) =>
      resolve(ctx, folder, debugConfiguration, token),
  };
  ctx.subscriptions.push(
    vscode.debug.registerDebugConfigurationProvider('*', provider),
    // Each top-level debug session holds its Tether session once; the backend stops it at the last release.
    vscode.debug.onDidTerminateDebugSession((session) => {
      const id = session.configuration[SESSION_KEY] as string | undefined;
      if (!id || session.parentSession) return;
      void onTerminate(ctx, session, id);
    }),
  );
}

async function resolve(ctx: TetherContext, folder: vscode.WorkspaceFolder | undefined,
  debugConfiguration: vscode.DebugConfiguration,
  token?: vscode.CancellationToken): Promise<vscode.DebugConfiguration | undefined> {
  const raw = debugConfiguration as Record<string, unknown>;
  // Child sessions (js-debug's, with __parentId) and configurations we already resolved pass through.
  if (raw[INJECTED_KEY] || raw.__parentId) return debugConfiguration;
  let block;
  try {
    block = readTetherBlock(raw);
  } catch (error) {
    if (error instanceof TetherConfigError) {
      void vscode.window.showErrorMessage(`Tether: launch configuration "${debugConfiguration.name}": ${error.message}`);
      return undefined;
    }
    throw error;
  }
  if (!block) return debugConfiguration;
  if (debugConfiguration.request === 'attach') {
    void vscode.window.showInformationMessage(`Tether: "${debugConfiguration.name}" attaches to a process Tether ` +
      'did not start, so its "tether" block is not applied. Start a session with "Tether: Start Session…" first.');
    return debugConfiguration;
  }
  // The debuggee will listen on each LOCAL port: another program there would make it die with EADDRINUSE in
  // the Debug Console, the session waiting for nothing. (A session of ours may hold it: netns carries it in.)
  for (const local of block.expose.map((e) => Number(e.split(':')[0]))) {
    const ours = [...ctx.sessions.values()].some((s) => s.expose.some((e) => e.local === local));
    if (ours || await portIsFree(local)) continue;
    const holder = portHolder(local) ?? 'another program';
    await ctx.showError(`Tether could not start "${debugConfiguration.name}"`, new TetherError(
      `127.0.0.1:${local} is already in use by ${holder}, so the debuggee could not listen there`,
      ErrorCodes.RequestFailed, { category: 'user', hint: 'stop that program, or choose another local port in ' +
        'tether.expose (and the port your program listens on)' }), 'launch');
    return undefined;
  }
  const defaults = config.clusterDefaults();
  try {
    const session = await startSession(ctx, {
      ...startParams(block, defaults, debuggeeBaseEnv(process.env, raw.env)), awaitLocal: true });
    if (token?.isCancellationRequested) {
      // The launch was cancelled after the session started: give back the hold it took.
      void stopSession(ctx, session.id, false).catch(() => undefined);
      return undefined;
    }
    const { config: resolved, overridden } = applySession(raw, session);
    if (overridden.length) {
      ctx.log.appendLine(`[tether] "${debugConfiguration.name}": the session replaced ${overridden.join(', ')}`);
    }
    return resolved as vscode.DebugConfiguration;
  } catch (error) {
    // Never start the debuggee without its session: cancel the launch and say why.
    await ctx.showError(`Tether could not start "${debugConfiguration.name}"`, error, 'launch',
      { retry: () => vscode.debug.startDebugging(folder, debugConfiguration) });
    return undefined;
  }
}

async function onTerminate(ctx: TetherContext, debugSession: vscode.DebugSession, id: string) {
  if (config.get<boolean>('keepSessionAfterDebug')) {
    ctx.log.appendLine(`[tether] debug session "${debugSession.name}" ended; session ${id} kept (tether.keepSessionAfterDebug)`);
    return;
  }
  if (!ctx.sessions.has(id)) return;
  try {
    const final = await stopSession(ctx, id, false);
    ctx.log.appendLine(`[tether] debug session "${debugSession.name}" ended; session ${id} ${final.state}` +
      (final.state === 'active' ? ' (still held by another debug session)' : ''));
  } catch (error) {
    await ctx.showError(`Tether could not stop session ${id}`, error, 'launch');
  }
}
