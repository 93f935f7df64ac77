// Quick picks fed with live data from the backend: context → namespace → Service (with who holds it) → mode →
// ports. Each returns undefined when the user cancels.
import * as vscode from 'vscode';
import * as config from './config';
import type { TetherContext } from './context';
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
  const chosen = await pick('Tether: namespace', async () => {
    const r = await ctx.request(proto.namespaces, cluster);
    return r.namespaces.map((n) => ({ label: n.name, description: n.phase, picked: n.name === current }));
  });
  return chosen?.label;
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

export async function pickMode(): Promise<'exchange' | undefined> {
  const chosen = await vscode.window.showQuickPick([
    { label: 'exchange', description: 'all of the Service\'s traffic comes to this machine' },
  ], { title: 'Tether: mode' });
  return chosen?.label as 'exchange' | undefined;
}

export async function pickPorts(service: proto.Service): Promise<string[] | undefined> {
  const value = service.ports.map((p) => `${p.port}:${p.name ?? p.port}`).join(',');
  const answer = await vscode.window.showInputBox({
    title: `Tether: ports of ${service.name}`,
    prompt: 'LOCAL[:REMOTE], comma-separated: LOCAL receives what the Service sends to its port REMOTE',
    value,
    validateInput: (v) => v.split(',').every((e) => /^\s*\d{1,5}(:[A-Za-z0-9-]+)?\s*$/.test(e)) ? undefined
      : 'expected LOCAL[:REMOTE], e.g. 12001:8080 or 8080:http',
  });
  return answer?.split(',').map((e) => e.trim()).filter((e) => e !== '');
}
