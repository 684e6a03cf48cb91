#!/bin/bash
# A throw-away PostgreSQL server for the tests and benchmarks: a cluster
# of its own under DIR, listening on a Unix socket in DIR only (no TCP
# port to collide with), run as the postgres user (initdb refuses root).
#
#   tools/pg-server.sh start DIR   starts it (creating the cluster once) and
#                                  prints its connection string
#   tools/pg-server.sh url DIR     prints the connection string
#   tools/pg-server.sh stop DIR    stops it (the cluster is kept)
#   tools/pg-server.sh wipe DIR    stops it and removes DIR
#
# The connection string is a libpq URI: postgresql:///kanri?host=DIR&port=P
# (P is fixed per DIR, so a second start gives the same one).  Debian's
# postgresql-15 provides the server (make test-deps installs it).
set -euo pipefail

usage() { echo "usage: $0 start|url|stop|wipe DIR" >&2; exit 2; }
[ $# = 2 ] || usage
cmd=$1
dir=$(realpath -m "$2")
bin=${KANRI_PG_BIN:-/usr/lib/postgresql/15/bin}
data=$dir/data
# A port per directory: only the socket's name, since nothing listens on TCP.
port=$(( 20000 + $(printf %s "$dir" | cksum | cut -d' ' -f1) % 20000 ))
url="postgresql:///kanri?host=$dir&port=$port&user=postgres"

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

running() { [ -f "$data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; }

case $cmd in
start)
    if [ ! -x "$bin/initdb" ]; then
        echo "$0: no PostgreSQL 15 server in $bin (apt-get install postgresql-15, or make test-deps)" >&2
        exit 1
    fi
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    chmod 755 "$dir"
    # Every directory above DIR must let postgres through.
    d=$(dirname "$dir")
    while [ "$d" != / ]; do
        if ! runuser -u postgres -- test -x "$d" 2>/dev/null && [ "$(id -u)" = 0 ]; then
            chmod o+x "$d"
        fi
        d=$(dirname "$d")
    done
    if [ ! -f "$data/PG_VERSION" ]; then
        as_pg "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if ! running; then
        # Tuned for tests, not for keeping data through a power cut.
        as_pg "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
            -o "-p $port -k $dir -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start >/dev/null || { tail -20 "$dir/server.log" >&2; exit 1; }
    fi
    if ! as_pg "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -Atqc \
            "SELECT 1 FROM pg_database WHERE datname = 'kanri'" | grep -q 1; then
        as_pg "$bin/createdb" -h "$dir" -p "$port" -U postgres kanri
    fi
    echo "$url"
    ;;
url)
    echo "$url"
    ;;
stop)
    if running; then as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null; fi
    ;;
wipe)
    if running; then as_pg "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null; fi
    rm -rf "$dir"
    ;;
*)
    usage
    ;;
esac
