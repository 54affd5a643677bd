#!/usr/bin/env bash
# How far from the bare server the gateway could get if it left out what
# issue 2 requires: each patch in bench/bounds/ builds a throwaway gateway
# that leaves out part of the store (the durability, the indexes, or both),
# and bench/threads.sh measures it next to the bare server and the real
# build in the same minutes. These are upper bounds for BENCHMARKS.md,
# never something to ship.
#
#   nothing-stored.patch  the store's insert answers at once with a counted
#                         id: HTTP, SalesMan decoding, the lead model and the
#                         answer only.
#   row-only.patch        SQLite keeps the lead's row and nothing #2 asks for
#                         beyond it: no fsync (synchronous = OFF), no contact
#                         index or look-up, no list-filter indexes.
#   row-fsynced.patch     the least issue 2's store can be: SQLite keeps the
#                         lead's row and commits it with the fsync before the
#                         answer, as the real build does, but with none of
#                         the indexes (no contact index or look-up, no
#                         list-filter indexes).
#   writer-hop.patch      no SQLite at all, but the writer thread kept: each
#                         batch still goes to it and is answered from it.
#                         With LEADGATE_BOUND_FLUSH_PAGES=N the writer also
#                         writes N pages to a scratch file and fdatasyncs it
#                         per batch, so the hand-off and a real flush remain
#                         and only SQLite's own work is left out.
#   intake-log.patch      SQLite off the answer's path: the writer thread
#                         flushes ~600 bytes a lead to a scratch log and
#                         answers; a second thread applies the leads to
#                         SQLite (everything else kept) without a flush.
#                         No replay, no read barrier.
#
#   bench/bounds.sh                         # all patches, 64 connections
#   CONNECTIONS=256 bench/bounds.sh row-only
#   LEADGATE_BOUND_FLUSH_PAGES=21 bench/bounds.sh writer-hop
#
# The patched builds are made from HEAD in a scratch git worktree with their
# own target directory (target/bounds; its first build compiles every
# dependency once). A patch that no longer applies stops the script: update
# it against the current store code rather than measuring something else.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for patch in bench/bounds/*.patch; do names+=("$(basename "$patch" .patch)"); done
fi

cargo build --release --quiet --bin leadgate
bounds="$root/target/bounds"
mkdir -p "$bounds"
tree=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$tree" >/dev/null 2>&1 || true; rm -rf "$tree"' EXIT
git worktree add --quiet --detach "$tree" HEAD

for name in "${names[@]}"; do
  git -C "$tree" checkout --quiet -- .
  git -C "$tree" apply "$root/bench/bounds/$name.patch"
  (cd "$tree" && CARGO_TARGET_DIR="$bounds" cargo build --release --quiet --bin leadgate)
  cp "$bounds/release/leadgate" "$bounds/leadgate-$name"
done

echo "## this build (durable)"
bench/threads.sh
for name in "${names[@]}"; do
  echo
  echo "## bound: $name (not what issue 2 requires)"
  LEADGATE="$bounds/leadgate-$name" LEADGATE_TITLE="bound $name, NOT what issue 2 requires" bench/threads.sh
done
