#!/usr/bin/env bash
# capture-samples.sh — make the real FTP captures in samples/ (run as root).
#
# Builds two network namespaces joined by one veth pair (server ftpt-srv
# 10.99.0.1 / fd00:99::1, client ftpt-cli 10.99.0.2 / fd00:99::2), runs vsftpd
# and pyftpdlib in the server namespace and curl / lftp / wget / tnftp / Python
# ftplib in the client namespace, and captures with tcpdump inside the client
# namespace. No packet ever leaves these namespaces. Everything is torn down on
# exit and the script is rerunnable (leftovers are removed first).
#
# usage: sudo scripts/capture-samples.sh [--no-install] [SCENARIO...]
#   SCENARIO: names of scenario functions without the sc_ prefix (default: all)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
HERE="$REPO/scripts/capture"
SAMPLES="$REPO/samples"
LOGS="$SAMPLES/logs"
WORK=/tmp/ftptrace-capture
SRV=ftpt-srv CLI=ftpt-cli VS=ftpt-vs VC=ftpt-vc
S4=10.99.0.1 C4=10.99.0.2 S6=fd00:99::1 C6=fd00:99::2
PY=/usr/bin/python3
LUSER=ftpuser LPASS=ftppass          # vsftpd local user (uploads allowed)
PYPORT=2121                          # pyftpdlib port (alice/wonderland, anonymous read-only)
SERVER_PIDS=()
TCPDUMP_PIDS=()

log() { printf '[capture] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"

# ---------------------------------------------------------------- packages
install_packages() {
    export DEBIAN_FRONTEND=noninteractive
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
        vsftpd python3-pyftpdlib python3-openssl openssl curl lftp wget ftp tcpdump \
        ethtool iproute2 iputils-ping tcpreplay wireshark-common tshark gzip >/dev/null
    # the package may start a host-wide vsftpd through init; we only want our own
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl disable --now vsftpd >/dev/null 2>&1 || true
    fi
}

# ---------------------------------------------------------------- network
teardown() {
    set +e
    for p in "${TCPDUMP_PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
    for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${SERVER_PIDS[@]}" "${TCPDUMP_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    # anything still running inside our namespaces was started by this script
    for ns in $SRV $CLI; do
        if ip netns list | grep -qw "$ns"; then
            for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
            ip netns del "$ns" 2>/dev/null
        fi
    done
    rm -f /etc/netns/$CLI/resolv.conf; rmdir /etc/netns/$CLI 2>/dev/null
    ip link del "$VS" 2>/dev/null
    true
}

setup_net() {
    teardown
    ip netns add $SRV
    ip netns add $CLI
    ip link add $VS type veth peer name $VC
    ip link set $VS netns $SRV
    ip link set $VC netns $CLI
    for pair in "$SRV $VS $S4 $S6" "$CLI $VC $C4 $C6"; do
        set -- $pair
        ip -n "$1" link set lo up
        ip -n "$1" link set "$2" mtu 1500
        ip -n "$1" addr add "$3/24" dev "$2"
        ip -n "$1" addr add "$4/64" dev "$2" nodad
        ip -n "$1" link set "$2" up
        ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
        # no router solicitations / MLD chatter from the client side into captures (filter is tcp anyway)
        ip netns exec "$1" sysctl -qw net.ipv6.conf."$2".router_solicitations=0 || true
    done
    if command -v ping >/dev/null; then
        ip netns exec $CLI ping -c1 -W2 $S4 >/dev/null || die "no IPv4 connectivity between namespaces"
        ip netns exec $CLI ping -6 -c1 -W2 $S6 >/dev/null || die "no IPv6 connectivity between namespaces"
    fi
}

# ---------------------------------------------------------------- files, users, servers
setup_files() {
    rm -rf "$WORK"
    mkdir -p "$WORK"
    chmod 755 "$WORK"
    $PY "$HERE/make_files.py" "$WORK/files"
    chmod -R a+rX "$WORK/files"
    id ftp >/dev/null 2>&1 || useradd -r -M -d /srv/ftp -s /usr/sbin/nologin ftp
    id $LUSER >/dev/null 2>&1 || useradd -M -d "$WORK/files/vsftpd/home/$LUSER" -s /usr/sbin/nologin $LUSER
    usermod -d "$WORK/files/vsftpd/home/$LUSER" $LUSER
    echo "$LUSER:$LPASS" | chpasswd
    chown -R $LUSER: "$WORK/files/vsftpd/home/$LUSER"
    # a PAM service of our own: plain pam_unix, no /etc/ftpusers or /etc/shells checks
    cat > /etc/pam.d/ftptrace-vsftpd <<'PAM'
auth     required pam_unix.so
account  required pam_unix.so
session  required pam_unix.so
PAM
    mkdir -p /var/run/vsftpd/empty
    # self-signed certificate for AUTH TLS
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=ftptrace-test-server" \
        -keyout "$WORK/vsftpd.key" -out "$WORK/vsftpd.crt" >/dev/null 2>&1
    chmod 600 "$WORK/vsftpd.key"
}

write_vsftpd_conf() { # $1 = conf file, $2 = yes for AUTH TLS, $3 = extra lines (TLS variants)
    cat > "$1" <<CONF
# generated by capture-samples.sh
listen=NO
listen_ipv6=YES
background=NO
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
anonymous_enable=YES
anon_root=$WORK/files/vsftpd/anon
no_anon_password=NO
anon_upload_enable=NO
anon_mkdir_write_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
chroot_local_user=YES
allow_writeable_chroot=YES
pam_service_name=ftptrace-vsftpd
secure_chroot_dir=/var/run/vsftpd/empty
connect_from_port_20=YES
ftp_data_port=20
pasv_enable=YES
pasv_min_port=40000
pasv_max_port=40999
port_enable=YES
use_localtime=NO
ftpd_banner=ftptrace vsftpd test server
xferlog_enable=YES
xferlog_std_format=NO
log_ftp_protocol=YES
vsftpd_log_file=$WORK/vsftpd.log
CONF
    if [ "${2:-}" = yes ]; then
        cat >> "$1" <<CONF
ssl_enable=YES
rsa_cert_file=$WORK/vsftpd.crt
rsa_private_key_file=$WORK/vsftpd.key
allow_anon_ssl=NO
force_local_logins_ssl=YES
force_local_data_ssl=YES
require_ssl_reuse=NO
ssl_tlsv1=NO
ssl_sslv2=NO
ssl_sslv3=NO
ssl_ciphers=HIGH
CONF
    fi
    if [ -n "${3:-}" ]; then
        printf '%s\n' "$3" >> "$1"
    fi
}

wait_listen() { # $1 = port
    for _ in $(seq 100); do
        ip netns exec $SRV ss -Hltn "sport = :$1" | grep -q LISTEN && return 0
        sleep 0.1
    done
    die "server on port $1 did not start"
}

VSFTPD_PID=""
start_vsftpd() { # $1 = yes for TLS
    stop_vsftpd
    write_vsftpd_conf "$WORK/vsftpd.conf" "${1:-no}"
    ip netns exec $SRV /usr/sbin/vsftpd "$WORK/vsftpd.conf" >>"$WORK/vsftpd.stderr" 2>&1 &
    VSFTPD_PID=$!
    SERVER_PIDS+=("$VSFTPD_PID")
    wait_listen 21
}
stop_vsftpd() {
    if [ -n "$VSFTPD_PID" ]; then
        kill "$VSFTPD_PID" 2>/dev/null || true
        wait "$VSFTPD_PID" 2>/dev/null || true
        VSFTPD_PID=""
        for _ in $(seq 50); do
            ip netns exec $SRV ss -Hltn "sport = :21" | grep -q LISTEN || break
            sleep 0.1
        done
    fi
}

start_pyftpd() {
    ip netns exec $SRV $PY "$HERE/pyftpd_server.py" $S4 $PYPORT \
        "$WORK/files/pyftpd/alice" "$WORK/files/pyftpd/anon" >>"$WORK/pyftpd.log" 2>&1 &
    SERVER_PIDS+=("$!")
    wait_listen $PYPORT
}

# ---------------------------------------------------------------- capture helpers
CAP_PIDS=()
# cap_start FILE [tcpdump options...]: capture on the client veth (or -i X given in options);
# the filter is `tcp` unless --filter EXPR is given
cap_start() {
    local file=$1; shift
    local iface=$VC filter=tcp
    local args=()
    while [ $# -gt 0 ]; do
        case $1 in
            -i) iface=$2; shift 2;;
            --filter) filter=$2; shift 2;;
            *) args+=("$1"); shift;;
        esac
    done
    local err="$WORK/tcpdump-$(basename "$file").err"
    rm -f "$file" "$err"
    ip netns exec $CLI tcpdump -Z root -i "$iface" -s 0 -U --immediate-mode "${args[@]}" -w "$file" "$filter" 2>"$err" &
    local pid=$!
    CAP_PIDS+=("$pid"); TCPDUMP_PIDS+=("$pid")
    for _ in $(seq 100); do
        grep -q "listening on" "$err" 2>/dev/null && return 0
        sleep 0.05
    done
    die "tcpdump for $file did not start: $(cat "$err")"
}
cap_stop() {
    sleep 0.5
    for p in "${CAP_PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    for p in "${CAP_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    CAP_PIDS=()
}
# run a client command in the client namespace, all output to a log
in_cli() { ip netns exec $CLI "$@"; }
# reset server-side logs so each sample gets its own excerpt
reset_server_logs() { : >"$WORK/vsftpd.log"; : >"$WORK/pyftpd.log"; }
save_server_log() { # $1 = sample name, $2 = vsftpd|pyftpd
    cp "$WORK/$2.log" "$LOGS/$1.server.log"
}
json_str() { $PY -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
# truth SAMPLE < spec.json : enrich a ground-truth spec (sizes, sha256, dialogue from logs, versions)
truth() {
    $PY "$HERE/truth.py" "$REPO" "$1" "$WORK"
}
cmdline() { local s; s=$(printf '%q ' "$@"); json_str "${s% }"; }

# ---------------------------------------------------------------- scenarios
# common JSON bits
NET_JSON='{"server_ipv4": "10.99.0.1", "client_ipv4": "10.99.0.2", "server_ipv6": "fd00:99::1", "client_ipv6": "fd00:99::2", "mtu": 1500, "offloads": "off", "captured_on": "client veth (ftpt-vc) in the client namespace"}'
vsftpd_json() { echo "{\"software\": \"vsftpd\", \"address\": \"${1:-$S4}\", \"port\": 21, \"pasv_ports\": \"40000-40999\", \"active_data_source_port\": 20}"; }
PYFTPD_JSON="{\"software\": \"pyftpdlib\", \"address\": \"$S4\", \"port\": $PYPORT, \"pasv_ports\": \"41000-41099\"}"
CURL=(curl -v -sS --max-time 60)
UP="$WORK/files/client/upload"
LAST_CMD=""
# run_curl LOGNAME args...: curl in the client namespace, -v output to samples/logs/LOGNAME.log
run_curl() {
    local lg=$1; shift
    LAST_CMD=$(cmdline "${CURL[@]}" "$@")
    in_cli "${CURL[@]}" "$@" >"$LOGS/$lg.log" 2>&1 || log "curl exited $? for $lg (see log)"
}
dl() { local d="$WORK/dl/$1"; mkdir -p "$d"; echo "$d"; }
# xfer JSON object: command arg path direction mode setup local_file status reply_code
xfer() {
    printf '{"command": "%s", "arg": "%s", "path": %s, "direction": "%s", "mode": "%s", "setup": "%s", "local_file": %s, "status": "%s", "reply_code": %s}' \
        "$1" "$2" "$( [ "$3" = null ] && echo null || echo "\"$3\"")" "$4" "$5" "$6" \
        "$( [ "$7" = null ] && echo null || echo "\"$7\"")" "$8" "$9"
}

sc_curl_epsv() {
    local n=curl-epsv-vsftpd d; d=$(dl $n); reset_server_logs
    cap_start "$SAMPLES/$n.pcap"
    run_curl $n -u $LUSER:$LPASS "ftp://$S4/readme.txt" -o "$d/readme.txt" "ftp://$S4/docs/" -o "$d/LIST-docs.txt"
    cap_stop; save_server_log $n vsftpd
    truth $n.pcap <<JSON
{"description": "curl, local user ftpuser on vsftpd: EPSV (curl default), RETR readme.txt (1715 bytes), then CWD docs + EPSV + LIST on the same control connection.",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json),
 "sessions": [{"client_tool": "curl", "client_command": $LAST_CMD, "log": "logs/$n.log", "log_format": "curl",
   "user": "$LUSER", "password": "$LPASS", "login": "success", "close": "fin",
   "transfers": [$(xfer RETR readme.txt /readme.txt download passive EPSV "$d/readme.txt" complete 226),
                 $(xfer LIST "" /docs listing passive EPSV "$d/LIST-docs.txt" complete 226)]}]}
JSON
}

sc_curl_pasv() {
    local n=curl-pasv-vsftpd d; d=$(dl $n); reset_server_logs
    cap_start "$SAMPLES/$n.pcap"
    run_curl $n --disable-epsv -u $LUSER:$LPASS "ftp://$S4/" -o "$d/LIST-root.txt" "ftp://$S4/data-100k.bin" -o "$d/data-100k.bin"
    cap_stop; save_server_log $n vsftpd
    truth $n.pcap <<JSON
{"description": "curl --disable-epsv, local user on vsftpd: PASV + LIST of the home directory, then PASV + RETR data-100k.bin (102400 bytes, binary).",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json),
 "sessions": [{"client_tool": "curl", "client_command": $LAST_CMD, "log": "logs/$n.log", "log_format": "curl",
   "user": "$LUSER", "password": "$LPASS", "login": "success", "close": "fin",
   "transfers": [$(xfer LIST "" / listing passive PASV "$d/LIST-root.txt" complete 226),
                 $(xfer RETR data-100k.bin /data-100k.bin download passive PASV "$d/data-100k.bin" complete 226)]}]}
JSON
}

sc_curl_port() {
    local n=curl-port-vsftpd d; d=$(dl $n); reset_server_logs
    cap_start "$SAMPLES/$n.pcap"
    run_curl $n -P $C4 --disable-eprt -u $LUSER:$LPASS "ftp://$S4/readme.txt" -o "$d/readme.txt" "ftp://$S4/docs/" -o "$d/LIST-docs.txt"
    cap_stop; save_server_log $n vsftpd
    truth $n.pcap <<JSON
{"description": "curl -P 10.99.0.2 --disable-eprt (active mode, PORT), local user on vsftpd: RETR readme.txt, then CWD docs + LIST. vsftpd connects from port 20 to the client's announced port.",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json),
 "sessions": [{"client_tool": "curl", "client_command": $LAST_CMD, "log": "logs/$n.log", "log_format": "curl",
   "user": "$LUSER", "password": "$LPASS", "login": "success", "close": "fin",
   "transfers": [$(xfer RETR readme.txt /readme.txt download active PORT "$d/readme.txt" complete 226),
                 $(xfer LIST "" /docs listing active PORT "$d/LIST-docs.txt" complete 226)]}]}
JSON
}

sc_curl_eprt() {
    local n=curl-eprt-vsftpd d; d=$(dl $n); reset_server_logs
    cap_start "$SAMPLES/$n.pcap"
    run_curl $n -P - -u $LUSER:$LPASS "ftp://$S4/docs/guide.txt" -o "$d/guide.txt"
    cap_stop; save_server_log $n vsftpd
    truth $n.pcap <<JSON
{"description": "curl -P - (active mode, EPRT |1|10.99.0.2|port|), local user on vsftpd: CWD docs, RETR guide.txt (4321 bytes). vsftpd connects from port 20.",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json),
 "sessions": [{"client_tool": "curl", "client_command": $LAST_CMD, "log": "logs/$n.log", "log_format": "curl",
   "user": "$LUSER", "password": "$LPASS", "login": "success", "close": "fin",
   "transfers": [$(xfer RETR guide.txt /docs/guide.txt download active EPRT "$d/guide.txt" complete 226)]}]}
JSON
}

sc_curl_upload() {
    local n=curl-upload-vsftpd d; d=$(dl $n); reset_server_logs
    cap_start "$SAMPLES/$n.pcap"
    run_curl $n -u $LUSER:$LPASS --ftp-create-dirs -T "$UP/upload-5k.txt" "ftp://$S4/upload-5k.txt" -T "$UP/upload-20k.bin" "ftp://$S4/incoming/upload-20k.bin"
    cap_stop; save_server_log $n vsftpd
    truth $n.pcap <<JSON
{"description": "curl -T (uploads, EPSV), local user on vsftpd: STOR upload-5k.txt (5000 bytes) in the home directory, then --ftp-create-dirs: CWD incoming fails (550), MKD incoming, CWD incoming, STOR upload-20k.bin (20000 bytes).",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json),
 "sessions": [{"client_tool": "curl", "client_command": $LAST_CMD, "log": "logs/$n.log", "log_format": "curl",
   "user": "$LUSER", "password": "$LPASS", "login": "success", "close": "fin",
   "transfers": [$(xfer STOR upload-5k.txt /upload-5k.txt upload passive EPSV "$UP/upload-5k.txt" complete 226),
                 $(xfer STOR upload-20k.bin /incoming/upload-20k.bin upload passive EPSV "$UP/upload-20k.bin" complete 226)]}],
 "verification": {"server_side_files": $(cd "$WORK/files/vsftpd/home/$LUSER" && $PY -c 'import hashlib,json,sys; print(json.dumps({p: hashlib.sha256(open(p,"rb").read()).hexdigest() for p in sys.argv[1:]}))' upload-5k.txt incoming/upload-20k.bin)}}
JSON
}

sc_curl_ipv6_epsv() {
    local n=curl-ipv6-epsv d; d=$(dl $n); reset_server_logs
    cap_start "$SAMPLES/$n.pcap"
    run_curl $n -g -u $LUSER:$LPASS "ftp://[$S6]/ipv6.txt" -o "$d/ipv6.txt" "ftp://[$S6]/" -o "$d/LIST-root.txt"
    cap_stop; save_server_log $n vsftpd
    truth $n.pcap <<JSON
{"description": "curl over IPv6 (fd00:99::2 -> fd00:99::1), local user on vsftpd: EPSV + RETR ipv6.txt (2048 bytes), EPSV + LIST of the home directory.",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json $S6),
 "sessions": [{"client_tool": "curl", "client_command": $LAST_CMD, "log": "logs/$n.log", "log_format": "curl",
   "user": "$LUSER", "password": "$LPASS", "login": "success", "close": "fin",
   "transfers": [$(xfer RETR ipv6.txt /ipv6.txt download passive EPSV "$d/ipv6.txt" complete 226),
                 $(xfer LIST "" / listing passive EPSV "$d/LIST-root.txt" complete 226)]}]}
JSON
}

sc_curl_ipv6_eprt() {
    local n=curl-ipv6-eprt d; d=$(dl $n); reset_server_logs
    cap_start "$SAMPLES/$n.pcap"
    run_curl $n -g -P - -u $LUSER:$LPASS "ftp://[$S6]/ipv6.txt" -o "$d/ipv6.txt" "ftp://[$S6]/docs/" -o "$d/LIST-docs.txt"
    cap_stop; save_server_log $n vsftpd
    truth $n.pcap <<JSON
{"description": "curl -P - over IPv6: EPRT |2|fd00:99::2|port| + RETR ipv6.txt, then CWD docs + EPRT + LIST; vsftpd connects from [fd00:99::1]:20.",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json $S6),
 "sessions": [{"client_tool": "curl", "client_command": $LAST_CMD, "log": "logs/$n.log", "log_format": "curl",
   "user": "$LUSER", "password": "$LPASS", "login": "success", "close": "fin",
   "transfers": [$(xfer RETR ipv6.txt /ipv6.txt download active EPRT "$d/ipv6.txt" complete 226),
                 $(xfer LIST "" /docs listing active EPRT "$d/LIST-docs.txt" complete 226)]}]}
JSON
}

sc_documented() {
    local n=documented-active d; d=$(dl $n); reset_server_logs
    # two tcpdumps on the same session: microsecond pcap and nanosecond pcap
    cap_start "$SAMPLES/$n.pcap"
    cap_start "$SAMPLES/$n-nsec.pcap" --time-stamp-precision=nano
    LAST_CMD=$(cmdline $PY scripts/capture/ftplib_documented.py $S4 OUTDIR MANIFEST)
    in_cli $PY "$HERE/ftplib_documented.py" $S4 "$d" "$d/manifest.json" >"$LOGS/$n.log" 2>&1
    cap_stop; save_server_log $n vsftpd
    cp "$LOGS/$n.log" "$LOGS/$n-nsec.log"; cp "$LOGS/$n.server.log" "$LOGS/$n-nsec.server.log"
    for f in $n $n-nsec; do
        truth $f.pcap <<JSON
{"description": "The classic documented session, made with Python ftplib (set_pasv(False)) against vsftpd: anonymous login (USER anonymous, PASS guest@example.com), TYPE A + PORT + LIST, CWD pub, TYPE I + PORT + RETR readme.txt (1715 bytes), QUIT. vsftpd opens both data connections from port 20. documented-active.pcap (microseconds) and documented-active-nsec.pcap (nanoseconds, tcpdump --time-stamp-precision=nano) are two tcpdumps of the same session.",
 "tcpdump_stderr": "$WORK/tcpdump-$f.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json),
 "sessions": [{"client_tool": "ftplib", "client_command": $LAST_CMD, "log": "logs/$f.log", "log_format": "ftplib",
   "user": "anonymous", "password": "guest@example.com", "login": "success", "close": "fin",
   "transfers_manifest": "$d/manifest.json"}]}
JSON
    done
}

sc_pyftpd() {
    local n=ftplib-pyftpdlib-2121 d; d=$(dl $n); reset_server_logs
    cap_start "$SAMPLES/$n.pcap"
    LAST_CMD=$(cmdline $PY scripts/capture/ftplib_pyftpd.py $S4 $PYPORT UPLOAD_DIR OUTDIR MANIFEST)
    in_cli $PY "$HERE/ftplib_pyftpd.py" $S4 $PYPORT "$UP" "$d" "$d/manifest.json" >"$LOGS/$n.log" 2>&1
    cap_stop; save_server_log $n pyftpd
    truth $n.pcap <<JSON
{"description": "Python ftplib against pyftpdlib on port 2121 (FTP on a non-standard port): USER alice + wrong PASS (530), USER alice + PASS (230), FEAT and HELP (multi-line replies), XYZZY foo (500 unknown command), SYST, PWD, MKD newdir, CWD newdir, CDUP, TYPE I, SIZE data-100k.bin, PASV + REST 50000 + RETR data-100k.bin (52400 bytes), PASV + RETR big-4m.bin aborted with ABOR after about 64 KiB (ABOR sent as TCP urgent data by ftplib; 426 then 226), PASV + RETR no-such-file.txt refused with 550 (empty data connection), APPE, STOU, STOR, MLSD, PORT + NLST (active, pyftpdlib connects back), DELE, QUIT.",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $PYFTPD_JSON,
 "sessions": [{"client_tool": "ftplib", "client_command": $LAST_CMD, "log": "logs/$n.log", "log_format": "ftplib",
   "user": "alice", "password": "wonderland", "logins": [{"user": "alice", "password": "wrong-password", "outcome": "failed", "reply": 530}, {"user": "alice", "password": "wonderland", "outcome": "success", "reply": 230}],
   "login": "success", "close": "fin",
   "transfers_manifest": "$d/manifest.json"}]}
JSON
}

# dnsmasq in the server namespace answers ftp.example.test (A and AAAA; --host-record, since
# a --cname target must be a host record, not an --address) and the alias files.example.test
# (CNAME); the client resolves the alias before connecting.
DNS_PID=""
start_dns() {
    mkdir -p /etc/netns/$CLI
    echo "nameserver $S4" >/etc/netns/$CLI/resolv.conf
    ip netns exec $SRV dnsmasq --no-daemon --no-resolv --no-hosts --listen-address=$S4 --bind-interfaces \
        --host-record=ftp.example.test,$S4,$S6 \
        --cname=files.example.test,ftp.example.test >"$WORK/dnsmasq.log" 2>&1 &
    DNS_PID=$!
    for _ in $(seq 50); do
        ip netns exec $SRV ss -lun | grep -q "$S4:53" && return 0
        sleep 0.1
    done
    die "dnsmasq did not start: $(cat "$WORK/dnsmasq.log")"
}
stop_dns() {
    [ -n "$DNS_PID" ] && kill "$DNS_PID" 2>/dev/null && wait "$DNS_PID" 2>/dev/null
    DNS_PID=""
    rm -f /etc/netns/$CLI/resolv.conf
    rmdir /etc/netns/$CLI 2>/dev/null || true
}
sc_dns() {
    local n=dns-curl-vsftpd d; d=$(dl $n); reset_server_logs
    start_dns
    cap_start "$SAMPLES/$n.pcap" --filter "tcp or udp port 53"
    # An AAAA lookup of the same alias first (no connection follows it).
    in_cli getent ahostsv6 files.example.test >"$LOGS/$n-getent.log" 2>&1 || log "getent exited $?"
    run_curl $n -4 -u $LUSER:$LPASS "ftp://files.example.test/readme.txt" -o "$d/readme.txt"
    cap_stop; save_server_log $n vsftpd
    stop_dns
    truth $n.pcap <<JSON
{"description": "DNS then FTP: dnsmasq in the server namespace, the client's resolv.conf points to it; getent ahostsv6 files.example.test (AAAA: CNAME ftp.example.test, fd00:99::1; no connection follows), then curl -4 resolves files.example.test (CNAME ftp.example.test, A 10.99.0.1) over UDP, then logs in as the local user on vsftpd, EPSV + RETR readme.txt (1715 bytes), QUIT. The session's server_name is files.example.test; its timeline opens with the DNS query and answer.",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json),
 "sessions": [{"client_tool": "curl", "client_command": $LAST_CMD, "log": "logs/$n.log", "log_format": "curl",
   "user": "$LUSER", "password": "$LPASS", "login": "success", "close": "fin",
   "transfers": [$(xfer RETR readme.txt /readme.txt download passive EPSV "$d/readme.txt" complete 226)]}]}
JSON
}

# The documented session (as sc_documented) with the seeds' first step: the client resolves
# ftp.example.test through dnsmasq (one type-A query, one answer) and then connects to it.
# documented-active.pcap itself stays as it is: other samples and goldens derive from it.
sc_documented_dns() {
    local n=documented-dns d; d=$(dl $n); reset_server_logs
    start_dns
    cap_start "$SAMPLES/$n.pcap" --filter "tcp or udp port 53"
    LAST_CMD=$(cmdline $PY scripts/capture/ftplib_documented.py ftp.example.test OUTDIR MANIFEST)
    in_cli $PY "$HERE/ftplib_documented.py" ftp.example.test "$d" "$d/manifest.json" >"$LOGS/$n.log" 2>&1
    cap_stop; save_server_log $n vsftpd
    stop_dns
    truth $n.pcap <<JSON
{"description": "The classic documented session with its DNS step, as in the seeds' sequence diagram: dnsmasq in the server namespace, the client's resolv.conf points to it; Python ftplib resolves ftp.example.test (getaddrinfo AF_INET: one A query over UDP, answer 10.99.0.1), then the same client steps as documented-active.pcap against vsftpd: anonymous login (USER anonymous, PASS guest@example.com), TYPE A + PORT + LIST, CWD pub, TYPE I + PORT + RETR readme.txt (1715 bytes), QUIT. vsftpd opens both data connections from port 20. The session's server_name is ftp.example.test; its timeline opens with the DNS query and answer.",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json),
 "sessions": [{"client_tool": "ftplib", "client_command": $LAST_CMD, "log": "logs/$n.log", "log_format": "ftplib",
   "user": "anonymous", "password": "guest@example.com", "login": "success", "close": "fin",
   "transfers_manifest": "$d/manifest.json"}]}
JSON
}

sc_lftp() {
    local n=lftp-vsftpd d; d=$(dl $n); reset_server_logs
    local script="set ftp:ssl-allow no; set net:max-retries 1; set cmd:fail-exit yes; open -u $LUSER,$LPASS ftp://$S4; ls; cd docs; get guide.txt -o $d/guide.txt; cd ..; put $UP/upload-5k.txt -o lftp-upload.txt; quit"
    cap_start "$SAMPLES/$n.pcap"
    LAST_CMD=$(cmdline lftp -d -c "$script")
    in_cli lftp -d -c "$script" >"$LOGS/$n.log" 2>&1 || log "lftp exited $?"
    cap_stop; save_server_log $n vsftpd
    truth $n.pcap <<JSON
{"description": "lftp (ftp:ssl-allow off), local user on vsftpd: FEAT before login, USER/PASS, PWD, PASV + LIST (ls), CWD /docs, SIZE + MDTM + PASV + RETR guide.txt (4321 bytes), CWD /, PASV + STOR lftp-upload.txt (upload-5k.txt, 5000 bytes), two SITE UTIME attempts (vsftpd rejects them), QUIT. lftp uses PASV by default.",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json),
 "sessions": [{"client_tool": "lftp", "client_command": $LAST_CMD, "log": "logs/$n.log", "log_format": "lftp",
   "user": "$LUSER", "password": "$LPASS", "login": "success",
   "transfers": [{"command": "LIST", "direction": "listing", "mode": "passive", "setup": "PASV", "path": "/", "status": "complete", "reply_code": 226},
                 $(xfer RETR guide.txt /docs/guide.txt download passive PASV "$d/guide.txt" complete 226),
                 $(xfer STOR lftp-upload.txt /lftp-upload.txt upload passive PASV "$UP/upload-5k.txt" complete 226)]}]}
JSON
}

sc_wget() {
    local n=wget-vsftpd d; d=$(dl $n); reset_server_logs
    cap_start "$SAMPLES/$n.pcap"
    LAST_CMD=$(cmdline wget -d -P OUTDIR --user=$LUSER --password=$LPASS "ftp://$S4/readme.txt" "ftp://$S4/docs/index.txt")
    in_cli wget -d -P "$d" --user=$LUSER --password=$LPASS "ftp://$S4/readme.txt" "ftp://$S4/docs/index.txt" >"$LOGS/$n.log" 2>&1 || log "wget exited $?"
    cap_stop; save_server_log $n vsftpd
    truth $n.pcap <<JSON
{"description": "wget with two URLs, local user on vsftpd (passive: PASV). wget opens a new control connection per URL and closes each without QUIT: session 1 RETR readme.txt (1715 bytes), session 2 CWD /docs + RETR index.txt (777 bytes). wget also sends SYST, PWD, TYPE I, SIZE.",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json),
 "sessions": [{"client_tool": "wget", "client_command": $LAST_CMD, "log": "logs/$n.log", "log_format": "wget", "log_segment": 1,
   "user": "$LUSER", "password": "$LPASS", "login": "success",
   "transfers": [$(xfer RETR readme.txt /readme.txt download passive PASV "$d/readme.txt" complete 226)]},
  {"client_tool": "wget", "client_command": $LAST_CMD, "log": "logs/$n.log", "log_format": "wget", "log_segment": 2,
   "user": "$LUSER", "password": "$LPASS", "login": "success",
   "transfers": [$(xfer RETR index.txt /docs/index.txt download passive PASV "$d/index.txt" complete 226)]}]}
JSON
}

sc_tnftp() {
    local n=tnftp-vsftpd d; d=$(dl $n); reset_server_logs
    cat >"$WORK/tnftp.in" <<IN
user $LUSER $LPASS
pwd
ls
cd docs
binary
get index.txt $d/index.txt
cd /
put $UP/upload-20k.bin tnftp-upload.bin
quit
IN
    cap_start "$SAMPLES/$n.pcap"
    LAST_CMD=$(cmdline ftp -n -v -d $S4 "<" commands)
    in_cli ftp -n -v -d $S4 <"$WORK/tnftp.in" >"$LOGS/$n.log" 2>&1 || log "ftp exited $?"
    cap_stop; save_server_log $n vsftpd
    truth $n.pcap <<JSON
{"description": "tnftp (Debian ftp 20210827) scripted on stdin with -n: user, pwd, ls (EPSV + LIST), cd docs, binary, get index.txt, cd /, put tnftp-upload.bin (20000 bytes), quit. tnftp is passive with EPSV first by default.",
 "client_stdin": $(json_str "$(cat "$WORK/tnftp.in")"),
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json),
 "sessions": [{"client_tool": "tnftp", "client_command": $LAST_CMD, "log": "logs/$n.log", "log_format": "tnftp",
   "user": "$LUSER", "password": "$LPASS", "login": "success",
   "transfers": [{"command": "LIST", "direction": "listing", "mode": "passive", "setup": "EPSV", "path": "/", "status": "complete", "reply_code": 226},
                 $(xfer RETR index.txt /docs/index.txt download passive EPSV "$d/index.txt" complete 226),
                 $(xfer STOR tnftp-upload.bin /tnftp-upload.bin upload passive EPSV "$UP/upload-20k.bin" complete 226)]}]}
JSON
}

sc_tls() {
    local n=auth-tls-vsftpd d; d=$(dl $n); reset_server_logs
    start_vsftpd yes
    local script="set ftp:ssl-force true; set ftp:ssl-auth TLS; set ftp:ssl-protect-data true; set ssl:verify-certificate no; set net:max-retries 1; set cmd:fail-exit yes; open -u $LUSER,$LPASS ftp://$S4; get docs/guide.txt -o $d/guide.txt; quit"
    cap_start "$SAMPLES/$n.pcap"
    run_curl $n.s1 --ssl-reqd -k -u $LUSER:$LPASS "ftp://$S4/readme.txt" -o "$d/readme.txt" "ftp://$S4/docs/" -o "$d/LIST-docs.txt"
    local c1=$LAST_CMD
    sleep 0.2
    LAST_CMD=$(cmdline lftp -d -c "$script")
    in_cli lftp -d -c "$script" >"$LOGS/$n.s2.log" 2>&1 || log "lftp (TLS) exited $?"
    cap_stop; save_server_log $n vsftpd
    start_vsftpd no
    truth $n.pcap <<JSON
{"description": "Explicit FTPS against vsftpd with ssl_enable=YES (self-signed certificate made by openssl). Session 1: curl --ssl-reqd -k sends AUTH SSL (curl tries SSL first; vsftpd answers 234), then TLS; inside: USER/PASS, PBSZ 0, PROT P, PWD, EPSV + RETR readme.txt, CWD docs + EPSV + LIST (data connections are TLS too). Session 2: lftp with ftp:ssl-force/ftp:ssl-auth TLS: FEAT in clear, AUTH TLS (234), then encrypted login, PBSZ/PROT P, and RETR docs/guide.txt. Only the greeting, anything before AUTH and the AUTH/234 exchange are cleartext on the wire; commands_sent is what the clients logged before encrypting.",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json),
 "sessions": [{"client_tool": "curl", "client_command": $c1, "log": "logs/$n.s1.log", "log_format": "curl",
   "user": "$LUSER", "password": "$LPASS", "login": "success", "tls": true, "close": "fin",
   "transfers": [$(xfer RETR readme.txt /readme.txt download passive EPSV "$d/readme.txt" complete 226),
                 $(xfer LIST "" /docs listing passive EPSV "$d/LIST-docs.txt" complete 226)]},
  {"client_tool": "lftp", "client_command": $LAST_CMD, "log": "logs/$n.s2.log", "log_format": "lftp",
   "user": "$LUSER", "password": "$LPASS", "login": "success", "tls": true,
   "transfers": [$(xfer RETR docs/guide.txt /docs/guide.txt download passive PASV "$d/guide.txt" complete 226)]}],
 "notes": "bytes on the wire for each data connection are TLS records, not the file; bytes/sha256 here are of the decrypted files."}
JSON
}

# FTPS variants (issue 9): vsftpd with TLS, lftp; one server config per scenario.
# start_vsftpd_tls PORT EXTRA: vsftpd with ssl_enable=YES and extra config lines,
# listening on PORT (990 for implicit FTPS).
start_vsftpd_tls() {
    stop_vsftpd
    write_vsftpd_conf "$WORK/vsftpd.conf" yes "$2"
    ip netns exec $SRV /usr/sbin/vsftpd "$WORK/vsftpd.conf" >>"$WORK/vsftpd.stderr" 2>&1 &
    VSFTPD_PID=$!
    SERVER_PIDS+=("$VSFTPD_PID")
    wait_listen "$1"
}
LFTP_TLS="set ftp:ssl-auth TLS; set ssl:verify-certificate no; set net:max-retries 1; set cmd:fail-exit yes"
# GnuTLS priority string that caps lftp at TLS 1.2 (the certificate is then in clear).
TLS12="NORMAL:-VERS-ALL:+VERS-TLS1.2"

sc_ftps_prot_p() {
    local n=ftps-prot-p-tls12 d; d=$(dl $n); reset_server_logs
    start_vsftpd_tls 21 ""
    local script="$LFTP_TLS; set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:priority $TLS12; open -u $LUSER,$LPASS ftp://$S4; ls; get docs/guide.txt -o $d/guide.txt; quit"
    cap_start "$SAMPLES/$n.pcap"
    LAST_CMD=$(cmdline lftp -d -c "$script")
    in_cli lftp -d -c "$script" >"$LOGS/$n.log" 2>&1 || log "lftp exited $?"
    cap_stop; save_server_log $n vsftpd
    start_vsftpd no
    truth $n.pcap <<JSON
{"description": "Explicit FTPS with PROT P capped at TLS 1.2 (lftp ssl:priority $TLS12; vsftpd ssl_enable=YES, self-signed certificate CN=ftptrace-test-server made by openssl in the capture script). lftp: FEAT in clear, AUTH TLS (234), then TLS 1.2 (ServerHello, Certificate in clear), encrypted USER/PASS, PBSZ 0, PROT P, PWD, PASV + LIST (ls), PASV + RETR docs/guide.txt (4321 bytes), QUIT. lftp puts the server address in the ClientHello server_name (SNI). Both data connections are TLS (PROT P); their PASV replies are encrypted, so they can only be tied by hosts and time.",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json),
 "sessions": [{"client_tool": "lftp", "client_command": $LAST_CMD, "log": "logs/$n.log", "log_format": "lftp",
   "user": "$LUSER", "password": "$LPASS", "login": "success", "tls": true, "prot": "P", "tls_version": "TLSv1.2",
   "cert_subject": "CN=ftptrace-test-server", "sni": "$S4",
   "transfers": [{"command": "LIST", "direction": "listing", "mode": "passive", "setup": "PASV", "path": "/", "status": "complete", "reply_code": 226, "data": "encrypted"},
                 $(xfer RETR docs/guide.txt /docs/guide.txt download passive PASV "$d/guide.txt" complete 226)]}],
 "notes": "bytes on the wire for each data connection are TLS records, not the file; bytes/sha256 here are of the decrypted files. Made by: flock /tmp/ftptrace-capture.lock scripts/capture-samples.sh --no-install ftps_prot_p"}
JSON
}

sc_ftps_prot_c() {
    local n=ftps-prot-c d; d=$(dl $n); reset_server_logs
    start_vsftpd_tls 21 "force_local_data_ssl=NO"
    local script="$LFTP_TLS; set ftp:ssl-force true; set ftp:ssl-protect-data false; open -u $LUSER,$LPASS ftp://$S4; ls; get docs/guide.txt -o $d/guide.txt; quit"
    cap_start "$SAMPLES/$n.pcap"
    LAST_CMD=$(cmdline lftp -d -c "$script")
    in_cli lftp -d -c "$script" >"$LOGS/$n.log" 2>&1 || log "lftp exited $?"
    cap_stop; save_server_log $n vsftpd
    start_vsftpd no
    truth $n.pcap <<JSON
{"description": "Explicit FTPS with cleartext data (PROT C): vsftpd ssl_enable=YES with force_local_data_ssl=NO, lftp ftp:ssl-force true, ftp:ssl-protect-data false (TLS 1.3, lftp's default). FEAT in clear, AUTH TLS (234), then encrypted login, PWD, PBSZ 0, PROT P, PASV + LIST (ls: lftp keeps listings protected, ftp:ssl-protect-list defaults to true, so this data connection is TLS), PROT C, PASV + RETR docs/guide.txt (4321 bytes, in clear although the control connection is encrypted), QUIT.",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json),
 "sessions": [{"client_tool": "lftp", "client_command": $LAST_CMD, "log": "logs/$n.log", "log_format": "lftp",
   "user": "$LUSER", "password": "$LPASS", "login": "success", "tls": true, "prot": "C",
   "transfers": [{"command": "LIST", "direction": "listing", "mode": "passive", "setup": "PASV", "path": "/", "status": "complete", "reply_code": 226, "data": "encrypted"},
                 $(xfer RETR docs/guide.txt /docs/guide.txt download passive PASV "$d/guide.txt" complete 226)]}],
 "notes": "Made by: flock /tmp/ftptrace-capture.lock scripts/capture-samples.sh --no-install ftps_prot_c"}
JSON
}

sc_ftps_implicit() {
    local n=ftps-implicit d; d=$(dl $n); reset_server_logs
    start_vsftpd_tls 990 "implicit_ssl=YES
listen_port=990"
    local script="$LFTP_TLS; set ftp:ssl-protect-data true; open -u $LUSER,$LPASS ftps://$S4; get readme.txt -o $d/readme.txt; quit"
    cap_start "$SAMPLES/$n.pcap"
    LAST_CMD=$(cmdline lftp -d -c "$script")
    in_cli lftp -d -c "$script" >"$LOGS/$n.log" 2>&1 || log "lftp exited $?"
    cap_stop; save_server_log $n vsftpd
    start_vsftpd no
    truth $n.pcap <<JSON
{"description": "Implicit FTPS: vsftpd implicit_ssl=YES listening on port 990, lftp ftps:// (TLS from the first byte, TLS 1.3, lftp's default; SNI absent since the host is an address). Encrypted greeting, login, PBSZ/PROT P, PASV + RETR readme.txt (1715 bytes), QUIT; the data connection is TLS.",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json) ,
 "sessions": [{"client_tool": "lftp", "client_command": $LAST_CMD, "log": "logs/$n.log", "log_format": "lftp",
   "user": "$LUSER", "password": "$LPASS", "login": "success", "tls": true, "implicit": true, "prot": "P",
   "transfers": [$(xfer RETR readme.txt /readme.txt download passive PASV "$d/readme.txt" complete 226)]}],
 "notes": "The control connection is on port 990. Made by: flock /tmp/ftptrace-capture.lock scripts/capture-samples.sh --no-install ftps_implicit"}
JSON
}

sc_parallel() {
    local n=parallel-4 d; d=$(dl $n); reset_server_logs
    local modes=(EPSV PASV PORT EPRT) small=(readme.txt docs/guide.txt docs/index.txt ipv6.txt)
    local opts=("" "--disable-epsv" "-P $C4 --disable-eprt" "-P -")
    local pids=() cmds=()
    cap_start "$SAMPLES/$n.pcap"
    for i in 0 1 2 3; do
        local f=${small[$i]##*/}
        # shellcheck disable=SC2206
        local a=(${opts[$i]} --limit-rate 100k -u $LUSER:$LPASS "ftp://$S4/${small[$i]}" -o "$d/s$((i+1))-$f" "ftp://$S4/data-100k.bin" -o "$d/s$((i+1))-data-100k.bin")
        cmds+=("$(cmdline "${CURL[@]}" "${a[@]}")")
        in_cli "${CURL[@]}" "${a[@]}" >"$LOGS/$n.s$((i+1)).log" 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || log "a parallel curl failed"; done
    cap_stop; save_server_log $n vsftpd
    local sess=() mode
    for i in 0 1 2 3; do
        local f=${small[$i]##*/} m=${modes[$i]}
        case $m in EPSV|PASV) mode=passive;; *) mode=active;; esac
        sess+=("{\"client_tool\": \"curl\", \"client_command\": ${cmds[$i]}, \"log\": \"logs/$n.s$((i+1)).log\", \"log_format\": \"curl\",
   \"user\": \"$LUSER\", \"password\": \"$LPASS\", \"login\": \"success\", \"close\": \"fin\",
   \"transfers\": [$(xfer RETR $f /${small[$i]} download $mode $m "$d/s$((i+1))-$f" complete 226), $(xfer RETR data-100k.bin /data-100k.bin download $mode $m "$d/s$((i+1))-data-100k.bin" complete 226)]}")
    done
    truth $n.pcap <<JSON
{"description": "Four curl processes started at once between the same two hosts, all as ftpuser on vsftpd, each --limit-rate 100k so the sessions overlap: session order here is launch order (s1 EPSV, s2 PASV, s3 PORT, s4 EPRT), not necessarily first-packet order. Each fetches one distinct small file, then data-100k.bin.",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json),
 "sessions": [$(IFS=,; echo "${sess[*]}")]}
JSON
}

sc_loss() {
    local n=loss d; d=$(dl $n)
    local attempt dropped lost cmds=() sess=()
    for attempt in 1 2 3 4 5 6 7 8; do
        reset_server_logs; rm -f "$d"/*; cmds=()
        # tiny kernel buffer (-B 32 KiB) and no -U flushing pressure relief: tcpdump falls behind
        local err="$WORK/tcpdump-$n.pcap.err"
        rm -f "$SAMPLES/$n.pcap"
        ip netns exec $CLI tcpdump -Z root -i $VC -s 0 -B 32 -w "$SAMPLES/$n.pcap" tcp 2>"$err" &
        local tp=$!; TCPDUMP_PIDS+=("$tp")
        for _ in $(seq 100); do grep -q "listening on" "$err" && break; sleep 0.05; done
        local pids=()
        for i in 1 2 3 4; do
            local a=(-u $LUSER:$LPASS "ftp://$S4/big/big-$i.bin" -o "$d/big-$i.bin")
            cmds+=("$(cmdline "${CURL[@]}" "${a[@]}")")
            in_cli "${CURL[@]}" "${a[@]}" >"$LOGS/$n.s$i.log" 2>&1 &
            pids+=($!)
        done
        for p in "${pids[@]}"; do wait "$p" || true; done
        sleep 0.5; kill -INT $tp; wait $tp || true
        dropped=$(sed -n 's/^\([0-9]*\) packets\? dropped by kernel.*/\1/p' "$err")
        lost=$(tshark -r "$SAMPLES/$n.pcap" -Y 'tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment' 2>/dev/null | wc -l)
        log "loss attempt $attempt: tcpdump dropped=${dropped:-?}, tshark lost/unseen-segment marks=$lost"
        [ "${lost:-0}" -gt 0 ] && break
    done
    save_server_log $n vsftpd
    local achieved=true
    if [ "${lost:-0}" -eq 0 ]; then achieved=false; log "WARNING: no capture loss after $attempt attempts; loss.pcap is complete"; fi
    local gaps
    gaps=$(tshark -r "$SAMPLES/$n.pcap" -Y 'tcp.analysis.lost_segment' -T fields -e tcp.stream 2>/dev/null | sort -n | uniq -c | awk '{printf "%s{\"tcp_stream\": %s, \"lost_segment_marks\": %s}", (NR>1?", ":""), $2, $1}')
    # captured payload per connection and direction (what the capture holds, not what was sent)
    local conv
    conv=$(tshark -r "$SAMPLES/$n.pcap" -T fields -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport -e tcp.len 2>/dev/null |
        awk '$5>0 {k=$1":"$2" -> "$3":"$4; b[k]+=$5; s[k]++} END {for (k in b) printf "%s{\"flow\": \"%s\", \"captured_payload_bytes\": %d, \"segments\": %d}", (n++?", ":""), k, b[k], s[k]}')
    for i in 1 2 3 4; do
        sess+=("{\"client_tool\": \"curl\", \"client_command\": ${cmds[$((i-1))]}, \"log\": \"logs/$n.s$i.log\", \"log_format\": \"curl\",
   \"user\": \"$LUSER\", \"password\": \"$LPASS\", \"login\": \"success\",
   \"transfers\": [$(xfer RETR big-$i.bin /big/big-$i.bin download passive EPSV "$d/big-$i.bin" complete 226)]}")
    done
    truth $n.pcap <<JSON
{"description": "Capture loss: four curl downloads (EPSV, 524288 bytes each, big/big-1.bin .. big-4.bin) at once while tcpdump runs with a 32 KiB kernel buffer (-B 32) and without -U, so it drops packets. The transfers themselves were complete (the client files are whole, see sha256); the capture is missing segments inside the data connections, and control-connection packets may be missing too (then a 226 or QUIT is absent from the capture although the client log shows it). verification.captured_payload_by_flow gives what the capture holds per flow (each download really carried 524288 bytes).",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json),
 "verification": {"loss_achieved": $achieved, "tshark_lost_segment_marks_total": $lost, "tshark_lost_segment_by_stream": [$gaps], "attempts": $attempt, "captured_payload_by_flow": [$conv]},
 "sessions": [$(IFS=,; echo "${sess[*]}")]}
JSON
}

# A download really cut off part-way and resumed with REST: a small receive buffer in the
# client namespace and a rate limit make vsftpd stop mid-file when curl gives up (--max-time);
# curl -C - then asks for the rest (REST n). The served file is data-100k.bin.
sc_resume() {
    local n=resume-curl d; d=$(dl $n); reset_server_logs
    local old; old=$(in_cli sysctl -n net.ipv4.tcp_rmem)
    in_cli sysctl -qw net.ipv4.tcp_rmem="4096 16384 65536"
    cap_start "$SAMPLES/$n.pcap"
    run_curl $n.s1 --limit-rate 20k --max-time 2 --disable-epsv -u $LUSER:$LPASS "ftp://$S4/data-100k.bin" -o "$d/data-100k.bin"
    local c1=$LAST_CMD have; have=$(stat -c %s "$d/data-100k.bin")
    sleep 0.5
    run_curl $n.s2 -C - --disable-epsv -u $LUSER:$LPASS "ftp://$S4/data-100k.bin" -o "$d/data-100k.bin"
    local c2=$LAST_CMD
    cap_stop; save_server_log $n vsftpd
    in_cli sysctl -qw net.ipv4.tcp_rmem="$old"
    local served="$WORK/files/vsftpd/home/$LUSER/data-100k.bin"
    truth $n.pcap <<JSON
{"description": "A download cut off and resumed: curl --limit-rate 20k --max-time 2 (client receive buffer 4096 16384 65536) gives up on RETR data-100k.bin after $have bytes and resets the data connection; vsftpd still answers 226 (more bytes than curl kept had crossed the wire, but not the whole file). curl -C - then sends REST $have and RETR for the rest. Joined, the two pieces are the served file (verification.served_file).",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json),
 "verification": {"first_piece_bytes": $have, "served_file": {"path": "/data-100k.bin", "bytes": $(stat -c %s "$served"), "sha256": "$(sha256sum "$served" | cut -d' ' -f1)"}},
 "sessions": [{"client_tool": "curl", "client_command": $c1, "log": "logs/$n.s1.log", "log_format": "curl",
   "user": "$LUSER", "password": "$LPASS", "login": "success", "close": "rst",
   "close_note": "curl gave up (--max-time): it closed the control connection without QUIT (FIN), then reset it when the 226 arrived",
   "transfers": [$(xfer RETR data-100k.bin /data-100k.bin download passive PASV null complete 226)]},
  {"client_tool": "curl", "client_command": $c2, "log": "logs/$n.s2.log", "log_format": "curl",
   "user": "$LUSER", "password": "$LPASS", "login": "success", "close": "fin",
   "transfers": [$(xfer RETR data-100k.bin /data-100k.bin download passive PASV null complete 226 | sed "s/}\$/, \"rest\": $have}/")]}]}
JSON
}

sc_sll2() {
    local n=sll2-any d; d=$(dl $n); reset_server_logs
    cap_start "$SAMPLES/$n.pcap" -i any
    run_curl $n.s1 --disable-epsv -u $LUSER:$LPASS "ftp://$S4/docs/" -o "$d/LIST-docs.txt" "ftp://$S4/readme.txt" -o "$d/readme.txt"
    local c1=$LAST_CMD
    run_curl $n.s2 -g -u $LUSER:$LPASS "ftp://[$S6]/ipv6.txt" -o "$d/ipv6.txt"
    local c2=$LAST_CMD
    cap_stop; save_server_log $n vsftpd
    truth $n.pcap <<JSON
{"description": "tcpdump -i any inside the client namespace: Linux cooked capture v2 (LINUX_SLL2) link layer. Two curl sessions: IPv4 with PASV (CWD docs, LIST, CWD /, RETR readme.txt), then IPv6 with EPSV (RETR ipv6.txt).",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json),
 "sessions": [{"client_tool": "curl", "client_command": $c1, "log": "logs/$n.s1.log", "log_format": "curl",
   "user": "$LUSER", "password": "$LPASS", "login": "success", "close": "fin",
   "transfers": [$(xfer LIST "" /docs listing passive PASV "$d/LIST-docs.txt" complete 226),
                 $(xfer RETR readme.txt /readme.txt download passive PASV "$d/readme.txt" complete 226)]},
  {"client_tool": "curl", "client_command": $c2, "log": "logs/$n.s2.log", "log_format": "curl",
   "user": "$LUSER", "password": "$LPASS", "login": "success", "close": "fin", "server_address": "$S6",
   "transfers": [$(xfer RETR ipv6.txt /ipv6.txt download passive EPSV "$d/ipv6.txt" complete 226)]}]}
JSON
}

sc_scan() {
    local n=scan d; d=$(dl $n); reset_server_logs
    cap_start "$SAMPLES/$n.pcap"
    # Scan probes from the client namespace first: a SYN scan of a small port range (nmap
    # resets the half-open connections), a connect scan of the two FTP ports, five hping3
    # SYNs to port 21 (the client kernel resets the unexpected SYN+ACKs).
    in_cli nmap -n -Pn -sS -T4 -p 1-100,2121 $S4 >"$LOGS/$n.nmap-sS.log" 2>&1 || log "nmap -sS exited $?"
    in_cli nmap -n -Pn -sT -T4 -p 21,2121 $S4 >"$LOGS/$n.nmap-sT.log" 2>&1 || log "nmap -sT exited $?"
    in_cli hping3 -S -p 21 -c 5 -i u100000 $S4 >"$LOGS/$n.hping3.log" 2>&1 || true
    sleep 0.3
    # Then three real sessions.
    run_curl $n.s1 -u $LUSER:$LPASS "ftp://$S4/readme.txt" -o "$d/readme.txt"
    local c1=$LAST_CMD
    run_curl $n.s2 --disable-epsv -u $LUSER:$LPASS "ftp://$S4/docs/" -o "$d/LIST-docs.txt"
    local c2=$LAST_CMD
    run_curl $n.s3 -u alice:wonderland "ftp://$S4:$PYPORT/data-100k.bin" -o "$d/data-100k.bin"
    local c3=$LAST_CMD
    cap_stop; save_server_log $n vsftpd
    # What the capture holds per TCP connection to an FTP port: a probe carried no payload.
    local conns
    conns=$(tshark -r "$SAMPLES/$n.pcap" -T fields -E separator=' ' -e tcp.stream -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport -e tcp.len -e tcp.flags.syn -e tcp.flags.ack 2>/dev/null |
        $PY -c '
import json, sys
first, payload = {}, {}
for line in sys.stdin:
    st, src, sp, dst, dp, ln, syn, ack = line.split()
    if st not in first and syn in ("1", "True") and ack in ("0", "False"):
        first[st] = (src, int(sp), dst, int(dp))
    payload[st] = payload.get(st, 0) + int(ln)
servers = {}
for st, (src, sp, dst, dp) in first.items():
    if dp in (21, 2121):
        e = servers.setdefault(f"{dst}:{dp}", {"server": f"{dst}:{dp}", "probes": 0, "connections_with_payload": 0, "probe_sources": []})
        if payload.get(st, 0) == 0:
            e["probes"] += 1
            if src not in e["probe_sources"]:
                e["probe_sources"].append(src)
        else:
            e["connections_with_payload"] += 1
empty = sum(1 for st in first if payload.get(st, 0) == 0)
print(json.dumps({"ftp_port_connections": sorted(servers.values(), key=lambda e: e["server"]), "connections_without_payload": empty, "connections": len(first)}))
')
    # A connect-scan connection that got the server greeting before nmap reset it is a
    # banner grab (payload from the server only): a session of its own, listed first.
    local grabs
    grabs=$(tshark -r "$SAMPLES/$n.pcap" -T fields -E separator=' ' -e tcp.stream -e ip.src -e tcp.srcport -e tcp.dstport -e tcp.len -e tcp.flags.syn -e tcp.flags.ack 2>/dev/null |
        $PY -c '
import json, sys
first, sent = {}, {}
for line in sys.stdin:
    st, src, sp, dp, ln, syn, ack = line.split()
    if st not in first and syn in ("1", "True") and ack in ("0", "False"):
        first[st] = (src, int(dp))
    if st in first and int(ln) > 0:
        sent.setdefault(st, set()).add("client" if src == first[st][0] else "server")
out = []
for st, (src, dp) in first.items():
    if dp in (21, 2121) and sent.get(st) == {"server"}:
        out.append({"client_tool": "nmap", "note": f"banner grab: nmap -sT connection to port {dp} (tcp.stream {st}) got the greeting before its reset", "server_port": dp, "login": "none", "commands_sent": [], "transfers": []})
print("".join(json.dumps(o) + ", " for o in out))
')
    truth $n.pcap <<JSON
{"description": "Scan probes, then real sessions, from the client namespace: nmap -sS -p 1-100,2121 (SYN scan; open ports answer SYN+ACK and nmap resets, closed ones answer RST), nmap -sT -p 21,2121 (connect scan), five hping3 SYNs to port 21; then three curl sessions (vsftpd EPSV RETR readme.txt, vsftpd PASV LIST docs, pyftpdlib on 2121 RETR data-100k.bin). verification.probes counts the connections to an FTP port that carried no payload (tshark); a connect-scan connection whose server greeting got out before the reset is a banner grab and is a session of its own.",
 "tcpdump_stderr": "$WORK/tcpdump-$n.pcap.err", "network": $NET_JSON, "server": $(vsftpd_json),
 "extra_tools": ["nmap", "hping3"],
 "scanner": {"source": "$C4", "commands": ["nmap -n -Pn -sS -T4 -p 1-100,2121 $S4", "nmap -n -Pn -sT -T4 -p 21,2121 $S4", "hping3 -S -p 21 -c 5 -i u100000 $S4"], "logs": ["logs/$n.nmap-sS.log", "logs/$n.nmap-sT.log", "logs/$n.hping3.log"]},
 "verification": {"probes": $conns},
 "sessions": [$grabs{"client_tool": "curl", "client_command": $c1, "log": "logs/$n.s1.log", "log_format": "curl",
   "user": "$LUSER", "password": "$LPASS", "login": "success", "close": "fin",
   "transfers": [$(xfer RETR readme.txt /readme.txt download passive EPSV "$d/readme.txt" complete 226)]},
  {"client_tool": "curl", "client_command": $c2, "log": "logs/$n.s2.log", "log_format": "curl",
   "user": "$LUSER", "password": "$LPASS", "login": "success", "close": "fin",
   "transfers": [$(xfer LIST "" /docs listing passive PASV "$d/LIST-docs.txt" complete 226)]},
  {"client_tool": "curl", "client_command": $c3, "log": "logs/$n.s3.log", "log_format": "curl",
   "user": "alice", "password": "wonderland", "login": "success", "close": "fin", "server_address": "$S4", "server_port": $PYPORT,
   "transfers": [$(xfer RETR data-100k.bin /data-100k.bin download passive EPSV "$d/data-100k.bin" complete 226)]}]}
JSON
}

sc_variants() {
    local s=$SAMPLES
    editcap -F pcapng "$s/curl-epsv-vsftpd.pcap" "$s/curl-epsv-vsftpd.pcapng"
    $PY "$HERE/truth.py" "$REPO" curl-epsv-vsftpd.pcapng "$WORK" --derive curl-epsv-vsftpd.pcap "editcap -F pcapng curl-epsv-vsftpd.pcap"
    tcprewrite --enet-vlan=add --enet-vlan-tag=100 --enet-vlan-cfi=0 --enet-vlan-pri=0 \
        --infile="$s/documented-active.pcap" --outfile="$s/vlan.pcap"
    $PY "$HERE/truth.py" "$REPO" vlan.pcap "$WORK" --derive documented-active.pcap "tcprewrite --enet-vlan=add --enet-vlan-tag=100 --enet-vlan-cfi=0 --enet-vlan-pri=0 of documented-active.pcap (802.1Q tag 100 on every frame)"
    gzip -9 -n -c "$s/curl-pasv-vsftpd.pcap" >"$s/curl-pasv-vsftpd.pcap.gz"
    $PY "$HERE/truth.py" "$REPO" curl-pasv-vsftpd.pcap.gz "$WORK" --derive curl-pasv-vsftpd.pcap "gzip -9 -n of curl-pasv-vsftpd.pcap"
}

# ---------------------------------------------------------------- verification
verify() {
    local f dec
    shopt -s nullglob
    for f in "$SAMPLES"/*.pcap "$SAMPLES"/*.pcapng "$SAMPLES"/*.pcap.gz; do
        dec=()
        case $f in *ftplib-pyftpdlib-2121*) dec=(-d tcp.port==2121,ftp);; esac
        local pk ftp
        pk=$(capinfos -c -M "$f" | awk -F: '/Number of packets/{gsub(/ /,"",$2); print $2}')
        ftp=$(tshark -r "$f" "${dec[@]}" -Y ftp 2>/dev/null | wc -l)
        printf '[verify] %-34s %8s bytes %6s packets %5s ftp packets\n' "$(basename "$f")" "$(stat -c %s "$f")" "$pk" "$ftp" >&2
        [ "$pk" -gt 0 ] || die "$f is empty"
    done
}

ALL=(curl_epsv curl_pasv curl_port curl_eprt curl_upload curl_ipv6_epsv curl_ipv6_eprt documented pyftpd lftp wget tnftp tls ftps_prot_p ftps_prot_c ftps_implicit parallel loss sll2 scan dns documented_dns variants)

main() {
    local install=1 want=()
    for a in "$@"; do
        case $a in --no-install) install=0;; -h|--help) sed -n '2,16p' "$0"; exit 0;; *) want+=("$a");; esac
    done
    [ ${#want[@]} -gt 0 ] || want=("${ALL[@]}")
    [ $install = 1 ] && install_packages
    trap teardown EXIT
    trap 'exit 130' INT TERM
    mkdir -p "$SAMPLES" "$LOGS"
    setup_net
    setup_files
    start_vsftpd no
    start_pyftpd
    for sc in "${want[@]}"; do
        log "scenario $sc"
        "sc_$sc"
    done
    verify
    $PY "$HERE/gen_readme.py" "$REPO"
    log "done: $(du -ch "$SAMPLES"/*.pcap* | tail -1)"
}

main "$@"
