// The ports step: a free high local port suggested and said, what the user typed checked in the step's words,
// and the program holding a port found in /proc.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { test } from 'node:test';
import { exposeInputProblem, exposeLocalPorts, heldPortNote, listeningInodes, portHolder, portIsFree, suggestedExpose, suggestLocalPort } from '../../src/ports';

const freeExcept = (...busy: number[]) => async (port: number) => !busy.includes(port);

test('a Service port below 1024 gets a free high local port, never port 80 itself', async () => {
  assert.equal(await suggestLocalPort(80, freeExcept()), 10080);
  assert.equal(await suggestLocalPort(80, freeExcept(10080)), 18080);
  assert.equal(await suggestLocalPort(80, freeExcept(10080, 18080)), 18081);
  assert.equal(await suggestLocalPort(8080, freeExcept()), 8080);
  assert.equal(await suggestedExpose([{ port: 80, name: 'http' }, { port: 443, name: 'https' }, { port: 9090 }],
    freeExcept(10443)), '10080:http,18080:https,9090:9090');
});

test('what the user typed: the shape, and a local port within 1-65535, said in the step\'s words', () => {
  assert.equal(exposeInputProblem('18080:http, 18443:443'), undefined);
  assert.match(exposeInputProblem('')!, /Name at least one port/);
  assert.match(exposeInputProblem('x:http')!, /"x:http": write LOCAL:PORT/);
  assert.match(exposeInputProblem('0:http')!, /between 1 and 65535/);
  assert.match(exposeInputProblem('70000')!, /between 1 and 65535/);
});

test('a typed local port that something listens on gets a note naming it; free ports get none', async () => {
  assert.deepEqual(exposeLocalPorts('18080:http, 18443:443,18080:metrics, 0:x'), [18080, 18443]);
  const holders = (port: number) => (port === 18443 ? 'node server.js (pid 7)' : undefined);
  assert.equal(await heldPortNote('18080:http, 18443:443', freeExcept(), holders), undefined);
  assert.equal(await heldPortNote('18080:http, 18443:443', freeExcept(18443), holders),
    '127.0.0.1:18443 is already in use by node server.js (pid 7): the Service\'s requests will go to it. ' +
    'If that is not your service, pick another local port.');
  assert.match((await heldPortNote('18080', freeExcept(18080), holders))!, /in use by another program:/);
});

test('the listening socket of a port is found in /proc/net/tcp (LISTEN only)', () => {
  const table = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
    '   0: 0100007F:46B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1\n' +
    '   1: 0100007F:46B3 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4343 1\n';
  assert.deepEqual(listeningInodes(table, 0x46B3), ['4242']);
  assert.deepEqual(listeningInodes(table, 80), []);
});

test('a port held by a real listener is not free, and its holder is named with its pid', async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    assert.equal(await portIsFree(port), false);
    const holder = portHolder(port);
    assert.ok(holder?.endsWith(`(pid ${process.pid})`), holder);
    assert.ok(holder?.includes(fs.readFileSync('/proc/self/cmdline', 'utf8').split('\0')[0]), holder);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  assert.equal(portHolder(port), undefined);
});
