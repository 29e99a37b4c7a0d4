#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and local development.
#
#   scripts/postgres.sh start DIR   initdb into DIR, start on 127.0.0.1 at a free port, create
#                                   role and database "plaza", print the DATABASE_URL
#   scripts/postgres.sh stop DIR    stop that cluster and delete DIR
#   scripts/postgres.sh pause DIR   stop that cluster's server (fast shutdown: open connections
#                                   are cut) and keep DIR, to simulate a database outage
#   scripts/postgres.sh resume DIR  start the paused server again on the same port
#
# DIR must be empty or absent. The server listens on loopback only, keeps its unix socket in
# DIR, and runs with fsync off: fast, and not for data you want to keep. As root it runs as
# the `postgres` system user (PostgreSQL refuses to run as root). scripts/with-postgres.sh
# wraps a command in start/stop.
set -euo pipefail

PATH="$PATH:/usr/sbin:/sbin"  # runuser
MARKER=.plaza-postgres  # only a DIR holding this file is ever deleted by `stop`

die() {
    echo "postgres.sh: $*" >&2
    exit 1
}

# The directory holding initdb, pg_ctl and psql of one PostgreSQL version: PG_BINDIR, else
# the one pg_ctl on PATH belongs to, else the newest under /usr/lib/postgresql (Debian keeps
# the server binaries off PATH).
find_bindir() {
    local candidate
    if [[ -n "${PG_BINDIR:-}" ]]; then
        echo "$PG_BINDIR"
        return
    fi
    if candidate=$(command -v pg_ctl); then
        candidate=$(dirname "$(readlink -f "$candidate")")
        if [[ -x "$candidate/initdb" ]]; then
            echo "$candidate"
            return
        fi
    fi
    candidate=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/pg_ctl' \
        2>/dev/null | sort -V | tail -n 1 || true)
    [[ -n "$candidate" ]] || return 1
    dirname "$candidate"
}

# Run a command as the cluster's owner: ourselves, or `postgres` when we are root.
as_owner() {
    if [[ $EUID -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0));
print(s.getsockname()[1])' 2>/dev/null || echo $((40000 + RANDOM % 20000))
}

start() {
    local dir=$1 bin port password attempt locale=C.UTF-8
    bin=$(find_bindir) || die "PostgreSQL server binaries (initdb, pg_ctl) not found." \
        "Install them with: apt-get install postgresql (or set PG_BINDIR)."
    [[ -x "$bin/initdb" && -x "$bin/pg_ctl" && -x "$bin/psql" ]] ||
        die "initdb, pg_ctl or psql missing in $bin. Install: apt-get install postgresql"
    if [[ $EUID -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        die "running as root needs a 'postgres' system user to own the server" \
            "(apt-get install postgresql creates it), or run as a normal user."
    fi

    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [[ -z "$(ls -A "$dir")" ]] || die "$dir is not empty."
    # Unix socket paths are limited to 107 bytes.
    ((${#dir} <= 80)) || die "$dir is too long a path for the server's unix socket."
    touch "$dir/$MARKER"
    chmod 700 "$dir"
    [[ $EUID -ne 0 ]] || chown postgres: "$dir"

    # A UTF-8 locale, so upper()/lower() treat non-ASCII letters as production servers do.
    locale -a 2>/dev/null | grep -ix 'c\.utf-\?8' >/dev/null || locale=C
    password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    # shellcheck disable=SC2016 # "$1" is expanded by the inner sh
    as_owner sh -c 'umask 077 && cat > "$1"' sh "$dir/superuser-password" <<<"$password"
    as_owner "$bin/initdb" --pgdata="$dir/data" --username=postgres --encoding=UTF8 \
        --locale="$locale" --auth-local=trust --auth-host=scram-sha-256 \
        --pwfile="$dir/superuser-password" --no-sync >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; die "initdb failed (its output is above)."; }
    # shellcheck disable=SC2016
    as_owner sh -c 'cat >> "$1"' sh "$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF

    # A port free now may be taken before the server binds it: try a few.
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        if as_owner "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait \
            --timeout=60 --options="-p $port" start >/dev/null; then
            break
        fi
        if ((attempt == 5)); then
            tail -n 20 "$dir/server.log" >&2
            die "the server did not start (the end of its log is above)."
        fi
    done

    echo "$port" >"$dir/port"  # for `resume`

    as_owner "$bin/psql" --quiet --no-psqlrc --host="$dir" --port="$port" --username=postgres \
        --dbname=postgres --set=ON_ERROR_STOP=1 \
        --command="CREATE ROLE plaza LOGIN CREATEDB PASSWORD '$password'" \
        --command="CREATE DATABASE plaza OWNER plaza" >/dev/null
    echo "postgres://plaza:$password@127.0.0.1:$port/plaza"
}

stop() {
    local dir=$1 bin
    [[ -d "$dir" ]] || return 0
    if [[ -z "$(ls -A "$dir")" ]]; then  # start failed before making anything
        rmdir "$dir"
        return
    fi
    [[ -f "$dir/$MARKER" ]] || die "$dir was not made by postgres.sh; not touching it."
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        bin=$(find_bindir) || die "pg_ctl not found; cannot stop the server in $dir."
        as_owner "$bin/pg_ctl" --pgdata="$dir/data" --mode=immediate --wait stop >/dev/null ||
            echo "postgres.sh: could not stop the server in $dir (already gone?)" >&2
    fi
    rm -rf "$dir"
}

# The directory of a cluster made by `start`, whose server binaries are found.
cluster() {
    local dir=$1
    [[ -f "$dir/$MARKER" && -f "$dir/port" ]] || die "$dir holds no cluster made by postgres.sh."
    bin=$(find_bindir) || die "pg_ctl not found."
}

pause() {
    local dir=$1 bin
    cluster "$dir"
    as_owner "$bin/pg_ctl" --pgdata="$dir/data" --mode=fast --wait stop >/dev/null
}

resume() {
    local dir=$1 bin
    cluster "$dir"
    as_owner "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --timeout=60 \
        --options="-p $(cat "$dir/port")" start >/dev/null ||
        { tail -n 20 "$dir/server.log" >&2; die "the server did not start again (log above)."; }
}

case "${1:-}" in
    start | stop | pause | resume)
        [[ $# -eq 2 ]] || die "usage: $0 $1 DIR"
        "$1" "$2"
        ;;
    *)
        echo "usage: $0 start DIR | stop DIR | pause DIR | resume DIR" >&2
        exit 2
        ;;
esac
