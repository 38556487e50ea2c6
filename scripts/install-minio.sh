#!/usr/bin/env bash
# Installs the MinIO server where it is missing, built with `go install`
# (MinIO has no Debian package; this needs only the Go module proxy, like the
# rest of the build). Prints the binary's path, for FLUVIUS_MINIO: the blob
# tests run their S3 backend against it.
#
#   scripts/install-minio.sh [BINDIR]   (default BINDIR: ${XDG_CACHE_HOME:-$HOME/.cache}/fluvius/minio/bin)
#
# blob/miniotest looks in the default BINDIR too. The build takes three or
# four minutes once (a binary of about 150 MB); later runs find it and
# return at once.
set -euo pipefail

# MinIO tags its releases RELEASE.<date>, which the module proxy cannot serve
# as semantic versions: pin the pseudo-version of a commit on its main branch
# (what @latest resolved to on 2026-11-22).
MODULE=github.com/minio/minio
VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
BINDIR=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/fluvius/minio/bin}
BIN="$BINDIR/minio"

# The binary records the module version it was built from: a different pin
# builds again.
if [ -x "$BIN" ] && go version -m "$BIN" 2>/dev/null | grep -q "^[[:space:]]*mod[[:space:]]*$MODULE[[:space:]]*$VERSION"; then
	echo "$BIN"
	exit 0
fi

echo "building minio $VERSION (a few minutes)" >&2
mkdir -p "$BINDIR"
# Outside any module, so the repository's go.mod plays no part.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && GOBIN="$BINDIR" GOFLAGS=-buildvcs=false go install "$MODULE@$VERSION") >&2
"$BIN" --version >&2
echo "$BIN"
