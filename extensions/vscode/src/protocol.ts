// This file mirrors protocol/PROTOCOL.md, the single source of truth for the methods `tether serve --stdio`
// serves. Every method there has an entry in `methods` below with the same status, and
// test/unit/protocol-drift.test.ts fails when the two disagree. Only wire types live here: no logic.
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';

export const PROTOCOL_VERSION = 1;

export type MethodStatus = 'implemented' | 'planned';

/** Every method of PROTOCOL.md with its status, in the order of that file. */
export const methods = {
  'initialize': 'implemented',
  'initialized': 'implemented',
  'shutdown': 'implemented',
  'exit': 'implemented',
  '$/cancelRequest': 'implemented',
  '$/progress': 'implemented',
  'window/logMessage': 'implemented',
  'window/showMessage': 'implemented',
  'tether/version': 'implemented',
  'tether/contexts': 'implemented',
  'tether/namespaces': 'implemented',
  'tether/services': 'implemented',
  'tether/session/start': 'implemented',
  'tether/session/stop': 'implemented',
  'tether/session/list': 'implemented',
  'tether/clean': 'implemented',
  'tether/recover': 'implemented',
  'tether/sessionChanged': 'implemented',
} as const satisfies Record<string, MethodStatus>;

export type MethodName = keyof typeof methods;

// ---- errors ----------------------------------------------------------------------------------------------

export const ErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  ServerNotInitialized: -32002,
  RequestCancelled: -32800,
  RequestFailed: -32803,
} as const;

export type ErrorCategory = 'user' | 'config' | 'cluster' | 'internal';

/** `error.data` of a RequestFailed error. */
export interface ErrorData {
  category?: ErrorCategory;
  hint?: string;
  /** When one thing resolves the error: PROTOCOL.md's reason table (ideText.ts REASONS mirrors it). */
  reason?: string;
  /** The request field to change, by its protocol name (`target`, `expose`, ...). */
  field?: string;
}

// ---- base protocol ---------------------------------------------------------------------------------------

export interface InitializeParams {
  processId: number | null;
  clientInfo?: { name: string; version?: string };
  capabilities?: { window?: { workDoneProgress?: boolean } };
}

export interface InitializeResult {
  serverInfo: { name: string; version?: string };
  capabilities: { tether?: { protocolVersion: number; methods: string[] } };
}

export const initialize = new RequestType<InitializeParams, InitializeResult, ErrorData>('initialize');
export const initialized = new NotificationType<Record<string, never>>('initialized');
export const shutdown = new RequestType0<null, ErrorData>('shutdown');
export const exit = new NotificationType<void>('exit');

export type ProgressToken = number | string;
export type WorkDoneProgressValue =
  | { kind: 'begin'; title: string; cancellable?: boolean; message?: string; percentage?: number }
  | { kind: 'report'; message?: string; percentage?: number }
  | { kind: 'end'; message?: string };
export interface ProgressParams { token: ProgressToken; value: WorkDoneProgressValue }
export const progress = new NotificationType<ProgressParams>('$/progress');

export const MessageKind = { Error: 1, Warning: 2, Info: 3, Log: 4 } as const;
export interface LogMessageParams { type: number; message: string }
export const logMessage = new NotificationType<LogMessageParams>('window/logMessage');
export const showMessage = new NotificationType<LogMessageParams>('window/showMessage');

// ---- tether methods --------------------------------------------------------------------------------------

export interface VersionResult { name: string; version: string; protocolVersion: number; buildType: string }
export const version = new RequestType<Record<string, never> | null, VersionResult, ErrorData>('tether/version');

export interface ClusterParams { kubeconfig?: string; context?: string }

export interface KubeContext {
  name: string; cluster: string; user: string; namespace?: string; server?: string; current?: boolean;
}
export interface ContextsResult { current: string | null; files: string[]; contexts: KubeContext[] }
export const contexts = new RequestType<ClusterParams, ContextsResult, ErrorData>('tether/contexts');

export interface Namespace { name: string; phase: string; created: string }
export const namespaces = new RequestType<ClusterParams, { namespaces: Namespace[] }, ErrorData>('tether/namespaces');

export interface ServicePort { name?: string; port: number; targetPort: number | string; protocol: string }
export interface HeldBy { session: string; mode: string; owner: string; since: string }
export interface MeshMember { session: string; owner: string }
export interface Service {
  name: string; type: string; clusterIP: string; ports: ServicePort[]; selector: Record<string, string>;
  heldBy?: HeldBy;
  mesh?: { members: MeshMember[]; since: string };
  stableOf?: string;
}
export interface ServicesParams extends ClusterParams { namespace: string }
export const services = new RequestType<ServicesParams, { services: Service[] }, ErrorData>('tether/services');

/** `mode`: every mode is implemented; mesh routes HTTP/1.1 and WebSocket per request, h2c per stream. */
export type SessionMode = 'exchange' | 'connect' | 'preview' | 'forward' | 'mesh';
export interface MeshMatcher { kind?: 'exact' | 'prefix' | 'regex' | 'baggage'; name: string; value: string }
export type ExposeSpec = { local: number; remote?: number | string } | string;

export interface SessionStartParams extends ClusterParams {
  namespace?: string;
  mode: SessionMode;
  target: string;
  expose: ExposeSpec[];
  exchange?: { strategy: 'selector' | 'scale' };
  preview?: { type: 'ClusterIP' | 'NodePort' | 'LoadBalancer' };
  mesh?: { matchers: MeshMatcher[] };
  image?: string;
  /** The debuggee's environment (the IDE's under the configuration's `env`), for the backend to extend
   *  (NO_PROXY, JDK_JAVA_OPTIONS); the backend never falls back to its own environment. */
  baseEnv?: Record<string, string>;
  /** Each forwarded connection starts with a PROXY protocol v1 line naming the cluster client. */
  proxyProtocol?: boolean;
  /** Two-phase start: answered once the session is prepared; `sessionChanged` says when it is active. */
  awaitLocal?: boolean;
  outbound?: Outbound | 'auto';
  workDoneToken?: ProgressToken;
}

export type SessionState = 'starting' | 'prepared' | 'active' | 'reconnecting' | 'stopping' | 'stopped' | 'failed';

// wrapper (outbound netns): goes before the debuggee's command line (`tether netns-exec --control P --`).
export interface LaunchEnv { env: Record<string, string>; unset: string[]; notes: string[]; wrapper?: string[] }

export type Outbound = 'proxy' | 'preload' | 'netns';

export interface Session {
  id: string;
  state: SessionState;
  mode: SessionMode;
  strategy?: string;
  context: string;
  namespace: string;
  target: string;
  expose: { local: number; servicePort: number; targetPort: number | string }[];
  outbound?: Outbound;
  owner: string;
  startedAt: string;
  message?: string;
  /** A failed session: the error reason, when one thing resolves the failure. */
  reason?: string;
  shadowPod?: string;
  launch?: LaunchEnv;
  /** "127.0.0.1:PORT": a DNS server resolving names as the namespace's pods do. */
  dns?: string;
  /** Mesh sessions: the requests the session takes. */
  mesh?: { matchers: MeshMatcher[] };
  phases?: { step: string; ms: number }[];
}

export const sessionStart = new RequestType<SessionStartParams, Session, ErrorData>('tether/session/start');
export const sessionStop = new RequestType<{ id: string; force?: boolean }, Session, ErrorData>('tether/session/stop');
export const sessionList = new RequestType<Record<string, never> | null, { sessions: Session[] }, ErrorData>(
  'tether/session/list');

export interface CleanParams extends ClusterParams {
  namespace?: string; allNamespaces?: boolean; dryRun?: boolean; staleAfterSeconds?: number;
}
export interface CleanAction {
  kind: 'restore' | 'scale' | 'delete'; object: string; session: string; owner: string; heartbeat?: string;
  error?: string;
}
export interface CleanResult { actions: CleanAction[]; kept: string[] }
export const clean = new RequestType<CleanParams, CleanResult, ErrorData>('tether/clean');

export interface RecoverParams extends ClusterParams { namespace?: string; service: string }
export const recover = new RequestType<RecoverParams, CleanResult, ErrorData>('tether/recover');

export const sessionChanged = new NotificationType<{ session: Session }>('tether/sessionChanged');

/** The typed messages above, by method name: the drift test checks each one is in `methods`. */
export const messageTypes = [
  initialize, initialized, shutdown, exit, progress, logMessage, showMessage, version, contexts, namespaces,
  services, sessionStart, sessionStop, sessionList, clean, recover, sessionChanged,
];
