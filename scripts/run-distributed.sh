#!/usr/bin/env bash
# Serve Plaza in its distributed mode on one machine: migrate the database named by
# DATABASE_URL, start one Celery worker against REDIS_URL, and serve the API with uvicorn
# until interrupted; the worker is stopped on the way out. `make run-distributed` runs this
# inside scripts/with-postgres.sh and scripts/with-redis.sh, so both servers are throwaway.
set -euo pipefail
: "${DATABASE_URL:?set DATABASE_URL (make run-distributed does)}"
: "${REDIS_URL:?set REDIS_URL (make run-distributed does)}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py collectstatic --noinput --verbosity 0
.venv/bin/python manage.py seed_demo

# The worker builds emails and live events: its links must point where the server listens,
# as config.serve makes the server's own do when PUBLIC_URL is unset.
PLAZA_SERVED_AT="$(.venv/bin/python -c 'import sys; from config.serve import served_at
print(served_at(sys.argv[1], int(sys.argv[2])))' "${HOST:-127.0.0.1}" "${PORT:-8000}")"
export PLAZA_SERVED_AT
.venv/bin/celery -A config worker --pool solo --loglevel INFO &
worker=$!
# shellcheck disable=SC2317 # called by the trap
stop_worker() {
    kill "$worker" 2>/dev/null || true
    wait "$worker" 2>/dev/null || true
}
trap stop_worker EXIT

echo "Plaza (distributed mode) on http://${HOST:-127.0.0.1}:${PORT:-8000}/ - Ctrl-C stops it and" \
    "deletes its throwaway PostgreSQL and Redis"
.venv/bin/python -m config.serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}" \
    --workers "${WORKERS:-2}"
