#!/usr/bin/env bash
# Install the real coding-agent CLIs at the versions pinned in package-lock.json into a
# project-local prefix (default .cache/real-clients), the way `npm ci` does: the same tree
# on every machine, or a failure. A second run with the same lock does nothing.
#
# Install scripts are skipped (--ignore-scripts): Gemini CLI's optional keytar/node-pty would
# otherwise compile with node-gyp, and none of them is needed for a headless run. The one script
# that matters, Claude Code's postinstall (it copies the platform's native binary over a
# placeholder), is run explicitly below.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
prefix="${SWARMDECK_REAL_CLIENTS:-$root/.cache/real-clients}"

for tool in node npm; do
    command -v "$tool" >/dev/null 2>&1 || { echo "install.sh: $tool not found (apt-get install nodejs npm)" >&2; exit 1; }
done

stamp="$prefix/.installed"
want="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1) node-$(node --version)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "real clients already installed in $prefix"
    exit 0
fi

mkdir -p "$prefix"
rm -f "$stamp"
cp "$here/package.json" "$here/package-lock.json" "$prefix/"
start=$(date +%s)
# One retry: a registry hiccup should not fail a CI run.
(cd "$prefix" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) \
    || (sleep 5 && cd "$prefix" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
(cd "$prefix/node_modules/@anthropic-ai/claude-code" && node install.cjs)

# Prove each binary runs and is the pinned version before calling the install good.
check() {
    local bin="$1" pin="$2" got
    got="$("$prefix/node_modules/.bin/$bin" --version 2>&1 | head -n 1)" || {
        echo "install.sh: $bin --version failed: $got" >&2; exit 1; }
    case "$got" in
        *"$pin"*) echo "  $bin: $got" ;;
        *) echo "install.sh: $bin reports '$got', expected $pin" >&2; exit 1 ;;
    esac
}
pin() { node -p "require('$prefix/package.json').dependencies['$1']"; }
check claude "$(pin @anthropic-ai/claude-code)"
check codex "$(pin @openai/codex)"
check gemini "$(pin @google/gemini-cli)"
echo "$want" > "$stamp"
echo "real clients installed in $prefix in $(( $(date +%s) - start ))s"
