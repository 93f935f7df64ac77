// Variable substitution in settings (`${workspaceFolder}`, `${userHome}`, `${env:NAME}`), as vscode-clangd's
// config.ts does it. Pure, so test/unit covers it.

export interface SubstitutionVars {
  workspaceFolder?: string;
  userHome: string;
  env: Record<string, string | undefined>;
}

export function substitute(value: string, vars: SubstitutionVars): string {
  return value.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
    if (name === 'workspaceFolder' && vars.workspaceFolder !== undefined) return vars.workspaceFolder;
    if (name === 'userHome') return vars.userHome;
    if (name.startsWith('env:')) return vars.env[name.slice(4)] ?? '';
    return whole;
  });
}
