#!/bin/sh
# Hostile captures (issue 10): generates each with the release `floodgen` example into
# $DIR (once), runs the release binary on it with `/usr/bin/time -v` (JSONL output) and
# prints time, peak RSS and output size against the targets:
#   noop   15 MB of NOOP lines on one control connection     <= 1 s,   <= 64 MB
#   port   20,000 PORT commands on one connection            <= 0.5 s, <= 64 MB
#   syn    1M SYNs from distinct sources, then 3,000 more    <= 5 s,   <= 512 MB, and the
#          3,000 flows after the first million no slower per flow than the first million
#   brute  700 brute-force sessions                          JSON < 3x the capture size
# Usage: scripts/bench-floods.sh [noop|port|syn|brute ...]   (env DIR=/tmp/... for the files)
set -eu
cd "$(dirname "$0")/.."
DIR=${DIR:-/tmp/ftptrace-floods}
mkdir -p "$DIR"
KINDS=${*:-noop port syn brute}
cargo build --release --example floodgen >&2
cargo build --release >&2
BIN=target/release/ftptrace
GEN=target/release/examples/floodgen

gen() { # kind file [n]
    [ -s "$2" ] || "$GEN" "$@" >&2
}

# run FILE FORMAT -> sets SECS, RSS_MB, OUT_BYTES
run() {
    cat "$1" > /dev/null
    /usr/bin/time -v "$BIN" analyze "$1" --format "$2" > "$DIR/out" 2> "$DIR/time" || {
        rc=$?
        # exit status 3 (anomalies / partial input) still measures
        [ "$rc" -le 3 ] || { cat "$DIR/time" >&2; exit "$rc"; }
    }
    SECS=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$DIR/time")
    RSS_MB=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$DIR/time")
    OUT_BYTES=$(wc -c < "$DIR/out")
}

verdict() { # ok-expression
    if awk "BEGIN { exit !($1) }"; then echo ok; else echo MISSED; fi
}

printf '%-6s %10s %8s %8s %12s  %s\n' capture size time rss output target
for k in $KINDS; do
    case $k in
    noop)
        f=$DIR/noop-15m.pcap; gen noop "$f"; run "$f" jsonl
        printf '%-6s %10s %7ss %6sMB %12s  <=1 s, <=64 MB: %s\n' noop "$(wc -c < "$f")" "$SECS" "$RSS_MB" "$OUT_BYTES" \
            "$(verdict "$SECS <= 1 && $RSS_MB <= 64")" ;;
    port)
        f=$DIR/port-20k.pcap; gen port "$f"; run "$f" jsonl
        printf '%-6s %10s %7ss %6sMB %12s  <=0.5 s, <=64 MB: %s\n' port "$(wc -c < "$f")" "$SECS" "$RSS_MB" "$OUT_BYTES" \
            "$(verdict "$SECS <= 0.5 && $RSS_MB <= 64")" ;;
    syn)
        f1=$DIR/syn-1m.pcap; gen syn "$f1" 1000000
        f=$DIR/syn-1m3k.pcap; gen syn "$f" 1003000
        run "$f1" jsonl; base=$SECS
        run "$f" jsonl
        per_first=$(awk "BEGIN { printf \"%.2f\", $base / 1000000 * 1e6 }")
        per_after=$(awk "BEGIN { d = ($SECS - $base) / 3000 * 1e6; if (d < 0) d = 0; printf \"%.2f\", d }")
        printf '%-6s %10s %7ss %6sMB %12s  <=5 s, <=512 MB: %s; us/flow first 1M %s, after %s\n' syn "$(wc -c < "$f")" "$SECS" "$RSS_MB" "$OUT_BYTES" \
            "$(verdict "$SECS <= 5 && $RSS_MB <= 512")" "$per_first" "$per_after" ;;
    brute)
        f=$DIR/brute-700.pcap; gen brute "$f"; run "$f" json
        size=$(wc -c < "$f")
        printf '%-6s %10s %7ss %6sMB %12s  JSON < 3x capture: %s\n' brute "$size" "$SECS" "$RSS_MB" "$OUT_BYTES" \
            "$(verdict "$OUT_BYTES < 3 * $size")" ;;
    *) echo "unknown capture $k" >&2; exit 2 ;;
    esac
done
