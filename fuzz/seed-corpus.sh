#!/usr/bin/env bash
# Fills fuzz/corpus/parse with seeds cut from metadata files.
#
# usage: fuzz/seed-corpus.sh [PATH...]
#
# Every .bb/.bbappend/.bbclass/.inc/.conf file under the PATHs (default: the
# repository's tests/data) is cut into pieces of at most $LINES_PER_SEED
# lines (default 40), near libFuzzer's default -max_len of 4096 bytes.
# Pieces are named by content hash, so running this twice adds nothing. The
# corpus is gitignored; nothing here is committed.
set -euo pipefail

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,10s/^# \{0,1\}//p' "$0"
    exit 0
fi

fuzz_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$fuzz_dir")
out="$fuzz_dir/corpus/parse"
lines=${LINES_PER_SEED:-40}
mkdir -p "$out"

if [[ $# -eq 0 ]]; then
    set -- "$repo/tests/data"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

before=$(find "$out" -type f | wc -l)
for root in "$@"; do
    if [[ ! -e $root ]]; then
        echo "seed-corpus: $root does not exist" >&2
        exit 1
    fi
    while IFS= read -r -d '' file; do
        rm -f "$tmp"/piece.*
        split -l "$lines" -a 4 "$file" "$tmp/piece."
        for piece in "$tmp"/piece.*; do
            [[ -e $piece ]] || continue # an empty file has no pieces
            hash=$(sha1sum "$piece" | cut -d' ' -f1)
            cp "$piece" "$out/$hash"
        done
    done < <(find "$root" -type f \( -name '*.bb' -o -name '*.bbappend' \
        -o -name '*.bbclass' -o -name '*.inc' -o -name '*.conf' \) -print0)
done
after=$(find "$out" -type f | wc -l)
echo "seed-corpus: $((after - before)) new seeds, $after in $out"
