// Notifications for what a session's state changes mean to the user, said once each: the cluster's requests
// meet a closed local port (and then that the process answers again).
import * as vscode from 'vscode';
import type { TetherContext } from './context';
import { nothingListening } from './statusPresentation';

export function activate(ctx: TetherContext) {
  const warned = new Map<string, string>();  // session id -> the address it was warned about
  ctx.subscriptions.push(ctx.onDidChangeSessions(() => {
    for (const [id, address] of warned) {
      const s = ctx.sessions.get(id);
      if (!s || s.state === 'stopped') {
        warned.delete(id);
      } else if (s.state === 'active' && !s.message) {
        // Only a message-free session says the port answers: another message may hide the same problem.
        warned.delete(id);
        void vscode.window.showInformationMessage(`Tether: ${s.target}: your process answers on ${address} now.`);
      }
    }
    for (const s of ctx.sessions.values()) {
      const address = nothingListening(s);
      if (!address || warned.get(s.id) === address) continue;
      warned.set(s.id, address);
      void vscode.window.showWarningMessage(`Tether: ${s.target} is active, but nothing listens on ${address}: ` +
        `the Service's clients get a reset until your process listens there.`, 'Show Log').then((choice) => {
        if (choice === 'Show Log') ctx.log.show();
      });
    }
  }));
}
