// The backend's errors in the IDE's own terms. The backend tells an IDE caller what went wrong in plain words
// and, when one thing resolves it, a reason and the request field (error.data.reason and .field in
// PROTOCOL.md); this file turns those into the launch.json field to check, the extension's command to run,
// and the buttons that do it. No backend sentence is rewritten. Pure, so test/unit covers every reason.

/** What the notification offers. */
export type IdeAction = 'cleanUp' | 'recover' | 'openLaunchJson' | 'retry' | 'showLog';

export const ACTION_LABELS: Record<IdeAction, string> = {
  cleanUp: 'Clean Up Stale Sessions', recover: 'Recover Service…', openLaunchJson: 'Open launch.json', retry: 'Retry', showLog: 'Show Log',
};

/** Where the failure happened: a debug launch (its launch.json names things) or a command of the palette. */
export type Where = 'launch' | 'command';

export interface IdeText { text: string; actions: IdeAction[] }

/** A failure as the backend reports it (RequestFailed's message and error.data, or a failed Session). */
export interface Failure {
  message: string;
  hint?: string;
  category?: string;
  reason?: string;
  field?: string;
}

/** The launch.json name of each request field that a launch configuration's `tether` block sets. */
export const LAUNCH_FIELDS: Record<string, string> = {
  target: 'tether.service', namespace: 'tether.namespace', expose: 'tether.expose', 'exchange.strategy': 'tether.strategy',
  mode: 'tether.mode', outbound: 'tether.outbound', image: 'tether.image',
};

const START_SESSION = '"Tether: Start Session…"';

/**
 * What the IDE says and offers for each reason of PROTOCOL.md, after the backend's message: in a launch, and
 * from the palette. A unit test checks that this table and PROTOCOL.md's list the same reasons.
 */
export const REASONS: Record<string, { launch?: string; command?: string; action?: IdeAction }> = {
  'invalid-field': {},
  'service-not-found': { launch: `${START_SESSION} lists the namespace's Services.`,
    command: `Pick one of the namespace's Services in ${START_SESSION}.` },
  'namespace-not-found': { launch: 'The setting tether.namespace applies when launch.json names none.',
    command: `Pick or type another namespace in ${START_SESSION}.` },
  'held-by-own-session': { action: 'cleanUp' },
  'held-by-other-session': { action: 'cleanUp' },
  'held-by-running-session': { launch: '"Tether: Show Sessions" lists it.', command: '"Tether: Show Sessions" lists it.' },
  'needs-recover': { action: 'recover' },
  'strategy-unsuitable': {},
  'forbidden': {},
};

/** The message, the field to check, the reason's own sentence and the hint, and the actions that resolve it. */
export function forIde(failure: Failure, where: Where): IdeText {
  const actions = new Set<IdeAction>();
  const parts = [sentence(failure.message.trim())];
  const launchField = failure.field ? LAUNCH_FIELDS[failure.field] : undefined;
  if (where === 'launch' && launchField) parts.push(`Check ${launchField} in launch.json.`);
  const known = failure.reason ? REASONS[failure.reason] : undefined;
  const extra = where === 'launch' ? known?.launch : known?.command;
  if (extra) parts.push(extra);
  if (known?.action) actions.add(known.action);
  if (failure.hint?.trim()) parts.push(sentence(capitalised(failure.hint.trim())));
  const category = failure.category;
  if (where === 'launch' && (category === 'user' || category === 'config') && actions.size === 0) {
    actions.add('openLaunchJson');
  }
  // From the palette, trying again walks the picks again: another namespace, Service or port.
  if (category === 'cluster' || where === 'command') actions.add('retry');
  actions.add('showLog');
  return { text: parts.join(' '), actions: [...actions] };
}

function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
