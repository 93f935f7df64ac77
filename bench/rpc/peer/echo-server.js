// The peer of bench/rpc: the smallest useful JSON-RPC server on vscode-jsonrpc over stdio. It answers
// the same methods as `tether serve --stdio` with the same shapes, so rpc_bench measures only the servers.
'use strict';
const rpc = require('vscode-jsonrpc/node');

const connection = rpc.createMessageConnection(
  new rpc.StreamMessageReader(process.stdin), new rpc.StreamMessageWriter(process.stdout));
connection.onRequest('initialize', () => ({
  serverInfo: {name: 'vscode-jsonrpc-peer', version: '8'},
  capabilities: {tether: {protocolVersion: 1, methods: ['tether/version']}},
}));
connection.onRequest('tether/version', () => ({
  name: 'vscode-jsonrpc-peer', version: '8', protocolVersion: 1, buildType: 'Release',
}));
connection.onRequest('shutdown', () => null);
connection.onNotification('exit', () => process.exit(0));
connection.listen();
