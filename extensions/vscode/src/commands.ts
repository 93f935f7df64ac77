// The command palette: Start session…, Stop session, Stop all sessions, Show sessions, Select
// context/namespace, Show log, Restart backend. (Clean up lives in clean.ts, the session menu in sessionMenu.ts.)
import * as vscode from 'vscode';
import * as config from './config';
import type { TetherContext } from './context';
import { pickContext, pickNamespace, pickPorts, pickService } from './pickers';
import * as proto from './protocol';
import { announceStart, startSession, stopSession } from './sessions';
import { afterStop, describe, ports } from './sessionText';

export function activate(ctx: TetherContext) {
  const register = (id: string, fn: (...args: any[]) => unknown) =>
    ctx.subscriptions.push(vscode.commands.registerCommand(id, async (...args: any[]) => {
      try {
        return await fn(...args);
      } catch (error) {
        await ctx.showError(`${ctx.commandTitle(id)} failed`, error, 'command',
          { retry: () => vscode.commands.executeCommand(id, ...args) });
        return undefined;
      }
    }));

  register('tether.startSession', async () => {
    const cluster = config.clusterParams();
    const context = await pickContext(ctx);
    if (context === undefined) return undefined;
    const withContext = { ...cluster, context };
    const namespace = await pickNamespace(ctx, withContext);
    if (namespace === undefined) return undefined;
    const service = await pickService(ctx, withContext, namespace);
    if (!service) return undefined;
    // Only exchange can be started from here today, so there is no mode step to answer.
    const expose = await pickPorts(service);
    if (!expose) return undefined;
    // Two-phase: answered once the session is prepared; the traffic moves when the process listens.
    const session = await startSession(ctx, { ...withContext, namespace, mode: 'exchange', target: service.name,
      expose, awaitLocal: true });
    announceStart(ctx, session);
    return session;
  });

  register('tether.stopSession', async (id?: string) => {
    const target = id ?? await pickSession(ctx, 'Tether: stop which session?');
    if (!target) return undefined;
    return stopSession(ctx, target);
  });

  register('tether.stopAllSessions', async () => {
    // Failed sessions hold nothing to stop (their failure was said when it happened).
    const ids = [...ctx.sessions.values()].filter((s) => s.state !== 'failed').map((s) => s.id);
    return Promise.all(ids.map((id) => stopSession(ctx, id)));
  });

  register('tether.showSessions', async () => {
    const { sessions } = await ctx.request(proto.sessionList, {});
    if (sessions.length === 0) {
      void vscode.window.showInformationMessage('Tether: no session.');
      return sessions;
    }
    const chosen = await vscode.window.showQuickPick(sessions.map((s) => ({
      label: `${s.target}`, description: `${s.state} · ${s.mode} · ${s.namespace} · ${ports(s)}`,
      detail: `${s.id} · since ${s.startedAt}${s.message ? ` · ${s.message}` : ''}`, id: s.id, session: s,
    })), { title: 'Tether: sessions (pick one to stop it)' });
    if (!chosen) return sessions;
    const stop = 'Stop';
    const answer = await vscode.window.showWarningMessage(`Stop the ${describe(chosen.session)} session?`,
      { modal: true, detail: afterStop(chosen.session) }, stop);
    if (answer === stop) await stopSession(ctx, chosen.id);
    return sessions;
  });

  register('tether.selectContext', async () => {
    const context = await pickContext(ctx);
    if (context === undefined) return undefined;
    const namespace = await pickNamespace(ctx, { ...config.clusterParams(), context });
    if (namespace === undefined) return undefined;
    const settings = vscode.workspace.getConfiguration('tether');
    const target = vscode.workspace.workspaceFolders ? vscode.ConfigurationTarget.Workspace
      : vscode.ConfigurationTarget.Global;
    await settings.update('context', context, target);
    await settings.update('namespace', namespace, target);
    return { context, namespace };
  });

  register('tether.showLog', () => ctx.log.show());
  register('tether.restartBackend', () => ctx.restart());
}

export async function pickSession(ctx: TetherContext, title: string): Promise<string | undefined> {
  const sessions = [...ctx.sessions.values()];
  if (sessions.length === 0) {
    void vscode.window.showInformationMessage('Tether: no session.');
    return undefined;
  }
  if (sessions.length === 1) return sessions[0].id;
  const chosen = await vscode.window.showQuickPick(sessions.map((s) => ({ label: describe(s), description: s.state, id: s.id })),
    { title });
  return chosen?.id;
}
