#!/usr/bin/env bash
# Every shell script of the tree through shellcheck: the tracked *.sh files and
# tracked files without that suffix whose first line runs sh or bash (.ci/run).
# A sourced file names its shell with a `# shellcheck shell=` directive; the
# paths of `# shellcheck source=` directives are read from the repository's
# root, where this runs.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

command -v shellcheck >/dev/null 2>&1 ||
    { echo "shellcheck: not found (deploy/install-deps.sh test installs it)" >&2; exit 1; }

shebang='^#![[:space:]]*(/usr)?/bin/(env[[:space:]]+)?(ba|da)?sh([[:space:]]|$)'
scripts=()
while IFS= read -r -d '' f; do
    [[ -f "$f" ]] || continue
    if [[ "$f" == *.sh ]]; then
        scripts+=("$f")
        continue
    fi
    first=""
    IFS= read -r first <"$f" || true
    if [[ "$first" =~ $shebang ]]; then scripts+=("$f"); fi
done < <(git ls-files -z)

shellcheck -x "${scripts[@]}"
echo "shellcheck: ${#scripts[@]} scripts clean: ${scripts[*]}"
