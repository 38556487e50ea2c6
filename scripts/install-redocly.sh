#!/usr/bin/env bash
# Installs Redocly's CLI where it is missing, with npm into a cache directory
# (nothing global, nothing in the repository). Prints the binary's path, for
# FLUVIUS_REDOCLY: the OpenAPI tests lint the document the host serves with
# `redocly lint`.
#
#   scripts/install-redocly.sh [DIR]   (default DIR: ${XDG_CACHE_HOME:-$HOME/.cache}/fluvius/redocly)
#
# admin's OpenAPI test looks in the default DIR too. It needs node (20.19 or
# later, or 22.12 or later) and npm; the install takes a minute once, later
# runs find it and return at once.
set -euo pipefail

VERSION=2.77.0
DIR=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/fluvius/redocly}
BIN="$DIR/node_modules/.bin/redocly"
PKG="$DIR/node_modules/@redocly/cli/package.json"

# A different pin installs again.
if [ -x "$BIN" ] && [ -f "$PKG" ] && grep -q "\"version\": *\"$VERSION\"" "$PKG"; then
	echo "$BIN"
	exit 0
fi

echo "installing @redocly/cli $VERSION" >&2
mkdir -p "$DIR"
npm install --prefix "$DIR" --no-audit --no-fund --no-save --loglevel=error "@redocly/cli@$VERSION" >&2
"$BIN" --version >&2
echo "$BIN"
