#!/usr/bin/env bash
# bench/rpc: N requests through `tether serve --stdio` over pipes, beside the same client against a
# minimal vscode-jsonrpc server (the library the VS Code extension uses), in the same run.
# Usage: bench/rpc/run.sh BUILD_DIR [REQUESTS]. Prints a table; never fails the build.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run.sh BUILD_DIR [REQUESTS]}
requests=${2:-20000}
if [[ ! -d $here/peer/node_modules/vscode-jsonrpc ]]; then
  (cd "$here/peer" && npm ci --no-audit --no-fund --silent)
fi
echo "bench/rpc: $requests requests per phase; latency = one request at a time, throughput = 64 in flight"
printf "%-22s %10s %10s %14s\n" server p50_us p99_us messages_per_s
"$build/bench/rpc_bench" --label "tether (C++)" --requests "$requests" -- \
  "$build/server/tether" serve --stdio --log-level=off || true
"$build/bench/rpc_bench" --label "vscode-jsonrpc (Node)" --requests "$requests" -- \
  node "$here/peer/echo-server.js" || true
