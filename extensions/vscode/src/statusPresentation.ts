// What the status bar shows for a set of sessions: text with an icon (never colour alone) and a tooltip.
// Pure, so test/unit covers every state.
import type { Session } from './protocol';

export type Phase = 'idle' | 'starting' | 'active' | 'warning' | 'reconnecting' | 'failed';

export interface Presentation { phase: Phase; text: string; tooltip: string }

const ICONS: Record<Phase, string> = {
  idle: '$(debug-disconnect)', starting: '$(sync~spin)', active: '$(plug)', warning: '$(warning)',
  reconnecting: '$(sync~spin)', failed: '$(error)',
};

/** Live sessions come first (one losing its tunnel before a healthy one), then those on their way, and
 *  failures last: a failure never hides a session that is carrying traffic. Newest first within a rank. */
const RANK: Record<Session['state'], number> = {
  reconnecting: 6, active: 5, prepared: 4, starting: 3, stopping: 2, failed: 1, stopped: 0,
};

function ports(s: Session): string {
  return s.expose.map((e) => `${e.local}→${e.servicePort}`).join(', ');
}

/** The words for one session's state, as the status bar says them. */
function single(s: Session): { phase: Phase; words: string } {
  switch (s.state) {
    case 'failed': return { phase: 'failed', words: `failed ${s.target}` };
    case 'reconnecting': return { phase: 'reconnecting', words: `reconnecting ${s.target}` };
    case 'starting': return { phase: 'starting', words: `starting ${s.target}` };
    case 'prepared': {
      const local = s.expose[0]?.local;
      return { phase: 'starting', words: local ? `${s.target} waiting for 127.0.0.1:${local}`
        : `waiting for ${s.target}'s local port` };
    }
    case 'stopping': return { phase: 'starting', words: `stopping ${s.target}` };
    default: {
      // Active, but the cluster's requests meet a closed port: the status bar must not look healthy.
      const silent = nothingListening(s);
      if (silent) return { phase: 'warning', words: `${s.target}: nothing listens on ${silent}` };
      return { phase: 'active', words: `${s.mode} ${s.target} (${s.namespace})` };
    }
  }
}

/** "127.0.0.1:18099" when the backend says nothing answers on a local port of an active session. */
export function nothingListening(s: Session): string | undefined {
  if (s.state !== 'active') return undefined;
  return /^nothing answers on (127\.0\.0\.1:\d+)/.exec(s.message ?? '')?.[1];
}

export function present(sessions: Session[]): Presentation {
  // An active session whose port nobody listens on ranks above the healthy ones: it is the one to look at.
  const rank = (s: Session) => RANK[s.state] + (nothingListening(s) ? 0.5 : 0);
  const shown = sessions.filter((s) => s.state !== 'stopped')
    .sort((a, b) => rank(b) - rank(a) || b.startedAt.localeCompare(a.startedAt));
  const lines = shown.map((s) => `- ${s.state}: ${s.mode} **${s.target}** in ${s.namespace} (${s.context})` +
    (s.expose.length ? `, local ${ports(s)}` : '') + (s.message ? ` — ${s.message}` : ''));
  const tooltip = shown.length ? `Tether sessions:\n\n${lines.join('\n')}\n\nClick for the session menu.`
    : 'Tether: no session. Click for the session menu.';
  const top = shown[0];
  if (!top) return { phase: 'idle', text: `${ICONS.idle} Tether: idle`, tooltip };
  const { phase, words } = single(top);
  if (shown.length === 1) return { phase, text: `${ICONS[phase]} Tether: ${words}`, tooltip };
  // Several: how many of each, live ones first ("1 active · 1 failed"), with the top session's icon.
  const count = (states: Session['state'][]) => shown.filter((s) => states.includes(s.state)).length;
  const silent = shown.filter((s) => nothingListening(s)).length;
  const parts: [number, string][] = [
    [count(['active']) - silent, 'active'], [silent, 'not listening'], [count(['reconnecting']), 'reconnecting'],
    [count(['starting', 'prepared']), 'starting'], [count(['stopping']), 'stopping'], [count(['failed']), 'failed'],
  ];
  const summary = parts.filter(([n]) => n > 0).map(([n, word]) => `${n} ${word}`).join(' · ');
  return { phase, text: `${ICONS[phase]} Tether: ${summary}`, tooltip };
}
