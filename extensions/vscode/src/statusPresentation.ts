// What the status bar shows for a set of sessions: text with an icon (never colour alone) and a tooltip.
// Pure, so test/unit covers every state.
import type { Session } from './protocol';

export type Phase = 'idle' | 'starting' | 'active' | 'reconnecting' | 'failed';

export interface Presentation { phase: Phase; text: string; tooltip: string }

const ICONS: Record<Phase, string> = {
  idle: '$(debug-disconnect)', starting: '$(sync~spin)', active: '$(plug)', reconnecting: '$(sync~spin)',
  failed: '$(error)',
};

/** The most urgent state wins: failed, reconnecting, starting (or stopping), active, then idle. */
export function present(sessions: Session[]): Presentation {
  const rank = (s: Session) =>
    ({ failed: 5, reconnecting: 4, starting: 3, prepared: 3, stopping: 3, active: 2, stopped: 0 }[s.state]);
  const shown = sessions.filter((s) => s.state !== 'stopped').sort((a, b) => rank(b) - rank(a));
  const lines = shown.map((s) => `- ${s.state}: ${s.mode} **${s.target}** in ${s.namespace} (${s.context})` +
    (s.expose.length ? `, local ${s.expose.map((e) => `${e.local}→${e.servicePort}`).join(', ')}` : '') +
    (s.message ? ` — ${s.message}` : ''));
  const tooltip = shown.length ? `Tether sessions:\n\n${lines.join('\n')}\n\nClick for the session menu.`
    : 'Tether: no session. Click for the session menu.';
  const top = shown[0];
  if (!top) return { phase: 'idle', text: `${ICONS.idle} Tether: idle`, tooltip };
  const more = shown.length > 1 ? ` +${shown.length - 1}` : '';
  switch (top.state) {
    case 'failed': return { phase: 'failed', text: `${ICONS.failed} Tether: failed ${top.target}${more}`, tooltip };
    case 'reconnecting':
      return { phase: 'reconnecting', text: `${ICONS.reconnecting} Tether: reconnecting ${top.target}${more}`, tooltip };
    case 'starting': return { phase: 'starting', text: `${ICONS.starting} Tether: starting ${top.target}${more}`, tooltip };
    case 'prepared':
      return { phase: 'starting', text: `${ICONS.starting} Tether: waiting for ${top.target}'s local port${more}`, tooltip };
    case 'stopping': return { phase: 'starting', text: `${ICONS.starting} Tether: stopping ${top.target}${more}`, tooltip };
    default:
      return { phase: 'active', text: `${ICONS.active} Tether: ${top.mode} ${top.target} (${top.namespace})${more}`, tooltip };
  }
}
