# Shared set-up for scripts/run and scripts/test, sourced by both: `ensure_venv [EXTRAS]`
# creates .venv if missing and installs the project (with EXTRAS) only when pyproject.toml
# changed since the last install. Sourcing it takes no arguments, so the caller's own
# arguments stay theirs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"

ensure_venv() {
    local extras="${1:-}"
    local python="${PYTHON:-python3}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "Overnight needs Python 3.11 or newer; '$python' is $("$python" --version 2>&1)." >&2
        echo "Set PYTHON=/path/to/python3.11 and run this again." >&2
        exit 1
    fi
    if [ ! -x "$venv/bin/python" ]; then
        echo "Creating $venv"
        "$python" -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    fi
    local hash
    hash="$(sha256sum "$root/pyproject.toml" | cut -c1-16)"
    local stamp="$venv/.installed-$hash${extras:+-$extras}"
    # An install with extras (test, package) holds everything the app needs too.
    if [ -e "$stamp" ] || { [ -z "$extras" ] && compgen -G "$venv/.installed-$hash-*" >/dev/null; }; then
        return 0
    fi
    echo "Installing Overnight${extras:+ with [$extras]} into $venv"
    local log="$venv/install.log"
    if ! "$venv/bin/python" -m pip install -e "$root${extras:+[$extras]}" >"$log" 2>&1; then
        cat "$log" >&2
        echo "Installing failed; the output above is also in $log" >&2
        exit 1
    fi
    # Stamps of an older pyproject.toml go; the other extras' stamp of this one stays.
    local old
    for old in "$venv"/.installed-*; do
        case "$old" in
            "$venv/.installed-$hash"|"$venv/.installed-$hash"-*) ;;
            *) rm -f "$old" ;;
        esac
    done
    touch "$stamp"
}
