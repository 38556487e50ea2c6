#!/usr/bin/env bash
# Installs TinyGo 0.34 where it is missing, built from its module source with
# Debian's LLVM 16 (TinyGo is neither in Debian nor installable with
# `go install` through our module proxy). Prints the TINYGOROOT to use.
#
#   scripts/install-tinygo.sh [PREFIX]      (default PREFIX: $HOME/.cache/fluvius/tinygo)
#
# Afterwards: TINYGOROOT=PREFIX GOTOOLCHAIN=go1.23.12 PREFIX/build/tinygo ...
# The build takes a few minutes once; later runs find it and return at once.
set -euo pipefail

VERSION=0.34.0
GO_FOR_TINYGO=go1.23.12 # TinyGo 0.34 supports Go 1.19-1.23
PREFIX=${1:-${TINYGO_PREFIX:-$HOME/.cache/fluvius/tinygo}}

if [ -x "$PREFIX/build/tinygo" ] && TINYGOROOT="$PREFIX" GOTOOLCHAIN=$GO_FOR_TINYGO "$PREFIX/build/tinygo" version >/dev/null 2>&1; then
	echo "$PREFIX"
	exit 0
fi

pkgs=(llvm-16-dev libclang-16-dev clang-16 lld-16 libclang-rt-16-dev-wasm32 wasi-libc binaryen)
missing=()
for p in "${pkgs[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing ${missing[*]}" >&2
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

echo "fetching tinygo $VERSION source" >&2
src=$(cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download -json "github.com/tinygo-org/tinygo@v$VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
[ -d "$src" ] || { echo "could not download the tinygo module" >&2; exit 1; }
rm -rf "$PREFIX"
mkdir -p "$(dirname "$PREFIX")"
cp -r "$src" "$PREFIX"
chmod -R u+w "$PREFIX"

# The module zip lacks TinyGo's git submodules; Debian provides the parts a
# wasip1 build needs.
cd "$PREFIX"
mkdir -p lib/wasi-libc/sysroot/lib src/net pkg/wasm32-unknown-wasi-generic/compiler-rt
ln -sfn /usr/include/wasm32-wasi lib/wasi-libc/sysroot/include
ln -sfn /usr/lib/wasm32-wasi lib/wasi-libc/sysroot/lib/wasm32-wasi
ln -sfn /usr/lib/llvm-16/lib/clang/16/lib/wasi/libclang_rt.builtins-wasm32.a pkg/wasm32-unknown-wasi-generic/compiler-rt/lib.a

echo "building tinygo (a few minutes)" >&2
GOTOOLCHAIN=$GO_FOR_TINYGO CGO_ENABLED=1 go build -tags llvm16 -o build/tinygo . >&2
TINYGOROOT="$PREFIX" GOTOOLCHAIN=$GO_FOR_TINYGO build/tinygo version >&2
echo "$PREFIX"
