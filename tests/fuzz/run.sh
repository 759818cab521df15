#!/usr/bin/env bash
# Runs every built fuzz target for a bounded time from its committed seed corpus.
# usage: run.sh BIN_DIR SECONDS
set -euo pipefail
bin_dir=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
status=0
ran=0
for target in "$bin_dir"/*_fuzz; do
  [ -x "$target" ] || continue
  name=$(basename "$target")
  seeds="$here/corpus/$name"
  work=$(mktemp -d)
  [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
  echo "fuzz: $name for ${seconds}s (seeds: $(ls "$work" | wc -l))"
  if ! "$target" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$bin_dir/$name-" "$work" > "$bin_dir/$name.log" 2>&1; then
    echo "fuzz: $name FAILED; last lines of $bin_dir/$name.log:"
    tail -40 "$bin_dir/$name.log"
    status=1
  else
    grep -E '^stat::number_of_executed_units' "$bin_dir/$name.log" || true
  fi
  ran=$((ran + 1))
  rm -rf "$work"
done
if [ "$ran" = 0 ]; then
  echo "fuzz: no fuzz targets found in $bin_dir" >&2
  exit 1
fi
exit $status
