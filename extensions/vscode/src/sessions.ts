// Starting and stopping sessions with the progress the backend reports; shared by the debug binding and the
// commands.
import * as vscode from 'vscode';
import { type TetherContext, TetherError } from './context';
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

/** The sessions a stop was asked for: their failure is the stop's to report, not the start's. */
const stopAsked = new Set<string>();

/** A failed session as the error a request would have given: its message, and its reason for the actions. */
export function failureOf(session: proto.Session): TetherError {
  return new TetherError(session.message ?? 'the session failed', proto.ErrorCodes.RequestFailed,
    { reason: session.reason });
}

/** Stops a session; `force` (the user's explicit stop, the default) ends it whatever holds it, otherwise
 *  only this caller's hold is let go and the backend stops it at the last one. Says what was put back, or
 *  what could not be. */
export async function stopSession(ctx: TetherContext, id: string, force = true): Promise<proto.Session> {
  // A session that had failed already was said then; only a failure of this stop's own undo is news.
  const failedBefore = ctx.sessions.get(id)?.state === 'failed';
  stopAsked.add(id);
  let final: proto.Session;
  try {
    final = await Promise.resolve(vscode.window.withProgress({
      location: vscode.ProgressLocation.Window, title: 'Tether: restoring the Service',
    }, () => ctx.request(proto.sessionStop, { id, force })));
  } finally {
    // The failed notification of this stop comes before its answer, so the start's announcement has seen it.
    stopAsked.delete(id);
  }
  if (final.state === 'stopped') void vscode.window.showInformationMessage(`Tether: ${stopped(final)}`);
  if (final.state === 'failed' && !failedBefore) {
    void ctx.showError('Tether could not restore the Service', failureOf(final), 'command', { recover: recoverTarget(final) });
  }
  return final;
}

/** The Service a failed session holds, for the Recover Service… action. */
export function recoverTarget(session: proto.Session) {
  return { context: session.context, namespace: session.namespace, service: session.target };
}

/** The sessions whose start is being announced (waiting for the local process). */
const announcing = new Set<string>();

/** After a start from the palette: active now, or waiting for the local process (and saying so when it comes). */
export function announceStart(ctx: TetherContext, session: proto.Session) {
  const active = () => void vscode.window.showInformationMessage(`Tether: ${describe(session)} is active.`);
  const failed = (now: proto.Session) => {
    if (!stopAsked.has(now.id)) {
      void ctx.showError(`Tether: ${now.target} failed`, failureOf(now), 'command', { recover: recoverTarget(now) });
    }
  };
  const state = (ctx.sessions.get(session.id) ?? session).state;
  if (state === 'active') return active();
  if (state === 'failed') return failed(ctx.sessions.get(session.id) ?? session);
  // A second start with the same picks joins the same session: one announcement is enough.
  if (announcing.has(session.id)) return undefined;
  announcing.add(session.id);
  const local = session.expose[0]?.local;
  void vscode.window.showInformationMessage(`Tether: ${session.target} is waiting for your process on ` +
    `127.0.0.1:${local}. Start it there, and the Service's traffic comes to it.`);
  // Until the session is active, or gone (stopped or failed) after it was seen.
  let seen = ctx.sessions.has(session.id);
  const done = () => {
    sub.dispose();
    announcing.delete(session.id);
  };
  const sub = ctx.onDidChangeSessions(() => {
    const now = ctx.sessions.get(session.id);
    if (!now) {
      if (seen) done();
      return;
    }
    seen = true;
    if (now.state === 'active') {
      done();
      active();
    } else if (now.state === 'failed') {
      // The start was answered when the session was prepared, so its failure comes only as this state: say it
      // as a start error would have been said (unless a stop was asked for, which reports it).
      done();
      failed(now);
    }
  });
}
