// Finding the `tether` binary: the `tether.path` setting, then the binary bundled in the extension's `bin/`,
// then `tether` on PATH; each candidate is checked with `--version`. The error names the setting to fix.
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export interface ResolvedBackend { path: string; version: string }

export class BackendNotFound extends Error {}

function runVersion(binary: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, ['--version'], { timeout: 15000 }, (error, stdout) => {
      if (error) reject(error);
      else resolve(stdout.trim());
    });
  });
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch { /* not here */ }
  }
  return undefined;
}

export async function resolveBackend(configured: string, extensionPath: string): Promise<ResolvedBackend> {
  if (configured) {
    try {
      return { path: configured, version: await runVersion(configured) };
    } catch (error) {
      throw new BackendNotFound(`The tether backend set in the setting "tether.path" (${configured}) ` +
        `does not run: ${(error as Error).message}`);
    }
  }
  const candidates = [path.join(extensionPath, 'bin', 'tether'), onPath('tether')].filter(
    (c): c is string => c !== undefined && fs.existsSync(c));
  for (const candidate of candidates) {
    try {
      return { path: candidate, version: await runVersion(candidate) };
    } catch { /* try the next one */ }
  }
  throw new BackendNotFound('The tether backend was not found: set "tether.path" to the `tether` binary ' +
    '(none is bundled with this extension and none is on PATH).');
}
