#!/usr/bin/env bash
# Run every fuzz target (or those named) for SECS seconds each, one at a time, niced,
# and print the last libFuzzer status line of each run. Logs in fuzz/logs/TARGET.log.
#
#   fuzz/run-all.sh [-t SECS] [TARGET...]      (default: 120 s, every target)
set -uo pipefail
cd "$(dirname "$0")"
secs=120
if [ "${1:-}" = "-t" ]; then secs=$2; shift 2; fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
mkdir -p logs
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  nice -n 10 cargo +nightly fuzz run "$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    > "logs/$t.log" 2>&1
  rc=$?
  [ $rc -eq 0 ] || status=1
  last=$(grep -E '^#[0-9]+' "logs/$t.log" | tail -1)
  execs=$(grep -E '^stat::number_of_executed_units' "logs/$t.log" | awk '{print $2}')
  echo "$t: rc=$rc execs=${execs:-?} corpus=$(ls "corpus/$t" | wc -l) | $last"
done
exit $status
