#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster:
#
#   scripts/with-postgres.sh .venv/bin/pytest -x
#
# starts a fresh cluster in a temporary directory (see scripts/postgres.sh), exports its
# DATABASE_URL, runs the command, then stops the cluster and deletes the directory, also when
# the command fails or is interrupted. Exits with the command's exit code.
set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 2
fi

postgres_sh="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/postgres.sh"
cluster_dir=$(mktemp -d "${TMPDIR:-/tmp}/plaza-pg.XXXXXX")
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    "$postgres_sh" stop "$cluster_dir" || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "with-postgres: starting a throwaway PostgreSQL cluster in $cluster_dir" >&2
DATABASE_URL=$("$postgres_sh" start "$cluster_dir")
export DATABASE_URL
echo "with-postgres: DATABASE_URL=$DATABASE_URL" >&2

status=0
"$@" || status=$?
exit "$status"
