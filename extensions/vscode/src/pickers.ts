// Quick picks fed with live data from the backend: context → namespace (typed where listing is forbidden) →
// Service (with who holds it) → ports. Each returns undefined when the user cancels.
import * as vscode from 'vscode';
import * as config from './config';
import { type TetherContext, toTetherError } from './context';
import { exposeInputProblem, heldPortNote, portHolder, portIsFree, suggestedExpose } from './ports';
import * as proto from './protocol';

type Cluster = { kubeconfig?: string; context?: string };

async function pick<T extends vscode.QuickPickItem>(title: string, load: () => Promise<T[]>,
  placeHolder?: string): Promise<T | undefined> {
  const qp = vscode.window.createQuickPick<T>();
  qp.title = title;
  qp.placeholder = placeHolder;
  qp.busy = true;
  qp.show();
  return new Promise<T | undefined>((resolve, reject) => {
    let done = false;
    const finish = (value: T | undefined) => { if (!done) { done = true; resolve(value); qp.dispose(); } };
    qp.onDidAccept(() => finish(qp.selectedItems[0]));
    qp.onDidHide(() => finish(undefined));
    load().then((items) => {
      qp.items = items;
      qp.busy = false;
      const active = items.find((i) => i.picked);
      if (active) qp.activeItems = [active];
    }, (error) => { if (!done) { done = true; qp.dispose(); reject(error); } });
  });
}

export async function pickContext(ctx: TetherContext): Promise<string | undefined> {
  const cluster = config.clusterParams();
  const chosen = await pick('Tether: context', async () => {
    const r = await ctx.request(proto.contexts, { kubeconfig: cluster.kubeconfig });
    return r.contexts.map((c) => ({
      label: c.name, description: `${c.cluster}${c.namespace ? ` · ${c.namespace}` : ''}`,
      detail: c.server, picked: c.name === (cluster.context || r.current),
    }));
  });
  return chosen?.label;
}

export async function pickNamespace(ctx: TetherContext, cluster: Cluster): Promise<string | undefined> {
  const current = config.get<string>('namespace');
  try {
    const chosen = await pick('Tether: namespace', async () => {
      const r = await ctx.request(proto.namespaces, cluster);
      return r.namespaces.map((n) => ({ label: n.name, description: n.phase, picked: n.name === current }));
    });
    return chosen?.label;
  } catch (error) {
    // Restricted contexts may not list namespaces (RBAC allows a user their own namespaces only): ask instead.
    const e = toTetherError(error);
    if (e.data.reason !== 'forbidden') throw error;
    ctx.log.appendLine(`[tether] listing namespaces: ${e.message}`);
    const typed = await vscode.window.showInputBox({
      title: 'Tether: namespace',
      prompt: 'This context may not list namespaces; type the one to use (the Services step checks it).',
      value: current ?? '',
      validateInput: (v) => /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(v.trim()) ? undefined
        : 'A namespace name: lower-case letters, digits and "-", at most 63.',
    });
    return typed?.trim();
  }
}

export function holder(s: proto.Service): string {
  return s.heldBy ? `held by ${s.heldBy.owner} (${s.heldBy.mode}) since ${s.heldBy.since}` : 'free';
}

export async function pickService(ctx: TetherContext, cluster: Cluster, namespace: string):
  Promise<proto.Service | undefined> {
  const chosen = await pick(`Tether: Service in ${namespace}`, async () => {
    const r = await ctx.request(proto.services, { ...cluster, namespace });
    return r.services.map((s) => ({
      label: s.name, service: s,
      description: s.ports.map((p) => `${p.name ? `${p.name}:` : ''}${p.port}`).join(', '),
      detail: `${s.type} · ${holder(s)}`,
    }));
  });
  return chosen?.service;
}

/** The ports step: a free high local port suggested for each Service port, and what LOCAL means said plainly. */
export async function pickPorts(service: proto.Service): Promise<string[] | undefined> {
  const value = await suggestedExpose(service.ports.map((p) => ({ port: p.port, name: p.name })), portIsFree);
  const first = value.split(',')[0]?.split(':')[0];
  const answer = await vscode.window.showInputBox({
    title: `Tether: ports of ${service.name}`,
    prompt: `LOCAL:PORT, comma-separated: your process must listen on 127.0.0.1:LOCAL, and it receives what the ` +
      `Service sends to its PORT.${first ? ` ${first} is free on this machine.` : ''}`,
    value,
    validateInput: async (v) => {
      const problem = exposeInputProblem(v);
      if (problem) return problem;
      const note = await heldPortNote(v, portIsFree, portHolder);
      return note ? { message: note, severity: vscode.InputBoxValidationSeverity.Warning } : undefined;
    },
  });
  return answer?.split(',').map((e) => e.trim()).filter((e) => e !== '');
}
