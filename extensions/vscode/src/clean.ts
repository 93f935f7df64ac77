// "Clean up stale sessions": a dry run first, the list of what would change, then the real run on consent.
// "Recover Service…": one Service put back whatever its session's heartbeat, after a modal that says so.
import * as vscode from 'vscode';
import * as config from './config';
import type { RecoverTarget, TetherContext } from './context';
import { pickContext, pickNamespace, pickService } from './pickers';
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

  ctx.subscriptions.push(vscode.commands.registerCommand('tether.recover', async (target: RecoverTarget = {}) => {
    try {
      const cluster = config.clusterParams();
      // A target with a namespace names its context (or means the configured one); else the user picks.
      const context = target.namespace !== undefined ? target.context ?? cluster.context : await pickContext(ctx);
      if (context === undefined && target.namespace === undefined) return undefined;
      const withContext = context === undefined ? cluster : { ...cluster, context };
      const namespace = target.namespace ?? await pickNamespace(ctx, withContext);
      if (namespace === undefined) return undefined;
      const service = target.service ?? (await pickService(ctx, withContext, namespace))?.name;
      if (service === undefined) return undefined;
      const choice = await vscode.window.showWarningMessage(`Tether: recover ${service} in ${namespace}?`, {
        modal: true,
        detail: 'This puts back what a session changed on the Service (its selector, or the replica counts) ' +
          'whatever its heartbeat says, and deletes that session\'s objects. A session that still runs loses it.',
      }, 'Recover');
      if (choice !== 'Recover') return undefined;
      const done = await ctx.request(proto.recover, { ...withContext, namespace, service });
      for (const line of describeActions(done)) ctx.log.appendLine(`[tether] recover: ${line}`);
      ctx.forgetResolvedFailures(done.actions);
      const failed = done.actions.filter((a) => a.error);
      if (failed.length) {
        await ctx.showError(`Tether: recover ${service}`, new Error(`${failed.length} action(s) failed; see the log`));
      } else {
        void vscode.window.showInformationMessage(`Tether: ${service} recovered: its traffic goes to its pods again.`);
      }
      return done;
    } catch (error) {
      await ctx.showError('Tether: Recover Service… failed', error);
      return undefined;
    }
  }));
}
