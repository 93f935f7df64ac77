#!/bin/sh
# A PostgreSQL server as a kubesim pod (image e2e/postgres): a fresh cluster in a temporary directory,
# trusting every client (the tests connect from the pod network), listening on 5432. PostgreSQL refuses to
# run as root, so it runs as Debian's `postgres` user.
set -e
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
dir=$(mktemp -d /tmp/e2e-postgres-XXXXXX)
chown postgres "$dir"
runuser -u postgres -- "$bin/initdb" -D "$dir/data" --auth=trust -U postgres >/dev/null
echo "host all all 0.0.0.0/0 trust" >> "$dir/data/pg_hba.conf"
runuser -u postgres -- "$bin/postgres" -D "$dir/data" -c listen_addresses='*' -c unix_socket_directories="$dir" \
  -p 5432 &
server=$!
# The pod's end (SIGTERM) stops the server and removes its files.
trap 'kill "$server" 2>/dev/null; wait "$server"; rm -rf "$dir"; exit 0' TERM INT
wait "$server"
rm -rf "$dir"
