#!/usr/bin/env bash
# Build the seed corpora of the fuzz targets from the real captures in samples/.
#
#   fuzz/seed-corpus.sh [DIR]      # writes DIR/<target>/seed-* (default: fuzz/corpus)
#
# Whole captures (cut to 64 KiB) for reader and analyze; packet records for decode;
# control-connection streams, transcripts, address lines, listings, TLS records and
# DNS messages (extracted with tshark) for the parser targets. ipfrag, reassembly and
# tcp take structured (arbitrary) input and start from an empty corpus.
# Needs python3; tshark for the parser seeds (skipped with a note without it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
samples=$(cd "$here/../samples" && pwd)
out=${1:-$here/corpus}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# Whole captures: the reader and the whole pipeline.
for t in reader reader_mapped analyze; do
  mkdir -p "$out/$t"
  for f in "$samples"/*.pcap "$samples"/*.pcapng "$samples"/*.gz "$samples"/blind/*.pcap; do
    [ -e "$f" ] || continue
    head -c 65536 "$f" > "$out/$t/seed-$(basename "$f")"
  done
done

if ! command -v tshark >/dev/null; then
  echo "seed-corpus: tshark not found: only reader, analyze and decode seeds" >&2
  TSHARK=0
else
  TSHARK=1
fi

OUT="$out" SAMPLES="$samples" TSHARK=$TSHARK python3 - <<'PY'
import hashlib, os, re, struct, subprocess, sys
from collections import defaultdict

out, samples, have_tshark = os.environ["OUT"], os.environ["SAMPLES"], os.environ["TSHARK"] == "1"
counts = defaultdict(set)

def seed(target, data, limit=65536):
    if not data:
        return
    data = data[:limit]
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    counts[target].add(name)

def pcap_records(path):
    """(linktype, [(caplen bytes, orig_len)]) of a classic pcap file, or None."""
    b = open(path, "rb").read()
    if len(b) < 24:
        return None
    magic = b[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return None
    linktype = struct.unpack(e + "I", b[20:24])[0] & 0xFFFF
    recs, i = [], 24
    while i + 16 <= len(b):
        _, _, incl, orig = struct.unpack(e + "IIII", b[i:i + 16])
        recs.append((b[i + 16:i + 16 + incl], orig))
        i += 16 + incl
    return linktype, recs

captures = sorted(
    os.path.join(samples, f) for f in os.listdir(samples) if f.endswith(".pcap")
) + [os.path.join(samples, "blind", f) for f in sorted(os.listdir(os.path.join(samples, "blind")))]

# decode: linktype:u16le, then len:u16le cut:u8 bytes, 16 packets a seed.
for path in captures:
    r = pcap_records(path)
    if not r:
        continue
    lt, recs = r
    for k in range(0, min(len(recs), 64), 16):
        s = struct.pack("<H", lt)
        for data, orig in recs[k:k + 16]:
            data = data[:65535]
            s += struct.pack("<HB", len(data), min(max(orig - len(data), 0), 127)) + data
        seed("decode", s)

if not have_tshark:
    print("seeds: " + ", ".join(f"{t} {len(n)}" for t, n in sorted(counts.items())))
    sys.exit(0)

def tshark(path, filt, *fields):
    cmd = ["tshark", "-r", path, "-d", "tcp.port==2121,ftp", "-Y", filt, "-T", "fields"]
    for f in fields:
        cmd += ["-e", f]
    r = subprocess.run(cmd, capture_output=True, text=True)
    return [l.split("\t") for l in r.stdout.splitlines()]

CONTROL = "tcp.len > 0 && (tcp.port == 21 || tcp.port == 2121)"
for path in captures:
    # Control connections: per stream, the bytes of each side and the dialogue in order.
    sides, dialogue = defaultdict(bytes), defaultdict(list)
    for stream, sport, payload in tshark(path, CONTROL, "tcp.stream", "tcp.srcport", "tcp.payload"):
        b = bytes.fromhex(payload.replace(":", ""))
        server = sport in ("21", "2121")
        sides[(stream, server)] += b
        dialogue[stream].append((server, b))
    for (stream, server), b in sides.items():
        seed("ftp_lines", bytes([len(b) % 64, 0]) + b)
        for line in b.split(b"\n"):
            line = line.rstrip(b"\r")
            m = re.match(rb"(PORT|EPRT|LPRT) (.*)", line, re.I)
            if m:
                seed("ftp_addr", bytes([{b"PORT": 0, b"EPRT": 2, b"LPRT": 4}[m.group(1).upper()]]) + m.group(2))
            m = re.match(rb"(227|228|229|150|213|257)[ -](.*)", line)
            if m:
                sel = {b"227": 1, b"229": 3, b"228": 5, b"150": 6, b"213": 6, b"257": 7}[m.group(1)]
                seed("ftp_addr", bytes([sel]) + m.group(2))
    # ftp_session transcripts: server lines start with a digit or a space; a data
    # connection closes after each 226.
    for stream, parts in dialogue.items():
        t = b""
        for server, b in parts:
            for line in b.splitlines(keepends=True):
                if server and not line[:1].isdigit() and not line.startswith(b" "):
                    line = b" " + line
                if not server and (line[:1].isdigit() or line.startswith(b" ")):
                    continue
                t += line
                if server and line.startswith(b"226"):
                    t += b"\x00d\x05\x01\n"
        seed("ftp_session", t)
    # Listings: data connections whose bytes are listing text.
    data = defaultdict(bytes)
    for stream, payload in tshark(path, "ftp-data && tcp.len > 0", "tcp.stream", "tcp.payload"):
        data[stream] += bytes.fromhex(payload.replace(":", ""))
    for b in data.values():
        head = b[:4096]
        if not head or any(c < 9 or (13 < c < 32) for c in head):
            continue
        if re.match(rb"[-dlcbps][-rwxsStT]{9}", head) or re.match(rb"\d\d-\d\d-\d\d", head):
            style = 0
        elif b"type=" in head.lower():
            style = 1
        else:
            style = 2
        seed("listing", bytes([style]) + b)
    # TLS: record-layer payloads (first byte: where TCP splits them).
    for (payload,) in tshark(path, "tls && tcp.len > 0", "tcp.payload"):
        b = bytes.fromhex(payload.replace(":", ""))
        seed("tls_records", bytes([min(len(b) // 2, 255)]) + b)
    # DNS messages.
    for (payload,) in tshark(path, "dns && udp", "udp.payload"):
        seed("dns", bytes.fromhex(payload.replace(":", "")))

print("seeds: " + ", ".join(f"{t} {len(n)}" for t, n in sorted(counts.items())))
PY
echo "seed-corpus: reader and analyze: $(ls "$out/reader" | wc -l) captures each"
