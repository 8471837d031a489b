# Shared set-up for scripts/run and scripts/test: creates .venv if missing and
# (re)installs the project when pyproject.toml changed since the last install.
# Usage: . scripts/_venv.sh [extras]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
extras="${1:-}"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Overnight needs Python 3.11 or newer; '$python' is $("$python" --version 2>&1)." >&2
    echo "Set PYTHON=/path/to/python3.11 and run this again." >&2
    exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
    echo "Creating $venv"
    "$python" -m venv "$venv"
fi
stamp="$venv/.installed-$(sha256sum "$root/pyproject.toml" | cut -c1-16)${extras:+-$extras}"
if [ ! -e "$stamp" ]; then
    echo "Installing Overnight${extras:+ with [$extras]} into $venv"
    log="$venv/install.log"
    if ! { "$venv/bin/python" -m pip install --upgrade pip &&
           "$venv/bin/python" -m pip install -e "$root${extras:+[$extras]}"; } >"$log" 2>&1; then
        cat "$log" >&2
        echo "Installing failed; the output above is also in $log" >&2
        exit 1
    fi
    rm -f "$venv"/.installed-*
    touch "$stamp"
fi
