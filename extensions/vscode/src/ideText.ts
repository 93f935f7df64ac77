// The backend's errors in the IDE's own terms. The backend writes for every client, and many of its sentences
// name command-line flags and `tether ...` commands; in VS Code the user needs the launch.json field or the
// extension's command instead, and a button that does it. Pure, so test/unit covers every rewrite.

/** What the notification offers. */
export type IdeAction = 'cleanUp' | 'openLaunchJson' | 'retry' | 'showLog';

export const ACTION_LABELS: Record<IdeAction, string> = {
  cleanUp: 'Clean Up Stale Sessions', openLaunchJson: 'Open launch.json', retry: 'Retry', showLog: 'Show Log',
};

/** Where the failure happened: a debug launch (its launch.json names things) or a command of the palette. */
export type Where = 'launch' | 'command';

export interface IdeText { text: string; actions: IdeAction[] }

/** The closing sentence the backend puts after every failed start; the IDE says it once, shorter. */
const LEFT_AS_IT_WAS = /;?\s*Tether left the cluster as it was; fix what the message names and start again\.?/;

interface Rewrite { pattern: RegExp; launch: string; command: string; action?: IdeAction }

const REWRITES: Rewrite[] = [
  { pattern: /`tether services -n [^`]+` lists them/g,
    launch: 'check tether.service in launch.json ("Tether: Start Session…" lists the namespace\'s Services)',
    command: 'pick one of the namespace\'s Services in "Tether: Start Session…"' },
  { pattern: /`tether namespaces` lists them \(or pass -n with the right one\)/g,
    launch: 'check tether.namespace in launch.json, or the setting tether.namespace',
    command: 'pick or type another namespace in "Tether: Start Session…"' },
  { pattern: /run `tether clean -n [^`]+`/g, launch: 'run "Tether: Clean Up Stale Sessions"',
    command: 'run "Tether: Clean Up Stale Sessions"', action: 'cleanUp' },
  { pattern: /`tether clean`/g, launch: '"Tether: Clean Up Stale Sessions"', command: '"Tether: Clean Up Stale Sessions"',
    action: 'cleanUp' },
  { pattern: /--expose\b/g, launch: 'tether.expose', command: 'the ports' },
  // The JSON field as the backend names it to IDEs ("expose 80:web: …", "write expose as …"); not the verb
  // ("expose a Service port").
  { pattern: /(^|[\s(])expose\b(?=:| \d| as | is required| was given)/g, launch: '$1tether.expose',
    command: '$1the ports' },
  { pattern: /--strategy\b|exchange\.strategy/g, launch: 'tether.strategy', command: 'the strategy' },
  { pattern: /\bpass -n\b/g, launch: 'set tether.namespace', command: 'pick the namespace' },
];

/**
 * The message and hint of a backend error as the IDE says them: CLI flags and commands replaced by launch.json
 * fields and the extension's commands, the generic closing sentence replaced by "Nothing in the cluster was
 * changed.", and the actions that resolve it.
 */
export function forIde(message: string, hint: string | undefined, where: Where, category?: string): IdeText {
  const actions = new Set<IdeAction>();
  const rewrite = (text: string) => {
    let out = text;
    for (const r of REWRITES) {
      if (r.pattern.test(out)) {
        r.pattern.lastIndex = 0;
        out = out.replace(r.pattern, where === 'launch' ? r.launch : r.command);
        if (r.action) actions.add(r.action);
      }
      r.pattern.lastIndex = 0;
    }
    return out;
  };
  const leftAsItWas = LEFT_AS_IT_WAS.test(message) || LEFT_AS_IT_WAS.test(hint ?? '');
  let text = rewrite(message.replace(LEFT_AS_IT_WAS, '')).trim();
  const extra = hint ? rewrite(hint.replace(LEFT_AS_IT_WAS, '')).trim() : '';
  text = sentence(text);
  if (extra) text += ` ${sentence(capitalised(extra))}`;
  if (leftAsItWas) text += ' Nothing in the cluster was changed.';
  if (where === 'launch' && (category === 'user' || category === 'config') && !actions.has('cleanUp')) {
    actions.add('openLaunchJson');
  }
  // From the palette, trying again walks the picks again: another namespace, Service or port.
  if (category === 'cluster' || where === 'command') actions.add('retry');
  actions.add('showLog');
  return { text, actions: [...actions] };
}

function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
