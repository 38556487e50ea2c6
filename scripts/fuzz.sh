#!/usr/bin/env bash
# Runs every Go fuzz target of the repository (each module's) for a while:
#   scripts/fuzz.sh [FUZZTIME] [PATTERN]
# FUZZTIME is go test's -fuzztime (default 30s per target); PATTERN keeps
# the targets whose name matches it (a grep -E pattern). A target that
# finds a failing input fails the run; go test writes the input under the
# package's testdata/fuzz, to keep as a regression case once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-30s}
pattern=${2:-.}
failed=()
ran=0
while IFS=: read -r file name; do
	[[ "$name" =~ $pattern ]] || continue
	dir=$(dirname "$file")
	mod=$dir
	while [ ! -f "$mod/go.mod" ]; do mod=$(dirname "$mod"); done
	rel=./${dir#"$mod"}
	rel=${rel/\/\//\/}
	echo "== $name ($dir, $fuzztime)"
	ran=$((ran + 1))
	if ! (cd "$mod" && go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$rel"); then
		failed+=("$name ($dir)")
	fi
done < <(git ls-files '*_test.go' | xargs grep -oE '^func Fuzz[A-Za-z0-9_]+' | sed 's/func //' | sort)
echo "fuzzed $ran targets for $fuzztime each"
if [ ${#failed[@]} -gt 0 ]; then
	printf 'failed: %s\n' "${failed[@]}"
	exit 1
fi
