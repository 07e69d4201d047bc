#!/usr/bin/env python3
"""Reorder the TCP data segments of a real capture, as multi-queue NICs and merged span
ports do: a seeded, reproducible impairment for ftptrace's samples and tests.

    scripts/impair/reorder.py IN.pcap OUT.pcap --seed 8 --rate 0.25 --distance 4

Within each flow direction (same addresses and ports, same way), the records that carry
TCP payload are permuted: each is displaced, with probability --rate, by 1..--distance
places later among that direction's data records, and the others close up (no record moves
more than --distance places among them). Every other record (SYN, FIN, pure ACKs, other
flows' records, non-TCP) stays where it was, so a receiver's ACK can now come before the
data it acknowledges. A record never moves past a record of the reverse direction that
carries data (a request or a reply it caused): capture hardware reorders packets that
were microseconds apart, not a dialogue's round trips; so data records are permuted
within each run that the other direction's data does not interrupt. Timestamps stay with the positions, not with the records: record N
of the output has record N's timestamp, so the file stays time-ordered.

Pure Python (no scapy): classic pcap in either byte order, micro- or nanosecond; link types
Ethernet (with 802.1Q/802.1ad tags), raw IP, Linux cooked v1 and v2. The random stream is
random.Random(seed).random() only, stable across Python 3 versions.
"""

import argparse
import random
import struct
import sys

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": "<",
    b"\xa1\xb2\xc3\xd4": ">",
    b"\x4d\x3c\xb2\xa1": "<",
    b"\xa1\xb2\x3c\x4d": ">",
}


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24 or data[:4] not in PCAP_MAGICS:
        sys.exit(f"{path}: not a classic pcap file")
    e = PCAP_MAGICS[data[:4]]
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    recs = []
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(e + "IIII", data[off : off + 16])
        body = data[off + 16 : off + 16 + incl]
        if len(body) < incl:
            sys.exit(f"{path}: record at byte {off} cut short")
        recs.append(((sec, frac), orig, body))
        off += 16 + incl
    return data[:24], e, linktype, recs


def ip_offset(linktype, b):
    """Offset of the IP header in a frame, or None."""
    if linktype == 1:  # Ethernet
        off, et = 14, struct.unpack(">H", b[12:14])[0] if len(b) >= 14 else 0
        while et in (0x8100, 0x88A8, 0x9100) and len(b) >= off + 4:
            et = struct.unpack(">H", b[off + 2 : off + 4])[0]
            off += 4
        return off if et in (0x0800, 0x86DD) else None
    if linktype in (101, 12, 14):  # raw IP
        return 0
    if linktype == 113:  # Linux cooked v1
        return 16 if len(b) >= 16 and b[14:16] in (b"\x08\x00", b"\x86\xdd") else None
    if linktype == 276:  # Linux cooked v2
        return 20 if len(b) >= 20 and b[0:2] in (b"\x08\x00", b"\x86\xdd") else None
    return None


def tcp_data_key(linktype, b):
    """(src, dst, sport, dport) for a record carrying TCP payload, else None."""
    o = ip_offset(linktype, b)
    if o is None or len(b) < o + 1:
        return None
    v = b[o] >> 4
    if v == 4 and len(b) >= o + 20:
        ihl = (b[o] & 15) * 4
        total = struct.unpack(">H", b[o + 2 : o + 4])[0]
        frag = struct.unpack(">H", b[o + 6 : o + 8])[0] & 0x3FFF
        if b[o + 9] != 6 or frag:
            return None
        src, dst, t, end = b[o + 12 : o + 16], b[o + 16 : o + 20], o + ihl, o + total
    elif v == 6 and len(b) >= o + 40:
        if b[o + 6] != 6:  # no extension headers in these captures
            return None
        plen = struct.unpack(">H", b[o + 4 : o + 6])[0]
        src, dst, t, end = b[o + 8 : o + 24], b[o + 24 : o + 40], o + 40, o + 40 + plen
    else:
        return None
    if len(b) < t + 20:
        return None
    sport, dport = struct.unpack(">HH", b[t : t + 4])
    doff = (b[t + 12] >> 4) * 4
    if end - (t + doff) <= 0:
        return None
    return (src, dst, sport, dport)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--rate", type=float, required=True, help="share of data records displaced (0..1)")
    ap.add_argument("--distance", type=int, required=True, help="most places a record moves (>= 1)")
    a = ap.parse_args()
    if not 0 <= a.rate <= 1 or a.distance < 1:
        sys.exit("--rate must be in 0..1 and --distance >= 1")
    header, e, linktype, recs = read_pcap(a.input)
    rng = random.Random(a.seed)

    # Runs of one flow direction's data records not interrupted by the reverse
    # direction's data: flow direction -> list of runs (record indices, capture order).
    slots = {}
    for i, (_, _, body) in enumerate(recs):
        k = tcp_data_key(linktype, body)
        if k is None:
            continue
        runs = slots.setdefault(k, [[]])
        rev = (k[1], k[0], k[3], k[2])
        if rev in slots and slots[rev][-1]:
            slots[rev].append([])  # the reverse direction's run ends here
        runs[-1].append(i)

    order = list(range(len(recs)))  # order[position] = record index placed there
    moved = 0
    for idx in (run for k in sorted(slots) for run in slots[k]):
        keyed = []
        for j in range(len(idx)):
            d = 1 + int(rng.random() * a.distance) if rng.random() < a.rate else 0
            # A displaced record goes after the one whose place it takes.
            keyed.append((j + d, d > 0, j))
        keyed.sort()
        for pos, (_, _, j) in enumerate(keyed):
            order[idx[pos]] = idx[j]
            moved += pos != j

    with open(a.output, "wb") as f:
        f.write(header)
        for pos, src in enumerate(order):
            ts = recs[pos][0]
            _, orig, body = recs[src]
            f.write(struct.pack(e + "IIII", ts[0], ts[1], len(body), orig))
            f.write(body)
    data = sum(len(r) for v in slots.values() for r in v)
    print(f"{a.output}: {len(recs)} records, {data} carry TCP data, {moved} moved", file=sys.stderr)


if __name__ == "__main__":
    main()
