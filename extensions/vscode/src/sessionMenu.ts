// The menu behind the status bar item: stop a session, show the log, open the Service's holders (the
// namespace's Services and who holds each), start a session.
import * as vscode from 'vscode';
import * as config from './config';
import type { TetherContext } from './context';
import { holder } from './pickers';
import * as proto from './protocol';
import { stopSession } from './sessions';
import { describe } from './sessionText';

type Item = vscode.QuickPickItem & { run: () => Promise<unknown> | unknown };

export function activate(ctx: TetherContext) {
  ctx.subscriptions.push(vscode.commands.registerCommand('tether.sessionMenu', async () => {
    const items: Item[] = [];
    for (const s of ctx.sessions.values()) {
      if (s.state === 'failed') {
        items.push({ label: `$(close) Dismiss failed ${s.target}`, description: describe(s), detail: s.message,
          run: () => ctx.dismiss(s.id) });
        continue;
      }
      items.push({ label: `$(debug-stop) Stop ${s.target}`, description: describe(s), detail: s.message,
        run: () => stopSession(ctx, s.id) });
      items.push({ label: `$(organization) Holders of Services in ${s.namespace}`,
        run: () => showHolders(ctx, s.namespace) });
    }
    items.push({ label: '$(play) Start Session…', run: () => vscode.commands.executeCommand('tether.startSession') });
    items.push({ label: '$(output) Show Log', run: () => ctx.log.show() });
    const chosen = await vscode.window.showQuickPick(items, { title: 'Tether' });
    try {
      return await chosen?.run();
    } catch (error) {
      await ctx.showError('Tether', error);
      return undefined;
    }
  }));
}

async function showHolders(ctx: TetherContext, namespace: string) {
  const { services } = await ctx.request(proto.services, { ...config.clusterParams(), namespace });
  await vscode.window.showQuickPick(services.map((s) => ({ label: s.name, description: holder(s),
    detail: s.heldBy ? `session ${s.heldBy.session}` : undefined })), { title: `Tether: Services in ${namespace}` });
}
