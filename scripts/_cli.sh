# Shared by scripts/test and scripts/cli-check, sourced: the tested Claude Code versions
# (resources/claude-code-versions.txt, the one place they are written) and `install_cli
# VERSION PREFIX`, which installs that version from npm unless it is there already and
# prints the path of its `claude`.
cli_versions="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/resources/claude-code-versions.txt"
cli_oldest="$(awk '$1 == "oldest" {print $2}' "$cli_versions")"
cli_newest="$(awk '$1 == "newest" {print $2}' "$cli_versions")"

install_cli() {
    local version="$1" prefix="$2"
    local claude="$prefix/node_modules/.bin/claude"
    if [ "$("$claude" --version 2>/dev/null | cut -d' ' -f1)" != "$version" ]; then
        echo "Installing @anthropic-ai/claude-code@$version into $prefix" >&2
        npm install --silent --no-audit --no-fund --prefix "$prefix" \
            "@anthropic-ai/claude-code@$version" >/dev/null || true
        if [ "$("$claude" --version 2>/dev/null | cut -d' ' -f1)" != "$version" ]; then
            echo "Could not install @anthropic-ai/claude-code@$version (is the npm registry reachable?)" >&2
            return 1
        fi
    fi
    echo "$claude"
}
