#!/usr/bin/env bash
# bench/tunnel: Tether's reverse path (client -> shadow listener -> tunnel -> local HTTP server) beside
# OpenSSH `ssh -R` (kt-connect's transport) and direct loopback, measured in ONE run by the shared
# baseline script (its extra-row argument), so the rows are comparable. Then shadow RSS with 1,000 open
# streams and the CPU an idle session uses. Prints; never fails a build.
# Usage: bench/tunnel/run.sh BUILD_DIR [seconds-per-row] [idle-seconds]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run.sh BUILD_DIR [seconds-per-row] [idle-seconds]}
secs=${2:-5}
idle=${3:-60}
baseline=${BASELINE:-$here/../../../shared/bench/baseline-tunnels.sh}
work=$(mktemp -d /tmp/tether-bench-tunnel.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
tunnel_port=$(free_port)
http_remote=19092   # forwards to the baseline's nginx on 18081
hold_remote=19093   # forwards to streams.py's holder on 18082

TETHER_SHADOW_TOKEN=$token "$build/shadow/tether-shadow" --tunnel-port "$tunnel_port" --ready-port 0 \
  --ready-host 127.0.0.1 --listen-host 127.0.0.1 --log-level warn > "$work/shadow.log" 2>&1 &
shadow_pid=$!; pids+=($shadow_pid)
# The agent logs its bound port; wait for that line rather than for a fixed time.
timeout 10 grep -q -m1 "event=started" <(tail -F "$work/shadow.log" 2>/dev/null) || true
TETHER_TOKEN=$token "$build/server/tunnel/tether-tunnel" --connect "127.0.0.1:$tunnel_port" \
  --reverse "$http_remote:18081" --reverse "$hold_remote:18082" --log-level warn > "$work/client.out" 2> "$work/client.log" &
client_pid=$!; pids+=($client_pid)
if ! timeout 10 grep -q -m1 "listener port=$hold_remote code=\"ok\"" <(tail -F "$work/client.out" 2>/dev/null); then
  echo "bench/tunnel: the tunnel did not come up"; cat "$work/client.out" "$work/client.log" "$work/shadow.log"; exit 0
fi

echo "bench/tunnel: wrk -t1 -c32 ${secs}s on a 100-byte file, then a 100 MiB download, per row (one run)"
bash "$baseline" "$secs" "tether:$http_remote" || echo "bench/tunnel: baseline script failed"

python3 "$here/streams.py" "$hold_remote" 18082 1000 "$shadow_pid" || echo "bench/tunnel: streams measurement failed"

cpu() { awk '{printf "%d", $14 + $15}' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)
s0=$(cpu "$shadow_pid"); c0=$(cpu "$client_pid")
sleep "$idle"   # a measurement window, not a synchronisation
s1=$(cpu "$shadow_pid"); c1=$(cpu "$client_pid")
awk -v s=$((s1 - s0)) -v c=$((c1 - c0)) -v t="$tick" -v w="$idle" \
  'BEGIN { printf "idle session CPU over %d s: shadow %.2f s, client %.2f s (aim < 0.1 s)\n", w, s / t, c / t }'
