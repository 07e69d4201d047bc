#!/bin/sh
# Reader throughput on a cached 1 GB pcap of 1500-byte frames: generates the file in
# /tmp (once), warms the page cache, runs the release readbench N times, prints the median.
# Usage: scripts/bench-reader.sh [RUNS]   (env FILE=/tmp/... to choose the file)
set -eu
cd "$(dirname "$0")/.."
RUNS=${1:-5}
FILE=${FILE:-/tmp/ftptrace-bench-1g.pcap}
PY=$(command -v /usr/bin/python3 || command -v python3)

if [ ! -s "$FILE" ]; then
    echo "generating $FILE ..." >&2
    "$PY" - "$FILE" <<'PYEOF'
import struct, sys
path = sys.argv[1]
frame_len = 1500
n = (1 << 30) // (16 + frame_len)
frame = bytes(i & 0xff for i in range(frame_len))
with open(path, "wb", buffering=1 << 22) as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i in range(n):
        f.write(struct.pack("<IIII", 1600000000 + i // 1000000, i % 1000000, frame_len, frame_len))
        f.write(frame)
PYEOF
fi

cargo build --release --example readbench >&2
BIN=target/release/examples/readbench
cat "$FILE" > /dev/null   # warm the page cache

results=""
i=0
while [ "$i" -lt "$RUNS" ]; do
    line=$("$BIN" "$FILE")
    echo "$line" >&2
    gbs=$(echo "$line" | sed -n 's/.*GB\/s \([0-9.]*\).*/\1/p')
    results="$results $gbs"
    i=$((i + 1))
done
median=$(printf '%s\n' $results | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "file $(stat -c %s "$FILE") bytes, $RUNS runs, median GB/s: $median"
