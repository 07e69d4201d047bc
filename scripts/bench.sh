#!/bin/sh
# ftptrace against tcpdump and tshark on the same synthetic FTP captures, side by side, in one run.
#
# Usage: scripts/bench.sh [SIZE]            SIZE of the main capture (default 1G; e.g. 200M)
# Environment:
#   R=5             runs per tool on the main capture (the median is reported)
#   TSHARK_SIZE=200M  capture for the tshark rows (tshark is 20-50x slower; ftptrace and
#                   tcpdump run on it too so every ratio compares runs on the same file)
#   TSHARK_R=3      runs per tool on that capture
#   DIR=/tmp        where the captures are generated (once; reused afterwards)
#   NO_INSTALL=1    do not apt-get missing tools (their rows are skipped)
#
# Runs go round-robin over the commands. Every command runs under /usr/bin/time -v
# ("Maximum resident set size" = peak RSS); wall time is measured around it (date +%s%N). The page cache is warmed first, so this
# measures CPU cost, not the disk. Prints a Markdown table (see docs/BENCHMARKS.md).
set -eu
cd "$(dirname "$0")/.."
SIZE=${1:-1G}
R=${R:-5}
TSHARK_SIZE=${TSHARK_SIZE:-200M}
TSHARK_R=${TSHARK_R:-3}
DIR=${DIR:-/tmp}

log() { echo "$*" >&2; }

# --- tools ------------------------------------------------------------------------------
need=""
[ -x /usr/bin/time ] || need="$need time"
command -v tcpdump >/dev/null 2>&1 || need="$need tcpdump"
command -v tshark >/dev/null 2>&1 || need="$need tshark"
if [ -n "$need" ] && [ -z "${NO_INSTALL:-}" ]; then
    log "installing:$need"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >&2
fi
[ -x /usr/bin/time ] || { log "bench.sh: /usr/bin/time (GNU time) is required"; exit 2; }

# --- build and captures -----------------------------------------------------------------
log "building (release) ..."
cargo build --release --bin ftptrace --example gencap >&2
have_readbench=""
if [ -f examples/readbench.rs ]; then
    cargo build --release --example readbench >&2 && have_readbench=1
fi
FT=target/release/ftptrace
GEN=target/release/examples/gencap

capture() { # SIZE -> path (generated once)
    f="$DIR/ftptrace-ftp-$1.pcap"
    if [ ! -s "$f" ]; then
        log "generating $f ..."
        "$GEN" --size "$1" "$f.tmp" && mv "$f.tmp" "$f"
    fi
    echo "$f"
}
BIG=$(capture "$SIZE")
SMALL=$(capture "$TSHARK_SIZE")

# --- measuring --------------------------------------------------------------------------
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# Commands of one set are registered with `add`, then `run_set` runs them round-robin
# (run 1 of every command, then run 2, ...), so a burst of load from other users of the
# machine hits every tool alike instead of one tool's whole series.
ROWS="$TMP/rows"
: >"$ROWS"
K=0
add() { # NAME CMD (a shell command line; paths must not contain spaces)
    K=$((K + 1))
    echo "$1" >"$TMP/$K.name"
    echo "$2" >"$TMP/$K.cmd"
    : >"$TMP/$K.t"
    : >"$TMP/$K.m"
}
run_once() { # K
    t0=$(date +%s%N)
    # shellcheck disable=SC2046
    if ! /usr/bin/time -v -o "$TMP/v" $(cat "$TMP/$1.cmd") >/dev/null 2>"$TMP/err"; then
        log "  $(cat "$TMP/$1.name"): failed: $(tail -n 3 "$TMP/err")"
        echo failed >"$TMP/$1.t"
        return 0
    fi
    t1=$(date +%s%N)
    echo "$t0 $t1" | awk '{printf "%.3f\n", ($2-$1)/1e9}' >>"$TMP/$1.t"
    sed -n 's/.*Maximum resident set size (kbytes): //p' "$TMP/v" >>"$TMP/$1.m"
}
run_set() { # FILE RUNS: run the registered commands, report, and clear them
    f=$1 n=$2
    log "$f ($(stat -c %s "$f") bytes), $n rounds of $K commands:"
    cat "$f" >/dev/null
    i=0
    while [ "$i" -lt "$n" ]; do
        k=1
        while [ "$k" -le "$K" ]; do
            grep -q failed "$TMP/$k.t" || run_once "$k"
            k=$((k + 1))
        done
        i=$((i + 1))
    done
    k=1
    while [ "$k" -le "$K" ]; do
        name=$(cat "$TMP/$k.name")
        if ! grep -q failed "$TMP/$k.t"; then
            med=$(median <"$TMP/$k.t")
            rss=$(median <"$TMP/$k.m")
            all=$(tr '\n' ' ' <"$TMP/$k.t")
            log "  $name: $all-> median $med s, peak RSS $rss KiB"
            echo "$name|$f|$n|$med|$rss|$all" >>"$ROWS"
        fi
        k=$((k + 1))
    done
    K=0
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
log "machine: $(nproc) CPUs, $cpu, load $(cut -d' ' -f1-3 /proc/loadavg)"

for f in $(printf '%s\n' "$BIG" "$SMALL" | sort -u); do
    log "warming the page cache: $f"
    cat "$f" >/dev/null
done

set_for() { # FILE WITH_TSHARK
    f=$1
    add "ftptrace analyze --format json" "$FT analyze --no-progress --format json -o /dev/null $f"
    add "ftptrace analyze --hash --format json" "$FT analyze --no-progress --hash --format json -o /dev/null $f"
    if [ -n "$have_readbench" ]; then
        add "readbench (ftptrace reader alone)" "target/release/examples/readbench $f"
    fi
    if command -v tcpdump >/dev/null 2>&1; then
        add "tcpdump -r FILE -w /dev/null" "tcpdump -r $f -w /dev/null"
        add "tcpdump -nr FILE > /dev/null" "tcpdump -nr $f"
    fi
    if [ "$2" = 1 ] && command -v tshark >/dev/null 2>&1; then
        add "tshark -n -r FILE -q -z io,stat,0" "tshark -n -r $f -q -z io,stat,0"
        add "tshark -n -r FILE -Y ftp -T fields -e ftp.request.command" \
            "tshark -n -r $f -Y ftp -T fields -e ftp.request.command"
    fi
}

if [ "$BIG" = "$SMALL" ]; then
    set_for "$BIG" 1
    run_set "$BIG" "$R"
else
    set_for "$BIG" 0
    run_set "$BIG" "$R"
    set_for "$SMALL" 1
    run_set "$SMALL" "$TSHARK_R"
fi
log "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- report -----------------------------------------------------------------------------
echo
echo "$(nproc) CPUs, $cpu; $(uname -r); $("$FT" --version)"
echo "$(tcpdump --version 2>&1 | head -n 1); $(tshark --version 2>/dev/null | head -n 1)"
echo
echo "| command | capture | runs | median s | MB/s | peak RSS MiB | time / ftptrace json |"
echo "|---|---|---:|---:|---:|---:|---:|"
awk -F'|' -v OFS='|' '
    { name[NR]=$1; file[NR]=$2; runs[NR]=$3; med[NR]=$4; rss[NR]=$5
      if ($1 == "ftptrace analyze --format json") base[$2]=$4 }
    END {
      for (i = 1; i <= NR; i++) {
        cmd = "stat -c %s " file[i]; cmd | getline sz; close(cmd)
        n = file[i]; sub(/.*\//, "", n)
        ratio = (base[file[i]] > 0) ? sprintf("%.2f", med[i] / base[file[i]]) : "-"
        mbs = (med[i] > 0) ? sprintf("%.0f", sz / med[i] / 1e6) : "-"
        printf "| `%s` | %s | %s | %.3f | %s | %.1f | %s |\n", name[i], n, runs[i], med[i], mbs, rss[i] / 1024, ratio
      }
    }' "$ROWS"
