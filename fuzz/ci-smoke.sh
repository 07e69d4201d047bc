#!/usr/bin/env bash
# CI smoke run of the fuzz targets: build them with overflow checks, run each briefly from
# the seed corpus, and fail on any crash, overflow, hang (-timeout) or OOM (-rss_limit_mb).
# `.ci/run` calls it after `cargo test`; developers can run it too.
#
#   fuzz/ci-smoke.sh [-t SECS] [-j JOBS] [TARGET...]   (default: 15 s each, 2 at a time, all)
#   FUZZ_SMOKE_ARGS='-rss_limit_mb=1' fuzz/ci-smoke.sh -t 5 reader   (more libFuzzer flags;
#                                                 this one shows that a failure fails it)
#
# Needs:
#   * a Rust toolchain: nightly (`cargo +nightly`) if rustup has one, else the default
#     (stable) toolchain with RUSTC_BOOTSTRAP=1 (this build uses no sanitizer, so stable
#     rustc can build it once it accepts `-Z` flags; a new machine of this project has only
#     stable, and rustup can fetch no other toolchain there);
#   * cargo-fuzz: installed with `cargo install cargo-fuzz --locked` when missing and CI=true
#     (otherwise the script says so and stops);
#   * a C++ compiler (libfuzzer-sys builds libFuzzer), python3 (seed corpus), and tshark for
#     the parser targets' seeds (without it those start from an empty corpus).
#
# Build: `cargo fuzz build -a --sanitizer none` into fuzz/target/smoke (kept apart from the
# ASan build in fuzz/target/<triple>). No sanitizer: the crate is `#![forbid(unsafe_code)]`,
# so what a short run can find is a panic or an overflow (both abort under -a), and the
# build is much faster than with ASan (see fuzz/README.md, "CI smoke run"). The long runs
# in fuzz/README.md use ASan.
# Corpus: seeds are written to a temporary directory (seed-corpus.sh); what the runs find
# goes to another one, removed at the end, so fuzz/corpus is left alone. Findings are
# kept in fuzz/artifacts/<target>/ and logs in fuzz/logs/smoke-<target>.log.
# Runs use a fixed libFuzzer seed (FUZZ_SMOKE_SEED, default 1), so a run explores a prefix
# of the same sequence of inputs each time, and a timeout of 30 s per input, so a loaded
# machine does not turn a slow input into a "hang".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
secs=15
jobs=2
while [ $# -gt 0 ]; do
  case $1 in
  -t) secs=$2; shift 2 ;;
  -j) jobs=$2; shift 2 ;;
  -h | --help) sed -n '2,/^set /p' "$0" | sed '$d'; exit 0 ;;
  *) break ;;
  esac
done

# Toolchain: nightly if there is one, else the default with RUSTC_BOOTSTRAP=1
# (FUZZ_SMOKE_STABLE=1 takes the second way even where nightly is installed).
if [ "${FUZZ_SMOKE_STABLE:-0}" != 1 ] && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  cargo=(cargo +nightly)
else
  echo "ci-smoke: no nightly toolchain (or FUZZ_SMOKE_STABLE=1): $(rustc --version) with RUSTC_BOOTSTRAP=1"
  export RUSTC_BOOTSTRAP=1
  cargo=(cargo)
fi
if ! "${cargo[@]}" fuzz --version >/dev/null 2>&1; then
  if [ "${CI:-}" = true ]; then
    echo "ci-smoke: cargo-fuzz missing: cargo install cargo-fuzz --locked"
    cargo install cargo-fuzz --locked || exit 1
  else
    echo "ci-smoke: needs cargo-fuzz: cargo install cargo-fuzz --locked" >&2
    exit 1
  fi
fi

tdir=$here/target/smoke
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
# The seeds (mostly tshark, one core) are made while cargo builds.
./seed-corpus.sh "$work/seeds" > "$work/seeds.log" 2>&1 &
seeding=$!
echo "ci-smoke: building the fuzz targets (-a --sanitizer none) into $tdir"
nice -n 10 "${cargo[@]}" fuzz build -a --sanitizer none --target-dir "$tdir" || exit 1
bindir=$tdir/$(rustc -vV | awk '/^host:/ { print $2 }')/release
built=$(date +%s)
if ! wait $seeding; then
  cat "$work/seeds.log" >&2
  exit 1
fi
echo "ci-smoke: $(grep -h '^seeds:' "$work/seeds.log")"
seeded=$(date +%s)

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <("${cargo[@]}" fuzz list)

mkdir -p logs
run_one() { # target
  local t=$1
  mkdir -p "$work/seeds/$t" "$work/new/$t" "artifacts/$t"
  nice -n 10 "$bindir/$t" "$work/new/$t" "$work/seeds/$t" \
    -max_total_time="$secs" -seed="${FUZZ_SMOKE_SEED:-1}" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
    -artifact_prefix="artifacts/$t/" ${FUZZ_SMOKE_ARGS:-} > "logs/smoke-$t.log" 2>&1
  local rc=$?
  local execs last
  execs=$(awk '/^stat::number_of_executed_units/ { print $2 }' "logs/smoke-$t.log")
  last=$(grep -E '^#[0-9]+' "logs/smoke-$t.log" | tail -1 | sed 's/^#[0-9]* *[A-Z]* *//')
  if [ $rc -eq 0 ]; then
    echo "ci-smoke: $t ok: ${execs:-?} executions | $last"
  else
    echo "ci-smoke: $t FAILED (exit $rc): log fuzz/logs/smoke-$t.log"
    grep -E 'panicked|overflow|ERROR|SUMMARY|Test unit written|artifact_prefix|Base64' \
      "logs/smoke-$t.log" | head -20 | sed 's/^/    /'
  fi
  return $rc
}

status=0
running=0
for t in "${targets[@]}"; do
  if [ $running -ge "$jobs" ]; then
    wait -n || status=1
    running=$((running - 1))
  fi
  run_one "$t" &
  running=$((running + 1))
done
while [ $running -gt 0 ]; do
  wait -n || status=1
  running=$((running - 1))
done
end=$(date +%s)
echo "ci-smoke: build $((built - start)) s, then seeds $((seeded - built)) s, runs $((end - seeded)) s" \
  "(${#targets[@]} targets x $secs s, $jobs at a time)"
if [ $status -ne 0 ]; then
  echo "ci-smoke: a fuzz target failed; replay: $bindir/TARGET fuzz/artifacts/TARGET/crash-..." >&2
fi
exit $status
