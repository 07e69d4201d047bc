#!/usr/bin/env bash
# replay.sh — a capture that holds its own traffic twice, as a careless merge or a
# replaying span port makes it: IN, then every packet of IN again SHIFT seconds later
# (same bytes, same ISNs). Deterministic; needs editcap and mergecap (wireshark-common).
#
# usage: scripts/impair/replay.sh IN OUT [SHIFT_SECONDS]   (default shift 120 s)
# With no arguments: remake the replay samples in samples/ with their truth files.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)

replay() { # IN OUT SHIFT
    local tmp
    tmp=$(mktemp --suffix=.pcap)
    editcap -t "$3" "$1" "$tmp"
    mergecap -a -F pcap -w "$2" "$1" "$tmp"
    rm -f "$tmp"
}

if [ $# -ge 2 ]; then
    replay "$1" "$2" "${3:-120}"
    exit 0
fi

S=$REPO/samples
for src in documented-active sll2-any; do
    out=replay-$src.pcap
    replay "$S/$src.pcap" "$S/$out" 120
    /usr/bin/python3 "$REPO/scripts/capture/truth.py" "$REPO" "$out" /tmp --derive "$src.pcap" \
        "scripts/impair/replay.sh samples/$src.pcap samples/$out 120 (editcap -t 120 of $src.pcap, appended to it with mergecap -a): every packet twice, the copy 120 s later with the same ISNs; the sessions are those of $src.pcap, once"
done
/usr/bin/python3 "$REPO/scripts/capture/gen_readme.py" "$REPO"
