#!/usr/bin/env bash
# Prove that requirements.txt alone is a complete runtime:
#
#   scripts/check-runtime-venv.sh
#
# makes a fresh venv in a temporary directory with PYTHON (default python3), installs
# requirements.txt into it and nothing else (no development pins), runs `pip check`, then,
# against a throwaway Redis (scripts/with-redis.sh), starts `celery -A config worker` from
# that venv and waits until `celery -A config inspect ping` answers, at most
# WORKER_START_TIMEOUT seconds (default 60). Then it stops the worker and deletes the venv.
# A module that only the development set brings (kombu's Redis transport needs `packaging`)
# fails here, as it would fail a production install. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() {
    echo "check-runtime-venv: $*" >&2
    exit 1
}

# The second half runs inside scripts/with-redis.sh, which exports REDIS_URL: start the
# worker from the venv given, wait for its answer, stop it.
if [[ "${1:-}" == "--worker" ]]; then
    venv=$2
    : "${REDIS_URL:?--worker runs inside scripts/with-redis.sh}"
    timeout=${WORKER_START_TIMEOUT:-60}
    log="$venv/worker.log"
    # Settings as in production (DEBUG off), from the environment only: a throwaway key and
    # an SQLite file in the venv's directory (the worker opens no connection to start).
    export DEBUG=off SECRET_KEY="runtime-check-$RANDOM-$RANDOM-$RANDOM-$RANDOM"
    export DATABASE_URL="sqlite:///$venv/unused.sqlite3" CELERY_TASK_ALWAYS_EAGER=off

    "$venv/bin/celery" -A config worker --pool solo --loglevel INFO >"$log" 2>&1 &
    worker=$!
    # shellcheck disable=SC2317 # called by the trap
    stop_worker() {
        kill -TERM "$worker" 2>/dev/null || return 0
        for _ in $(seq 100); do
            kill -0 "$worker" 2>/dev/null || return 0
            sleep 0.1
        done
        echo "check-runtime-venv: the worker ignored SIGTERM for 10 s; killing it" >&2
        kill -KILL "$worker" 2>/dev/null || true
    }
    trap stop_worker EXIT

    started=$SECONDS
    until "$venv/bin/celery" -A config inspect ping --timeout 2 >"$venv/ping.log" 2>&1; do
        if ! kill -0 "$worker" 2>/dev/null; then
            cat "$log" >&2
            die "the Celery worker exited before answering a ping (its log is above)."
        fi
        if ((SECONDS - started >= timeout)); then
            cat "$log" "$venv/ping.log" >&2
            die "the Celery worker did not answer 'inspect ping' within $timeout s" \
                "(its log and the last ping's output are above)."
        fi
        sleep 1
    done
    sed -n 1p "$venv/ping.log"
    echo "check-runtime-venv: the worker answered after $((SECONDS - started)) s"
    exit 0
fi

python=${PYTHON:-python3}
workdir=$(mktemp -d "${TMPDIR:-/tmp}/plaza-runtime-venv.XXXXXX")
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "check-runtime-venv: a fresh venv in $workdir with requirements.txt only"
"$python" -m venv "$workdir"
"$workdir/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt ||
    die "pip could not install requirements.txt into a fresh venv."
"$workdir/bin/python" -m pip check --disable-pip-version-check ||
    die "pip check: requirements.txt is not a consistent set (above)."

scripts/with-redis.sh "${BASH_SOURCE[0]}" --worker "$workdir"
echo "check-runtime-venv: OK (requirements.txt alone installs, passes pip check, runs a worker)"
