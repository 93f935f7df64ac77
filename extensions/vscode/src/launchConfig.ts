// Pure logic of the debug-launch binding: reading a launch configuration's `tether` block, turning it into
// `tether/session/start` params, and merging the session's launch environment into the configuration.
// No `vscode` import, so test/unit can run it in plain Node.
import type { LaunchEnv, Session, SessionStartParams } from './protocol';

/** The `tether` block of a launch configuration (schemas/launch-tether.schema.json describes it). */
export interface TetherBlock {
  service: string;
  expose: string[];
  mode: 'exchange';
  namespace?: string;
  context?: string;
  kubeconfig?: string;
  strategy?: 'selector' | 'scale';
  image?: string;
  /** How the debuggee reaches the namespace: proxy variables (default), the LD_PRELOAD shim as well, a
   *  network namespace of its own (Node launches), or the strongest the backend allows (`auto`). */
  outbound?: 'proxy' | 'preload' | 'netns' | 'auto';
}

/** The defaults that come from settings; the block's own fields win over them. */
export interface TetherDefaults { kubeconfig?: string; context?: string; namespace?: string }

/** Keys this extension adds to a configuration it resolved. */
export const SESSION_KEY = '__tetherSessionId';
export const INJECTED_KEY = '__tetherInjected';

export class TetherConfigError extends Error {}

/** Debug types whose runtime can run inside `tether netns-exec` (runtimeExecutable + runtimeArgs). */
const WRAPPABLE = new Set(['node', 'pwa-node']);

/** The keys a block may have; schemas/launch-tether.schema.json lists the same (a unit test checks). */
export const BLOCK_KEYS = ['service', 'namespace', 'context', 'kubeconfig', 'mode', 'expose', 'strategy', 'image',
  'outbound'];

const EXPOSE = /^\d{1,5}(:[A-Za-z0-9-]+)?$/;

/** Validates `config.tether`; undefined when the configuration has no block (it is then left untouched). */
export function readTetherBlock(config: Record<string, unknown>): TetherBlock | undefined {
  const raw = config.tether;
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new TetherConfigError('"tether" must be an object');
  const block = raw as Record<string, unknown>;
  for (const key of Object.keys(block)) {
    if (!BLOCK_KEYS.includes(key)) throw new TetherConfigError(`tether.${key} is not a known field (${BLOCK_KEYS.join(', ')})`);
  }
  const str = (key: string, required = false): string | undefined => {
    const value = block[key];
    if (value === undefined || value === '') {
      if (required) throw new TetherConfigError(`tether.${key} is required`);
      return undefined;
    }
    if (typeof value !== 'string') throw new TetherConfigError(`tether.${key}: expected a string`);
    return value;
  };
  const service = str('service', true)!;
  const mode = str('mode') ?? 'exchange';
  if (mode !== 'exchange') {
    throw new TetherConfigError(`tether.mode "${mode}" is not available yet; use "exchange"`);
  }
  let expose: string[];
  const rawExpose = block.expose;
  if (rawExpose === undefined) throw new TetherConfigError('tether.expose is required, e.g. "8080" or "12001:http"');
  if (typeof rawExpose === 'string') expose = rawExpose.split(',').map((s) => s.trim()).filter((s) => s !== '');
  else if (typeof rawExpose === 'number') expose = [String(rawExpose)];
  else if (Array.isArray(rawExpose)) expose = rawExpose.map((e) => String(e).trim());
  else throw new TetherConfigError('tether.expose: expected "LOCAL[:REMOTE]" or a list of them');
  if (expose.length === 0) throw new TetherConfigError('tether.expose names no port');
  for (const e of expose) {
    if (!EXPOSE.test(e)) {
      throw new TetherConfigError(`tether.expose "${e}": expected LOCAL[:REMOTE], LOCAL a port number and ` +
        'REMOTE a Service port number or name');
    }
    const local = Number(e.split(':')[0]);
    if (local < 1 || local > 65535) {
      throw new TetherConfigError(`tether.expose "${e}": the local port must be between 1 and 65535 (your program ` +
        'listens there on 127.0.0.1)');
    }
  }
  const strategy = str('strategy');
  if (strategy !== undefined && strategy !== 'selector' && strategy !== 'scale') {
    throw new TetherConfigError(`tether.strategy "${strategy}": expected "selector" or "scale"`);
  }
  const outbound = str('outbound');
  if (outbound !== undefined && !['proxy', 'preload', 'netns', 'auto'].includes(outbound)) {
    throw new TetherConfigError(`tether.outbound "${outbound}": expected "proxy", "preload", "netns" or "auto"`);
  }
  const type = String(config.type ?? '');
  if (outbound === 'netns' && !WRAPPABLE.has(type)) {
    // The debuggee must start inside the namespace, so the adapter's runtime must be one we can put a wrapper
    // before; and adapters that talk to their debuggee over TCP on 127.0.0.1 (debugpy, dlv, JDWP launches)
    // would not find it there. js-debug talks to Node over a Unix socket path, which the namespace shares.
    throw new TetherConfigError(`tether.outbound "netns" works with Node launch configurations (type "node"), ` +
      `not with type "${type}": its debugger would not reach the debuggee inside the namespace. Use "preload" ` +
      '(database drivers, redis and other clients that ignore proxies, in any dynamically linked program)');
  }
  const read: TetherBlock = {
    service, expose, mode: 'exchange', namespace: str('namespace'), context: str('context'),
    kubeconfig: str('kubeconfig'), strategy: strategy as TetherBlock['strategy'], image: str('image'),
  };
  if (outbound !== undefined) read.outbound = outbound as TetherBlock['outbound'];
  return read;
}

/** `tether/session/start` params for a block: the block's fields first, then the settings' defaults. */
export function startParams(block: TetherBlock, defaults: TetherDefaults,
  baseEnv?: Record<string, string>): SessionStartParams {
  const params: SessionStartParams = { mode: block.mode, target: block.service, expose: [...block.expose] };
  if (baseEnv) params.baseEnv = baseEnv;
  const kubeconfig = block.kubeconfig ?? nonEmpty(defaults.kubeconfig);
  const context = block.context ?? nonEmpty(defaults.context);
  const namespace = block.namespace ?? nonEmpty(defaults.namespace);
  if (kubeconfig) params.kubeconfig = kubeconfig;
  if (context) params.context = context;
  if (namespace) params.namespace = namespace;
  if (block.strategy) params.exchange = { strategy: block.strategy };
  if (block.image) params.image = block.image;
  if (block.outbound) params.outbound = block.outbound;
  return params;
}

/**
 * The environment the debuggee would have without Tether: the IDE's, under the configuration's own `env`.
 * The backend extends it (NO_PROXY, JDK_JAVA_OPTIONS) and never uses its own environment instead.
 */
export function debuggeeBaseEnv(inherited: Record<string, string | undefined>,
  configured: unknown): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(inherited)) if (typeof v === 'string') env[k] = v;
  if (configured && typeof configured === 'object' && !Array.isArray(configured)) {
    for (const [k, v] of Object.entries(configured as Record<string, unknown>)) {
      if (typeof v === 'string') env[k] = v;
      else if (v === null) delete env[k];
    }
  }
  return env;
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}

// ---- environment merge -----------------------------------------------------------------------------------

/** Variables whose value is a comma-separated list: the user's entries are kept and the session's added. */
const LIST_VARS = new Set(['NO_PROXY', 'no_proxy']);
/** Variables whose value is a space-separated option list: the session's options are appended. */
const OPTION_VARS = new Set(['JDK_JAVA_OPTIONS', 'JAVA_TOOL_OPTIONS']);
/** Debug types whose adapters read `env: {NAME: null}` as "remove NAME from the inherited environment". */
const NULL_UNSETS = new Set(['node', 'pwa-node', 'node-terminal', 'pwa-chrome', 'pwa-msedge', 'pwa-extensionHost']);
/** Debug types that take the environment as `environment: [{name, value}]` (cpptools). */
const ARRAY_ENV = new Set(['cppdbg', 'cppvsdbg']);

export interface MergeResult {
  env: Record<string, string | null>;
  /** User-set variables the session replaced (worth a line in the log). */
  overridden: string[];
}

/** Merges the session's launch env over the configuration's own `env`. Pure: returns a new object. */
export function mergeEnv(user: Record<string, string | null | undefined> | undefined, launch: LaunchEnv,
  nullUnsets: boolean): MergeResult {
  const env: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(user ?? {})) if (v !== undefined) env[k] = v;
  const overridden: string[] = [];
  for (const [name, value] of Object.entries(launch.env)) {
    const mine = env[name];
    if (typeof mine !== 'string' || mine === '') {
      env[name] = value;
    } else if (LIST_VARS.has(name)) {
      const entries = mine.split(',').map((s) => s.trim()).filter((s) => s !== '');
      for (const entry of value.split(',').map((s) => s.trim())) {
        if (entry !== '' && !entries.includes(entry)) entries.push(entry);
      }
      env[name] = entries.join(',');
    } else if (OPTION_VARS.has(name)) {
      const options = mine.split(/\s+/).filter((s) => s !== '');
      for (const option of value.split(/\s+/)) if (option !== '' && !options.includes(option)) options.push(option);
      env[name] = options.join(' ');
    } else if (mine !== value) {
      env[name] = value;
      overridden.push(name);
    }
  }
  for (const name of launch.unset) {
    if (name in launch.env) continue;
    if (nullUnsets) env[name] = null;
    else delete env[name];
  }
  return { env, overridden };
}

/**
 * The configuration the debug adapter receives: the user's, with the session's environment merged in the
 * shape its debug type reads (`env` object, or cpptools' `environment` array), and marked with the session id.
 */
export function applySession(config: Record<string, unknown>, session: Session): {
  config: Record<string, unknown>; overridden: string[];
} {
  const launch = session.launch ?? { env: {}, unset: [], notes: [] };
  const type = String(config.type ?? '');
  const out: Record<string, unknown> = { ...config, [SESSION_KEY]: session.id, [INJECTED_KEY]: true };
  if (ARRAY_ENV.has(type)) {
    const list = Array.isArray(config.environment) ? (config.environment as { name: string; value: string }[]) : [];
    const user: Record<string, string> = {};
    for (const item of list) user[item.name] = item.value;
    const { env, overridden } = mergeEnv(user, launch, false);
    out.environment = Object.entries(env).map(([name, value]) => ({ name, value: value as string }));
    return { config: out, overridden };
  }
  const userEnv = (config.env && typeof config.env === 'object') ? config.env as Record<string, string | null> : {};
  const { env, overridden } = mergeEnv(userEnv, launch, NULL_UNSETS.has(type));
  out.env = env;
  if (launch.wrapper?.length) {
    // outbound netns: the runtime starts inside the session's namespace, `tether netns-exec ... -- node ...`.
    const runtime = typeof config.runtimeExecutable === 'string' && config.runtimeExecutable !== ''
      ? config.runtimeExecutable : 'node';
    const runtimeArgs = Array.isArray(config.runtimeArgs) ? config.runtimeArgs as string[] : [];
    out.runtimeExecutable = launch.wrapper[0];
    out.runtimeArgs = [...launch.wrapper.slice(1), runtime, ...runtimeArgs];
  }
  return { config: out, overridden };
}
