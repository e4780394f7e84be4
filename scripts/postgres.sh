#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL cluster on a free loopback port.
#   scripts/postgres.sh start DIR   → prints the postgres:// URL
#   scripts/postgres.sh stop DIR
#   scripts/postgres.sh resume DIR  → starts a stopped cluster again on its port (outage checks)
set -euo pipefail
action=$1
dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
run_as() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$action" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    port=$("$(dirname "$0")/free-port")
    run_as "$bin/initdb" -D "$dir/data" -U ecosire --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1
    options="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    echo "$options" >"$dir/options"
    run_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o "$options" start >/dev/null
    run_as "$bin/createdb" -h 127.0.0.1 -p "$port" -U ecosire ecosire
    echo "postgres://ecosire@127.0.0.1:$port/ecosire"
    ;;
  resume)
    run_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o "$(cat "$dir/options")" start >/dev/null
    ;;
  stop)
    [ -d "$dir/data" ] && run_as "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
esac
