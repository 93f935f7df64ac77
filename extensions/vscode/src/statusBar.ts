// One status bar item, driven only by `tether/sessionChanged` (through the context's session list).
import * as vscode from 'vscode';
import type { TetherContext } from './context';
import { present } from './statusPresentation';

export function activate(ctx: TetherContext) {
  const item = vscode.window.createStatusBarItem('tether.status', vscode.StatusBarAlignment.Left, 10);
  item.name = 'Tether';
  item.command = 'tether.sessionMenu';
  const update = () => {
    const p = present([...ctx.sessions.values()]);
    item.text = p.text;
    item.tooltip = new vscode.MarkdownString(p.tooltip);
    item.accessibilityInformation = { label: p.text.replace(/\$\([^)]*\)\s*/g, '') };
  };
  update();
  item.show();
  ctx.subscriptions.push(item, ctx.onDidChangeSessions(update));
}
