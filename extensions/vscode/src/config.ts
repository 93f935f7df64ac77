// Reading the `tether.*` settings, with `${...}` substitution for paths.
import * as os from 'os';
import * as vscode from 'vscode';
import type { TetherDefaults } from './launchConfig';
import { substitute } from './substitute';

function vars() {
  return {
    workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
    userHome: os.homedir(),
    env: process.env,
  };
}

export function get<T>(key: string): T {
  const value = vscode.workspace.getConfiguration('tether').get<T>(key) as T;
  return (typeof value === 'string' ? substitute(value, vars()) : value) as T;
}

/** The cluster defaults every request starts from. */
export function clusterDefaults(): TetherDefaults {
  return { kubeconfig: get<string>('kubeconfig'), context: get<string>('context'), namespace: get<string>('namespace') };
}

/** kubeconfig and context params for a cluster request, without empty fields. */
export function clusterParams(): { kubeconfig?: string; context?: string } {
  const d = clusterDefaults();
  const out: { kubeconfig?: string; context?: string } = {};
  if (d.kubeconfig) out.kubeconfig = d.kubeconfig;
  if (d.context) out.context = d.context;
  return out;
}
