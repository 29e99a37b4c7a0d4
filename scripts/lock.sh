#!/usr/bin/env bash
# requirements.txt and requirements-dev.txt, generated from pyproject.toml by uv's resolver:
#
#   scripts/lock.sh                       rewrite both files (`make lock`)
#   scripts/lock.sh --check               regenerate them into a temporary directory and fail,
#                                         with the difference, if either is not what is
#                                         committed (`make lock-check`, CI)
#   scripts/lock.sh --upgrade-package NAME[==VERSION] ...
#                                         also move those pins (`make lock UPGRADE=...`)
#
# requirements.txt pins the [project] dependencies with everything they need;
# requirements-dev.txt pins the `dev` extra on top of them, constrained to the same runtime
# versions, so it is the complete development set. uv keeps every pin already in a file while
# it still satisfies pyproject.toml, so regenerating moves nothing that need not move. The
# resolution is universal (markers for other platforms and Python versions, from
# requires-python up), so the files do not depend on the machine that made them. Needs uv,
# from the development set (.venv/bin/uv, or UV=...), and the package index.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

uv=${UV:-.venv/bin/uv}
check=false
upgrades=()
while (($#)); do
    case "$1" in
        --check) check=true ;;
        --upgrade-package)
            [[ $# -ge 2 ]] || { echo "lock.sh: --upgrade-package needs a name" >&2; exit 2; }
            upgrades+=(--upgrade-package "$2")
            shift
            ;;
        *)
            echo "usage: $0 [--check] [--upgrade-package NAME[==VERSION]]..." >&2
            exit 2
            ;;
    esac
    shift
done
uv=$(command -v "$uv") ||
    { echo "lock.sh: $uv not found: run 'make .venv/.dev' (uv is pinned there)" >&2; exit 1; }
uv=$(cd "$(dirname "$uv")" && pwd)/$(basename "$uv")  # compile() runs uv from elsewhere

RUNTIME_HEADER="# Plaza's runtime dependencies, pinned, direct and transitive: what \`make setup\` and a
# production install (pip install -r requirements.txt) get, and all they get.
# GENERATED from pyproject.toml ([project] dependencies) by \`make lock\` (scripts/lock.sh, uv
# pip compile): do not edit. To add, drop or widen a dependency, edit pyproject.toml and run
# \`make lock\`; to move one pin, \`make lock UPGRADE=NAME\` (or NAME==VERSION). CI fails when
# this file is not what \`make lock\` makes (\`make lock-check\`)."
DEV_HEADER="# Plaza's development and test dependencies, pinned, with the runtime pins of requirements.txt
# at the same versions: the complete set \`make test\` installs.
# GENERATED from pyproject.toml (dependencies and the \`dev\` extra) by \`make lock\`
# (scripts/lock.sh, uv pip compile): do not edit. To add, drop or widen a dependency, edit
# pyproject.toml and run \`make lock\`; to move one pin, \`make lock UPGRADE=NAME\` (or
# NAME==VERSION). CI fails when this file is not what \`make lock\` makes (\`make lock-check\`)."

workdir=$(mktemp -d "${TMPDIR:-/tmp}/plaza-lock.XXXXXX")
trap 'rm -rf "$workdir"' EXIT

# compile OUTPUT HEADER UV-ARGUMENTS...: resolve into $workdir/OUTPUT, starting from the pins
# in the committed OUTPUT, and put HEADER on top.
compile() {
    local output=$1 header=$2
    shift 2
    [[ ! -f "$output" ]] || cp "$output" "$workdir/$output.resolved"
    # From inside $workdir, so that the paths uv writes into its "# via" notes are the same
    # relative ones wherever this runs (pyproject.toml, and requirements.txt as a constraint).
    (cd "$workdir" && "$uv" pip compile pyproject.toml --universal --no-header --quiet \
        --output-file "$output.resolved" "${upgrades[@]}" "$@")
    { printf '%s\n' "$header"; cat "$workdir/$output.resolved"; } >"$workdir/$output"
}

cp pyproject.toml "$workdir/"
compile requirements.txt "$RUNTIME_HEADER"
compile requirements-dev.txt "$DEV_HEADER" --extra dev --constraint requirements.txt

if ! $check; then
    cp "$workdir/requirements.txt" "$workdir/requirements-dev.txt" .
    echo "lock.sh: wrote requirements.txt and requirements-dev.txt from pyproject.toml"
    exit 0
fi

stale=0
for output in requirements.txt requirements-dev.txt; do
    if ! diff -u --label "$output (committed)" --label "$output (from pyproject.toml)" \
        "$output" "$workdir/$output"; then
        stale=1
    fi
done
if ((stale)); then
    echo "lock.sh: requirements files are out of date with pyproject.toml (diff above):" \
        "run 'make lock' and commit the result." >&2
    exit 1
fi
echo "lock.sh: requirements.txt and requirements-dev.txt are what pyproject.toml gives"
