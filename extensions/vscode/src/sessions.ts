// Starting and stopping sessions with the progress the backend reports; shared by the debug binding and the
// commands.
import * as vscode from 'vscode';
import { TetherContext, TetherError } from './context';
import * as proto from './protocol';
import { describe, stopped } from './sessionText';

/** Starts a session, showing the backend's `$/progress` steps in a cancellable notification. */
export function startSession(ctx: TetherContext, params: proto.SessionStartParams): Promise<proto.Session> {
  return Promise.resolve(vscode.window.withProgress({
    location: vscode.ProgressLocation.Notification,
    title: `Tether: ${params.mode} ${params.target ?? ''}`,
    cancellable: true,
  }, async (progress, token) => {
    let last = 0;
    const { token: workDoneToken, release } = ctx.progressToken((value) => {
      if (value.kind === 'end') return;
      const increment = value.percentage !== undefined ? Math.max(0, value.percentage - last) : undefined;
      if (value.percentage !== undefined) last = value.percentage;
      progress.report({ message: value.message, increment });
    });
    try {
      const session = await ctx.request(proto.sessionStart, { ...params, workDoneToken }, token);
      ctx.log.appendLine(`[tether] session ${session.id} ${session.state}: ${session.mode} ${session.target} in ` +
        `${session.namespace} (${(session.phases ?? []).map((p) => `${p.step} ${p.ms} ms`).join(', ')})`);
      for (const note of session.launch?.notes ?? []) ctx.log.appendLine(`[tether] note: ${note}`);
      return session;
    } finally {
      release();
    }
  }));
}

/** Stops a session; `force` (the user's explicit stop, the default) ends it whatever holds it, otherwise
 *  only this caller's hold is let go and the backend stops it at the last one. Says what was put back. */
export async function stopSession(ctx: TetherContext, id: string, force = true): Promise<proto.Session> {
  const final = await Promise.resolve(vscode.window.withProgress({
    location: vscode.ProgressLocation.Window, title: 'Tether: restoring the Service',
  }, () => ctx.request(proto.sessionStop, { id, force })));
  if (final.state === 'stopped') void vscode.window.showInformationMessage(`Tether: ${stopped(final)}`);
  return final;
}

/** After a start from the palette: active now, or waiting for the local process (and saying so when it comes). */
export function announceStart(ctx: TetherContext, session: proto.Session) {
  const active = () => void vscode.window.showInformationMessage(`Tether: ${describe(session)} is active.`);
  if ((ctx.sessions.get(session.id) ?? session).state === 'active') return active();
  const local = session.expose[0]?.local;
  void vscode.window.showInformationMessage(`Tether: ${session.target} is waiting for your process on ` +
    `127.0.0.1:${local}. Start it there, and the Service's traffic comes to it.`);
  // Until the session is active, or gone (stopped or failed) after it was seen.
  let seen = ctx.sessions.has(session.id);
  const sub = ctx.onDidChangeSessions(() => {
    const now = ctx.sessions.get(session.id);
    if (!now) {
      if (seen) sub.dispose();
      return;
    }
    seen = true;
    if (now.state === 'active') {
      sub.dispose();
      active();
    } else if (now.state === 'failed') {
      // The start was answered when the session was prepared, so its failure comes only as this state: say it
      // as a start error would have been said.
      sub.dispose();
      void ctx.showError(`Tether: ${now.target} failed`, new TetherError(now.message ?? 'the session failed',
        proto.ErrorCodes.RequestFailed, { reason: now.reason }), 'command');
    }
  });
}
