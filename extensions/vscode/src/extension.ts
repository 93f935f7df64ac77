// Entry point: one TetherContext owns the backend connection and every disposable; each feature file adds
// itself to it.
import * as vscode from 'vscode';
import * as clean from './clean';
import * as commands from './commands';
import { TetherContext } from './context';
import * as debug from './debug';
import * as notices from './notices';
import * as protocol from './protocol';
import * as sessionMenu from './sessionMenu';
import * as statusBar from './statusBar';

let ctx: TetherContext | undefined;

/** What `activate` returns: the context and the protocol's message types (one copy of vscode-jsonrpc's). */
export interface TetherApi { context: TetherContext; protocol: typeof protocol }

export function activate(extension: vscode.ExtensionContext): TetherApi {
  ctx = new TetherContext(extension);
  extension.subscriptions.push(ctx);
  statusBar.activate(ctx);
  debug.activate(ctx);
  commands.activate(ctx);
  clean.activate(ctx);
  sessionMenu.activate(ctx);
  notices.activate(ctx);
  // Start the backend now so the status bar reflects sessions; a missing binary is reported once, naming the setting.
  const context = ctx;
  context.connect().catch((error: Error) => {
    void vscode.window.showWarningMessage(`Tether: ${error.message}`, 'Open Settings').then((choice) => {
      if (choice) void vscode.commands.executeCommand('workbench.action.openSettings', 'tether.path');
    });
  });
  return { context, protocol };
}

export async function deactivate(): Promise<void> {
  await ctx?.stop();
}
