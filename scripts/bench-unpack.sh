#!/usr/bin/env bash
# Unpacking speed: bitzel's in-process extraction (src/fetch, through
# examples/unpack.rs) against the tar command BitBake runs, on tarballs of
# one directory tree in each compression.
#
# usage: scripts/bench-unpack.sh [TREE]   (default: /usr/lib/python3*)
#
# Makes TREE.tar.{gz,xz,zst} under a temporary directory (tar, gzip -6,
# xz -6, zstd -3), then for each runs hyperfine (10 runs after 1 warm-up),
# each run into a fresh directory (set TMPDIR=/dev/shm to leave the disk out):
#   tar --extract --no-same-owner -f ARCHIVE (-z / -J / --zstd)
#   target/release/examples/unpack ARCHIVE DEST
# and checks both gave the same files. Prints the load average before and
# after: on a busy machine the figures wander.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TREE=${1:-$(ls -d /usr/lib/python3* | head -n1)}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cargo build --release --quiet --example unpack --manifest-path "$ROOT/Cargo.toml"
UNPACK=$ROOT/target/release/examples/unpack

echo "tree: $TREE ($(du -sh "$TREE" | cut -f1), $(find "$TREE" | wc -l) entries)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
tar -C "$(dirname "$TREE")" -cf "$WORK/tree.tar" "$(basename "$TREE")"
gzip -6 -c "$WORK/tree.tar" > "$WORK/tree.tar.gz"
xz -6 -T1 -c "$WORK/tree.tar" > "$WORK/tree.tar.xz"
zstd -q -3 -c "$WORK/tree.tar" > "$WORK/tree.tar.zst"
ls -l "$WORK"/tree.tar*

for kind in gz:-z xz:-J zst:--zstd; do
    ext=${kind%%:*}
    flag=${kind#*:}
    archive=$WORK/tree.tar.$ext
    rm -rf "$WORK/a" "$WORK/b"
    tar -C "$(mkdir -p "$WORK/a" && echo "$WORK/a")" --extract --no-same-owner "$flag" -f "$archive"
    "$UNPACK" "$archive" "$WORK/b"
    diff -r --no-dereference "$WORK/a" "$WORK/b" > /dev/null || { echo "tar and bitzel differ for .$ext" >&2; exit 1; }
    hyperfine -N --warmup 1 --runs 10 \
        --prepare "rm -rf $WORK/out" \
        -n "tar $flag" "tar -C $WORK --one-top-level=out --extract --no-same-owner $flag -f $archive" \
        -n "bitzel .$ext" "$UNPACK $archive $WORK/out"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
