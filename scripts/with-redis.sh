#!/usr/bin/env bash
# Run a command against a throwaway Redis server:
#
#   scripts/with-redis.sh .venv/bin/pytest -m redis
#
# starts redis-server on 127.0.0.1 at a free port, with no persistence, in a temporary
# directory; exports REDIS_URL; runs the command; then stops the server and deletes the
# directory, also when the command fails or is interrupted. Exits with the command's code.
set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 2
fi
if ! command -v redis-server >/dev/null; then
    echo "with-redis: redis-server not found. Install it: apt-get install redis-server" >&2
    exit 1
fi

workdir=$(mktemp -d "${TMPDIR:-/tmp}/plaza-redis.XXXXXX")
pidfile="$workdir/redis.pid"
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    local pid
    if pid=$(cat "$pidfile" 2>/dev/null); then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

for _ in 1 2 3 4 5; do
    port=$(free_port)
    if redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
        --dir "$workdir" --daemonize yes --pidfile "$pidfile" \
        --logfile "$workdir/redis.log" --protected-mode yes; then
        for _ in $(seq 50); do
            redis-cli -p "$port" ping >/dev/null 2>&1 && break
            sleep 0.1
        done
        if redis-cli -p "$port" ping >/dev/null 2>&1; then
            export REDIS_URL="redis://127.0.0.1:$port/0"
            echo "with-redis: REDIS_URL=$REDIS_URL" >&2
            status=0
            "$@" || status=$?
            exit "$status"
        fi
    fi
done
echo "with-redis: could not start redis-server; see $workdir/redis.log" >&2
cat "$workdir/redis.log" >&2 || true
exit 1
