#!/usr/bin/env bash
# Installs the MCP TypeScript SDK (@modelcontextprotocol/sdk, from npm) once
# per machine, for the test that drives the host's MCP endpoint with a client
# independent of the Go SDK. Prints the node_modules directory, for
# FLUVIUS_MCP_TS.
#
#   scripts/install-mcp-client.sh [DIR]   (default DIR: ${XDG_CACHE_HOME:-$HOME/.cache}/fluvius/mcp-ts)
set -euo pipefail

VERSION=1.32.2
DIR=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/fluvius/mcp-ts}
PKG="$DIR/node_modules/@modelcontextprotocol/sdk/package.json"

if [ -f "$PKG" ] && grep -q "\"version\": \"$VERSION\"" "$PKG"; then
	echo "$DIR/node_modules"
	exit 0
fi
mkdir -p "$DIR"
npm install --prefix "$DIR" --no-audit --no-fund --silent "@modelcontextprotocol/sdk@$VERSION" >&2
echo "$DIR/node_modules"
