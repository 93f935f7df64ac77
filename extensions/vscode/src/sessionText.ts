// How a session is named in messages: its ports, what a stop leaves behind, and the question before a stop.
// Pure, so test/unit covers the words.
import type * as proto from './protocol';

export function describe(s: proto.Session): string {
  const ports = s.expose.map((e) => `${e.local}→${e.servicePort}`).join(', ');
  return `${s.mode} ${s.target} (${s.namespace}) ${ports}`;
}

export function ports(s: proto.Session): string {
  return s.expose.map((e) => `127.0.0.1:${e.local}→${e.servicePort}`).join(', ') || 'no ports';
}

/** What a stop leaves behind, as the confirmation says it. */
export function stopped(s: proto.Session): string {
  switch (s.mode) {
    case 'exchange': case 'mesh': return `${s.target} restored: its traffic goes to its pods again.`;
    case 'preview': return `preview Service ${s.target} deleted.`;
    default: return `${s.mode} session stopped${s.target ? ` (${s.target})` : ''}.`;
  }
}

/** What stopping will do, for the question before it. */
export function afterStop(s: proto.Session): string {
  switch (s.mode) {
    case 'exchange': case 'mesh':
      return `${s.target}'s traffic goes back to its pods in ${s.namespace}; your local process keeps running.`;
    case 'preview': return `The preview Service ${s.target} is deleted.`;
    default: return 'The shadow pod is deleted; your local process keeps running.';
  }
}
