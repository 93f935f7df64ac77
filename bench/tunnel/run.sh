#!/usr/bin/env bash
# bench/tunnel: Tether's reverse path (client -> shadow listener -> tunnel -> local HTTP server) beside
# OpenSSH `ssh -R` (kt-connect's transport), a socat relay and direct loopback, all in ONE run so the rows
# are comparable. Then shadow RSS with 1,000 open streams and the CPU an idle session uses. Prints; never
# fails a build.
#
# The peers are set up here (nginx serving the payloads, sshd with a throw-away host key, `ssh -R` with the
# same cipher and options for every run, the same wrk command), with every port picked free, so a server
# left behind by another run cannot answer for a row, and with the peers alive while the bulk table repeats
# downloads. Bulk is the MEDIAN of BULK_ROUNDS (default 5) 100 MiB downloads per row with the rows
# interleaved, because one download per row varies by +-15% on a shared 2-core machine; it also prints the
# CPU the tunnel's two ends spent per GiB (ssh + sshd, tether client + shadow), the CPU of the load (nginx +
# curl) per GiB, and the throughput those costs allow with every core busy. Whole runs still differ by
# up to ~20%, since each row keeps one TCP connection whose kernel state (and the machine's load) varies:
# compare rows of one run, and use BASE_BUILD for a before/after.
# Usage: bench/tunnel/run.sh BUILD_DIR [seconds-per-row] [idle-seconds]
#   BASE_BUILD=DIR adds a row "tether-base" run from another build's binaries (e.g. a copy made before a
#   change), so a before/after comparison shares one run's noise as well.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run.sh BUILD_DIR [seconds-per-row] [idle-seconds]}
secs=${2:-5}
idle=${3:-60}
rounds=${BULK_ROUNDS:-5}
py=/usr/bin/python3
work=$(mktemp -d /tmp/tether-bench-tunnel.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
give_up() { echo "bench/tunnel: $1"; for f in "$work"/*.log "$work"/*.out; do [ -s "$f" ] && tail -n 20 "$f"; done; exit 0; }

# Ports that are free now, distinct, and below the kernel's ephemeral range (32768 and up by default), so
# no outgoing connection of wrk or curl can take one before the server that owns it binds.
ports=($("$py" -c '
import random, socket
found = set()
while len(found) < 12:
    p = random.randrange(20000, 32000)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", p))
            found.add(p)
        except OSError:
            pass
print(*found)'))
next_port=0
take_port() { printf -v "$1" '%s' "${ports[$next_port]}"; next_port=$((next_port + 1)); }
# Polls until an HTTP GET through port $1 succeeds (giving up early when process $2, if given, is gone):
# a readiness check with a bound, not a fixed sleep.
wait_http() {
  for _ in $(seq 100); do
    curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$1/small" && return 0
    [ -z "${2:-}" ] || kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

for v in http_port ssh_port ssh_remote socat_port tether_remote hold_port hold_remote; do take_port "$v"; done

# Started by root, nginx's workers run as another user (nobody): the files must be readable past mktemp's 0700.
chmod 755 "$work"
mkdir -p "$work/www"
head -c 100 /dev/zero | tr '\0' 'x' > "$work/www/small"
big_bytes=104857600
head -c "$big_bytes" /dev/urandom > "$work/www/big"
cat > "$work/nginx.conf" <<NG
worker_processes 1; pid $work/nginx.pid; error_log $work/nginx.log; daemon off;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work;
       uwsgi_temp_path $work; scgi_temp_path $work;
       server { listen 127.0.0.1:$http_port; root $work/www; } }
NG
nginx -c "$work/nginx.conf" & pids+=($!); nginx_pid=$!

ssh-keygen -q -t ed25519 -N '' -f "$work/id"; cp "$work/id.pub" "$work/authorized_keys"; chmod 600 "$work/authorized_keys"
ssh-keygen -q -t ed25519 -N '' -f "$work/hostkey"
mkdir -p /run/sshd 2>/dev/null || true
/usr/sbin/sshd -D -p "$ssh_port" -o ListenAddress=127.0.0.1 -h "$work/hostkey" -o PidFile="$work/sshd.pid" \
  -o AuthorizedKeysFile="$work/authorized_keys" -o StrictModes=no -o GatewayPorts=no 2> "$work/sshd.log" &
sshd_pid=$!; pids+=($sshd_pid)
socat "TCP-LISTEN:$socat_port,bind=127.0.0.1,fork,reuseaddr" "TCP:127.0.0.1:$http_port" & pids+=($!)
wait_http "$http_port" || give_up "nginx did not come up"
# sshd binds asynchronously; ssh is retried until the forward answers.
for _ in $(seq 20); do
  ssh -q -N -i "$work/id" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ExitOnForwardFailure=yes \
    -p "$ssh_port" -R "$ssh_remote:127.0.0.1:$http_port" "$(id -un)@127.0.0.1" 2>> "$work/ssh.log" &
  ssh_pid=$!
  wait_http "$ssh_remote" "$ssh_pid" && break
  kill "$ssh_pid" 2>/dev/null; wait "$ssh_pid" 2>/dev/null
  ssh_pid=
  sleep 0.2
done
[ -n "${ssh_pid:-}" ] || give_up "ssh -R did not come up"
pids+=($ssh_pid)

# Starts a shadow and a client from build $1 (logs named $2) forwarding to nginx, plus any extra
# --reverse arguments; sets shadow_pid and client_pid. The last --reverse given is the one waited for.
start_tether() {
  local dir=$1 name=$2 tport last token
  shift 2
  take_port tport
  token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  TETHER_SHADOW_TOKEN=$token "$dir/shadow/tether-shadow" --tunnel-port "$tport" --ready-port 0 \
    --ready-host 127.0.0.1 --listen-host 127.0.0.1 --log-level warn > "$work/$name-shadow.log" 2>&1 &
  shadow_pid=$!; pids+=($shadow_pid)
  # The agent logs its bound port; wait for that line rather than for a fixed time.
  timeout 10 grep -q -m1 "event=started" <(tail -F "$work/$name-shadow.log" 2>/dev/null) || true
  local args=()
  for r in "$@"; do args+=(--reverse "$r"); last=${r%%:*}; done
  TETHER_TOKEN=$token "$dir/server/tunnel/tether-tunnel" --connect "127.0.0.1:$tport" "${args[@]}" \
    --log-level warn > "$work/$name-client.out" 2> "$work/$name-client.log" &
  client_pid=$!; pids+=($client_pid)
  timeout 10 grep -q -m1 "listener port=$last code=\"ok\"" <(tail -F "$work/$name-client.out" 2>/dev/null)
}

rows=(direct:$http_port ssh-R:$ssh_remote socat:$socat_port)
# The CPU of the ssh row is ssh's plus that of the sshd processes serving its connection.
ssh_side=$ssh_pid
for p in $(pgrep -P "$sshd_pid"); do ssh_side+=",$p"; for c in $(pgrep -P "$p"); do ssh_side+=",$c"; done; done
bulk_rows=(direct:$http_port "ssh-R:$ssh_remote:$ssh_side")
if [ -n "${BASE_BUILD:-}" ]; then
  take_port base_remote
  start_tether "$BASE_BUILD" base "$base_remote:$http_port" && wait_http "$base_remote" ||
    give_up "the tunnel of BASE_BUILD did not come up"
  rows+=(tether-base:$base_remote)
  bulk_rows+=("tether-base:$base_remote:$client_pid,$shadow_pid")
fi
start_tether "$build" tether "$tether_remote:$http_port" "$hold_remote:$hold_port" || give_up "the tunnel did not come up"
wait_http "$tether_remote" || give_up "the tether reverse listener does not answer"
rows+=(tether:$tether_remote)
bulk_rows+=("tether:$tether_remote:$client_pid,$shadow_pid")

echo "bench/tunnel: wrk -t1 -c32 ${secs}s on a 100-byte file, per row (one run)"
printf "%-12s %12s %10s %10s\n" path req_per_s p50 p99
for p in "${rows[@]}"; do
  n=${p%%:*}; port=${p##*:}
  out=$(wrk -t1 -c32 -d"${secs}"s --latency "http://127.0.0.1:$port/small" 2>&1)
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  p50=$(awk '$1=="50%"{print $2}' <<<"$out"); p99=$(awk '$1=="99%"{print $2}' <<<"$out")
  printf "%-12s %12s %10s %10s\n" "$n" "${rps:-n/a}" "${p50:-n/a}" "${p99:-n/a}"
done

# nginx's master and worker: with curl, the load that shares the cores with every row's tunnel.
load_pids=$(pgrep -P "$nginx_pid" | paste -sd, -)
LOAD_PIDS="$nginx_pid,$load_pids" "$py" "$here/bulk.py" "$rounds" /big "$big_bytes" "${bulk_rows[@]}" ||
  echo "bench/tunnel: bulk measurement failed"

"$py" "$here/streams.py" "$hold_remote" "$hold_port" 1000 "$shadow_pid" || echo "bench/tunnel: streams measurement failed"

cpu() { awk '{printf "%d", $14 + $15}' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)
s0=$(cpu "$shadow_pid"); c0=$(cpu "$client_pid")
sleep "$idle"   # a measurement window, not a synchronisation
s1=$(cpu "$shadow_pid"); c1=$(cpu "$client_pid")
awk -v s=$((s1 - s0)) -v c=$((c1 - c0)) -v t="$tick" -v w="$idle" \
  'BEGIN { printf "idle session CPU over %d s: shadow %.2f s, client %.2f s (aim < 0.1 s)\n", w, s / t, c / t }'
exit 0
