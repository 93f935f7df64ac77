// "Clean up stale sessions": a dry run first, the list of what would change, then the real run on consent.
import * as vscode from 'vscode';
import * as config from './config';
import type { TetherContext } from './context';
import * as proto from './protocol';

export function describeActions(result: proto.CleanResult): string[] {
  return result.actions.map((a) => `${a.kind} ${a.object} (session ${a.session} of ${a.owner}` +
    `${a.heartbeat ? `, last heartbeat ${a.heartbeat}` : ''})${a.error ? `: ${a.error}` : ''}`);
}

export function activate(ctx: TetherContext) {
  ctx.subscriptions.push(vscode.commands.registerCommand('tether.clean', async () => {
    try {
      const params: proto.CleanParams = { ...config.clusterParams(), allNamespaces: true };
      const dry = await ctx.request(proto.clean, { ...params, dryRun: true });
      const lines = describeActions(dry);
      for (const line of lines) ctx.log.appendLine(`[tether] clean (dry run): ${line}`);
      if (lines.length === 0) {
        void vscode.window.showInformationMessage(`Tether: no stale session${dry.kept.length ? ` (${dry.kept.length} live kept)` : ''}.`);
        return dry;
      }
      const choice = await vscode.window.showWarningMessage(
        `Tether: ${lines.length} change(s) would restore stale sessions' Services.`,
        { modal: true, detail: lines.join('\n') }, 'Clean Up');
      if (choice !== 'Clean Up') return dry;
      const done = await ctx.request(proto.clean, params);
      for (const line of describeActions(done)) ctx.log.appendLine(`[tether] clean: ${line}`);
      ctx.forgetResolvedFailures(done.actions);
      const failed = done.actions.filter((a) => a.error);
      if (failed.length) {
        await ctx.showError('Tether: clean up', new Error(`${failed.length} action(s) failed; see the log`));
      } else {
        void vscode.window.showInformationMessage(`Tether: cleaned up ${done.actions.length} object(s).`);
      }
      return done;
    } catch (error) {
      await ctx.showError('Tether: clean up failed', error);
      return undefined;
    }
  }));
}
