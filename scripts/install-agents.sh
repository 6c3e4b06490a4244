#!/usr/bin/env bash
# Installs the agent CLIs that `make agents` drives through the proxy, at
# pinned versions, into a project-local prefix (AGENTS_PREFIX, default
# .cache/agents). A prefix that already holds exactly these versions is
# kept, so CI machines that keep the work tree's cache skip the download.
# Packages' install scripts are not run (nothing may fetch binaries from
# elsewhere) but for Claude Code's, which only links the native binary of
# its platform package (a registry package) into place.
set -euo pipefail
cd "$(dirname "$0")/.."

PINS=(
	@anthropic-ai/claude-code@2.1.328
	@openai/codex@0.169.0
	@google/gemini-cli@0.61.0
)
BINS=(claude codex gemini)
PREFIX="${AGENTS_PREFIX:-.cache/agents}"
STAMP="$PREFIX/.pins"
want="$(printf '%s\n' "${PINS[@]}")"

installed() {
	[ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] || return 1
	for b in "${BINS[@]}"; do
		[ -x "$PREFIX/node_modules/.bin/$b" ] || return 1
	done
}

if installed; then
	echo "install-agents: pinned CLIs already in $PREFIX"
	exit 0
fi
command -v npm >/dev/null || { echo "install-agents: npm not found (Node.js 20+ is needed)" >&2; exit 1; }
echo "install-agents: installing ${PINS[*]} into $PREFIX"
rm -rf "$PREFIX"
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --no-save --ignore-scripts --no-audit --no-fund --loglevel=error "${PINS[@]}"
(cd "$PREFIX/node_modules/@anthropic-ai/claude-code" && node install.cjs)
for b in "${BINS[@]}"; do
	"$PREFIX/node_modules/.bin/$b" --version >/dev/null 2>&1 </dev/null ||
		{ echo "install-agents: $b does not start" >&2; exit 1; }
done
printf '%s\n' "$want" >"$STAMP"
