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
#   ONLY=targets    run only the many/big comparison below (skip the SIZE/tshark sets)
#   TARGET_R=5      runs per command in the many/big comparison
#   BASE=path       another ftptrace binary (e.g. main's) measured beside it there
#   MILLION=1       also the 1M-session capture (gencap --sessions 1000000 --file-size 1K,
#                   ~3.4 GB, 29M packets): ftptrace's formats against tcpdump -r, once each
#                   (MILLION_R=1 runs); tshark too with MILLION_TSHARK=1 (it keeps state per
#                   packet: several GB and many minutes)
#   SURICATA=path   a Suricata binary (default: `suricata` on PATH, if any) run beside ftptrace
#                   on many and big: no rules, single run mode, its default eve log;
#                   SURICATA_CONF=suricata.yaml (default: the one installed beside it).
#                   How to build Suricata 8: docs/BENCHMARKS.md.
#
# The many/big comparison (issue 14's targets): "many" is 3600 short sessions (gencap
# --sessions 3600 --file-size 40K, ~167 MB), "big" one 1 GiB download (--size 1G
# --file-size 1G --concurrent 1). Every format that streams, and json, against
# `tcpdump -r FILE -w /dev/null`; --hash against `openssl dgst -sha256 FILE`. Targets:
# many <= 1.5x tcpdump, big <= 0.6x tcpdump, peak RSS <= 32 MiB, --hash ~ openssl.
#
# Runs go round-robin over the commands. Every command runs under /usr/bin/time -v
# ("Maximum resident set size" = peak RSS); wall time is measured around it (date +%s%N). The page cache is warmed before every run, so this
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
SURICATA=${SURICATA:-$(command -v suricata 2>/dev/null || true)}
if [ -n "$SURICATA" ] && [ -z "${SURICATA_CONF:-}" ]; then
    for c in "$(dirname "$SURICATA")/../etc/suricata/suricata.yaml" /etc/suricata/suricata.yaml; do
        [ -f "$c" ] && { SURICATA_CONF=$c; break; }
    done
fi
[ -n "$SURICATA" ] && [ -z "${SURICATA_CONF:-}" ] && { log "no suricata.yaml found: set SURICATA_CONF; Suricata skipped"; SURICATA=""; }

capture_with() { # NAME GENCAP-ARGS... -> path (generated once)
    f="$DIR/ftptrace-$1.pcap"
    shift
    if [ ! -s "$f" ]; then
        log "generating $f ..."
        "$GEN" "$@" "$f.tmp" && mv "$f.tmp" "$f"
    fi
    echo "$f"
}
capture() { # SIZE -> path (generated once)
    f="$DIR/ftptrace-ftp-$1.pcap"
    if [ ! -s "$f" ]; then
        log "generating $f ..."
        "$GEN" --size "$1" "$f.tmp" && mv "$f.tmp" "$f"
    fi
    echo "$f"
}
if [ "${ONLY:-}" = targets ]; then
    BIG="" SMALL=""
else
    BIG=$(capture "$SIZE")
    SMALL=$(capture "$TSHARK_SIZE")
fi
MANY=$(capture_with many-3600 --sessions 3600 --file-size 40K)
ONE=$(capture_with one-1G --size 1G --file-size 1G --concurrent 1)
MILLION_F=""
if [ -n "${MILLION:-}" ]; then
    MILLION_F=$(capture_with sessions-1M --sessions 1000000 --file-size 1K)
fi
TARGET_R=${TARGET_R:-5}

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
    # Warmed again before every run: on a VM whose host reclaims cold memory (DAMON's
    # kdamond on this one drops ~10 % of a 1 GB file's cached pages within 20 s), a
    # file warmed once is partly read from disk by later runs.
    cat "$WARM" >/dev/null
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
    WARM=$f
    log "$f ($(stat -c %s "$f") bytes), $n rounds of $K commands:"
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

for f in $(printf '%s\n' "$BIG" "$SMALL" "$MANY" "$ONE" "$MILLION_F" | sort -u); do
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

if [ -z "$BIG" ]; then
    :
elif [ "$BIG" = "$SMALL" ]; then
    set_for "$BIG" 1
    run_set "$BIG" "$R"
else
    set_for "$BIG" 0
    run_set "$BIG" "$R"
    set_for "$SMALL" 1
    run_set "$SMALL" "$TSHARK_R"
fi

# --- many/big: ratios to tcpdump and the targets ---------------------------------------
FORMATS="json jsonl csv zeek eve"
targets_for() { # FILE HASH
    for fmt in $FORMATS; do
        add "ftptrace $fmt" "$FT analyze --no-progress --format $fmt -o /dev/null $1"
        if [ -n "${BASE:-}" ]; then
            add "base $fmt" "$BASE analyze --no-progress --format $fmt -o /dev/null $1"
        fi
    done
    # The same through read() instead of the mapping (the reader's share of the run).
    add "ftptrace json --no-mmap" "$FT analyze --no-progress --no-mmap --format json -o /dev/null $1"
    if [ "$2" = 1 ]; then
        add "ftptrace --hash json" "$FT analyze --no-progress --hash --format json -o /dev/null $1"
        if [ -n "${BASE:-}" ]; then
            add "base --hash json" "$BASE analyze --no-progress --hash --format json -o /dev/null $1"
        fi
        command -v openssl >/dev/null 2>&1 && add "openssl dgst -sha256" "openssl dgst -sha256 $1"
    fi
    command -v tcpdump >/dev/null 2>&1 && add "tcpdump -r FILE -w /dev/null" "tcpdump -r $1 -w /dev/null"
    if [ -n "$SURICATA" ]; then
        # No rules (-S /dev/null), one thread, the installed suricata.yaml's eve log (which
        # has ftp, ftp_data and files records among others).
        mkdir -p "$TMP/suricata"
        add "suricata --runmode single, no rules" \
            "$SURICATA -c $SURICATA_CONF -r $1 --runmode single -k none -S /dev/null -l $TMP/suricata"
    fi
}
targets_for "$MANY" 0
run_set "$MANY" "$TARGET_R"
targets_for "$ONE" 1
run_set "$ONE" "$TARGET_R"
if [ -n "$MILLION_F" ]; then
    for fmt in jsonl csv json; do
        add "ftptrace $fmt" "$FT analyze --no-progress --format $fmt -o /dev/null $MILLION_F"
    done
    add "tcpdump -r FILE -w /dev/null" "tcpdump -r $MILLION_F -w /dev/null"
    if [ -n "${MILLION_TSHARK:-}" ] && command -v tshark >/dev/null 2>&1; then
        add "tshark -n -r FILE -Y ftp -T fields -e ftp.request.command" \
            "tshark -n -r $MILLION_F -Y ftp -T fields -e ftp.request.command"
    fi
    run_set "$MILLION_F" "${MILLION_R:-1}"
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

# The targets: each format on many and big against tcpdump -r on the same file.
echo
echo "Targets (issue 14): many <= 1.5x tcpdump -r, big <= 0.6x tcpdump -r, peak RSS <= 32 MiB; --hash ~ openssl dgst -sha256."
echo
echo "| command | many s | many / tcpdump | many RSS MiB | big s | big / tcpdump | big RSS MiB | met |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
awk -F'|' -v many="$MANY" -v one="$ONE" '
    { if ($2 == many) { m[$1] = $4; mr[$1] = $5 } else if ($2 == one) { b[$1] = $4; br[$1] = $5 }
      if (!($1 in seen) && ($2 == many || $2 == one)) { seen[$1] = 1; order[++n] = $1 } }
    END {
      tm = m["tcpdump -r FILE -w /dev/null"]; tb = b["tcpdump -r FILE -w /dev/null"]
      os = b["openssl dgst -sha256"]
      for (i = 1; i <= n; i++) {
        c = order[i]
        ms = (c in m) ? sprintf("%.3f", m[c]) : "-"; bs = (c in b) ? sprintf("%.3f", b[c]) : "-"
        mx = (c in m && tm > 0) ? sprintf("%.2f", m[c] / tm) : "-"
        bx = (c in b && tb > 0) ? sprintf("%.2f", b[c] / tb) : "-"
        mm = (c in mr) ? sprintf("%.1f", mr[c] / 1024) : "-"; bm = (c in br) ? sprintf("%.1f", br[c] / 1024) : "-"
        met = "-"
        if (c ~ /^ftptrace [a-z]+$/) {
          ok = (mx != "-" && mx + 0 <= 1.5) && (bx != "-" && bx + 0 <= 0.6) && mr[c] <= 32768 && br[c] <= 32768
          met = ok ? "yes" : "no"
        } else if (c == "ftptrace --hash json" && os > 0) {
          met = sprintf("%.2fx openssl", b[c] / os)
        }
        printf "| `%s` | %s | %s | %s | %s | %s | %s | %s |\n", c, ms, mx, mm, bs, bx, bm, met
      }
    }' "$ROWS"

if [ -n "$MILLION_F" ]; then
    echo
    echo "1M sessions ($(basename "$MILLION_F"), $(stat -c %s "$MILLION_F") bytes): memory must not grow with the number of sessions."
    echo
    echo "| command | s | / tcpdump | peak RSS MiB |"
    echo "|---|---:|---:|---:|"
    awk -F'|' -v f="$MILLION_F" '
        $2 == f { t[$1] = $4; r[$1] = $5; order[++n] = $1 }
        END {
          td = t["tcpdump -r FILE -w /dev/null"]
          for (i = 1; i <= n; i++) {
            c = order[i]
            printf "| `%s` | %.3f | %s | %.1f |\n", c, t[c], (td > 0) ? sprintf("%.2f", t[c] / td) : "-", r[c] / 1024
          }
        }' "$ROWS"
fi
