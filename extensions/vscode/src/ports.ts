// Local ports: the one to suggest for a Service port (free, above 1024, said out loud), the check of what the
// user typed, and who holds a port already (Linux /proc), so a launch can name the program in the way.
import * as fs from 'node:fs';
import * as net from 'node:net';

/** Whether 127.0.0.1:port can be listened on now. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * A local port for `servicePort`: the same number when it is 1024 or above (no root needed to listen), else
 * 10000 + it, else the first of 18080… that is free and not `taken` already by this suggestion.
 */
export async function suggestLocalPort(servicePort: number, isFree: (port: number) => Promise<boolean>,
  taken: Set<number> = new Set()): Promise<number | undefined> {
  const candidates = [servicePort >= 1024 ? servicePort : undefined,
    servicePort + 10000 <= 65535 ? servicePort + 10000 : undefined];
  for (let port = 18080; port < 18180; port++) candidates.push(port);
  for (const port of candidates) {
    if (port !== undefined && !taken.has(port) && await isFree(port)) return port;
  }
  return undefined;
}

/** The ports step's first value: one LOCAL:REMOTE per Service port, each LOCAL a suggested free port. */
export async function suggestedExpose(ports: { port: number; name?: string }[],
  isFree: (port: number) => Promise<boolean>): Promise<string> {
  const taken = new Set<number>();
  const items: string[] = [];
  for (const p of ports) {
    const local = await suggestLocalPort(p.port, isFree, taken);
    if (local === undefined) continue;
    taken.add(local);
    items.push(`${local}:${p.name ?? p.port}`);
  }
  return items.join(',');
}

/** What is wrong with the ports the user typed, in the ports step's own words; undefined when nothing is. */
export function exposeInputProblem(text: string): string | undefined {
  const items = text.split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (items.length === 0) return 'Name at least one port: LOCAL:PORT, e.g. 18080:http.';
  for (const item of items) {
    const match = /^(\d{1,5})(?::([A-Za-z0-9-]+))?$/.exec(item);
    if (!match) return `"${item}": write LOCAL:PORT, e.g. 18080:http (LOCAL a number, PORT the Service's port number or name).`;
    const local = Number(match[1]);
    if (local < 1 || local > 65535) return `"${item}": the local port must be between 1 and 65535.`;
  }
  return undefined;
}

/** The LOCAL ports of a ports-step text that parses (see exposeInputProblem), in order and without repeats. */
export function exposeLocalPorts(text: string): number[] {
  const ports: number[] = [];
  for (const item of text.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const local = Number(/^(\d{1,5})/.exec(item)?.[1]);
    if (local >= 1 && local <= 65535 && !ports.includes(local)) ports.push(local);
  }
  return ports;
}

/**
 * A note for a typed LOCAL port that something already listens on. It is not an error: from the palette that
 * is usually the user's own process, which is meant to receive the Service's requests; but the user should
 * know where they will go. `holderOf` names the program, when this machine can tell.
 */
export async function heldPortNote(text: string, isFree: (port: number) => Promise<boolean>,
  holderOf: (port: number) => string | undefined): Promise<string | undefined> {
  for (const port of exposeLocalPorts(text)) {
    if (await isFree(port)) continue;
    return `127.0.0.1:${port} is already in use by ${holderOf(port) ?? 'another program'}: the Service's requests ` +
      `will go to it. If that is not your service, pick another local port.`;
  }
  return undefined;
}

/** The socket inodes listening on `port` in a /proc/net/tcp or tcp6 text. */
export function listeningInodes(procNetTcp: string, port: number): string[] {
  const inodes: string[] = [];
  for (const line of procNetTcp.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10) continue;
    const localPort = parseInt(fields[1].split(':')[1] ?? '', 16);
    if (localPort === port && fields[3] === '0A') inodes.push(fields[9]);  // 0A: LISTEN
  }
  return inodes;
}

/** "python3 -m http.server 18099 (pid 4242)" for the process listening on `port`, when this user may see it. */
export function portHolder(port: number, proc = '/proc'): string | undefined {
  const inodes = new Set<string>();
  for (const table of ['tcp', 'tcp6']) {
    try {
      for (const inode of listeningInodes(fs.readFileSync(`${proc}/net/${table}`, 'utf8'), port)) inodes.add(inode);
    } catch { /* no such table */ }
  }
  if (inodes.size === 0) return undefined;
  for (const pid of fs.readdirSync(proc).filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`${proc}/${pid}/fd`);
    } catch {
      continue;  // another user's process, or gone
    }
    for (const fd of fds) {
      let target = '';
      try { target = fs.readlinkSync(`${proc}/${pid}/fd/${fd}`); } catch { continue; }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && inodes.has(inode)) {
        let command = '';
        try {
          command = fs.readFileSync(`${proc}/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '').join(' ');
        } catch { /* it exited meanwhile */ }
        return `${command || `process ${pid}`} (pid ${pid})`;
      }
    }
  }
  return undefined;
}
