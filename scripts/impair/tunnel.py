#!/usr/bin/env python3
"""Wrap every packet of a real Ethernet capture in a tunnel or another link layer.

Deterministic (no randomness: outer IP ids count packets, the VXLAN/GENEVE source port
is fixed per direction), every packet keeps its timestamp. Needs scapy (the pyenv
`python3`, not /usr/bin/python3).

    python3 scripts/impair/tunnel.py ENCAP IN.pcap OUT.pcap [--frag N] [--shift-us N]

ENCAP is one of: vxlan, geneve, gre-key, gre-teb, erspan1, erspan2, erspan3, mpls-pw,
mpls-ip, pppoe, ipip, 6in4, 4in6, ppp, chdlc, nflog, vxlan-twins, gre-unknown.

Outer addresses are 10.98.2.1 (the inner client's side) and 10.98.2.2 (the server's
side), fd00:98:2::1 / ::2 for IPv6 outers. `--frag N` fragments every outer IPv4 packet
larger than N bytes (the receiver must reassemble it before the inner parse).
`vxlan-twins` writes the capture twice, in VNI 100 and in VNI 200 (the second copy
`--shift-us` microseconds later, default 500), interleaved by time: the same inner
addresses, ports and sequence numbers in two segments. `gre-unknown` uses GRE protocol
0x88b5 (IEEE local experimental), which no decoder follows.
"""

import argparse
import struct
import sys

from scapy.all import (  # noqa: E402
    GRE,
    IP,
    UDP,
    VXLAN,
    Ether,
    IPv6,
    PcapWriter,
    Raw,
    fragment,
    rdpcap,
)
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III
from scapy.contrib.geneve import GENEVE
from scapy.contrib.mpls import MPLS
from scapy.layers.ppp import PPP, PPPoE

OUT_A4, OUT_B4 = "10.98.2.1", "10.98.2.2"
OUT_A6, OUT_B6 = "fd00:98:2::1", "fd00:98:2::2"
MAC_A, MAC_B = "02:98:02:00:00:01", "02:98:02:00:00:02"

LINKTYPE = {"ppp": 9, "chdlc": 104, "nflog": 239}


def inner_parts(frame):
    """(ethertype, L3 bytes) of an Ethernet frame, trimmed to the IP length."""
    raw = bytes(frame)
    et = struct.unpack("!H", raw[12:14])[0]
    l3 = raw[14:]
    if et == 0x0800:
        l3 = l3[: struct.unpack("!H", l3[2:4])[0]]
    elif et == 0x86DD:
        l3 = l3[: 40 + struct.unpack("!H", l3[4:6])[0]]
    return et, l3


def client_side(frame, client_ips):
    """True when the frame comes from the inner client's side."""
    if IP in frame:
        return frame[IP].src in client_ips
    if IPv6 in frame:
        return frame[IPv6].src in client_ips
    return True


def wrap(encap, frame, n, fwd):
    """The outer packet (scapy) or raw link-layer bytes for one inner Ethernet frame."""
    et, l3 = inner_parts(frame)
    raw = bytes(frame)
    src4, dst4 = (OUT_A4, OUT_B4) if fwd else (OUT_B4, OUT_A4)
    src6, dst6 = (OUT_A6, OUT_B6) if fwd else (OUT_B6, OUT_A6)
    smac, dmac = (MAC_A, MAC_B) if fwd else (MAC_B, MAC_A)
    eth = Ether(src=smac, dst=dmac)
    ip4 = IP(src=src4, dst=dst4, id=n & 0xFFFF, ttl=64)
    sport = 49152 + (0 if fwd else 1)
    if encap == "vxlan":
        return eth / ip4 / UDP(sport=sport, dport=4789) / VXLAN(vni=100, flags=0x08) / Raw(raw)
    if encap == "geneve":
        return (
            eth / ip4 / UDP(sport=sport, dport=6081)
            / GENEVE(vni=200, proto=0x6558) / Raw(raw)
        )
    if encap == "gre-key":
        return eth / ip4 / GRE(key_present=1, key=42, proto=et) / Raw(l3)
    if encap == "gre-teb":
        return (
            eth / ip4
            / GRE(chksum_present=1, seqnum_present=1, sequence_number=n, proto=0x6558)
            / Raw(raw)
        )
    if encap == "gre-unknown":
        return eth / ip4 / GRE(proto=0x88B5) / Raw(l3)
    if encap == "erspan1":
        return eth / ip4 / GRE(proto=0x88BE) / Raw(raw)
    if encap == "erspan2":
        return (
            eth / ip4 / GRE(seqnum_present=1, sequence_number=n, proto=0x88BE)
            / ERSPAN_II(session_id=5, index=1) / Raw(raw)
        )
    if encap == "erspan3":
        return (
            eth / ip4 / GRE(seqnum_present=1, sequence_number=n, proto=0x22EB)
            / ERSPAN_III(session_id=6, timestamp=n, ft=0, o=0) / Raw(raw)
        )
    if encap == "mpls-pw":
        # Two labels, a pseudowire control word (sequence 0), the whole Ethernet frame.
        return (
            Ether(src=smac, dst=dmac, type=0x8847)
            / MPLS(label=1000 if fwd else 1001, s=0, ttl=64)
            / MPLS(label=16, s=1, ttl=64)
            / Raw(b"\x00\x00\x00\x00" + raw)
        )
    if encap == "mpls-ip":
        return Ether(src=smac, dst=dmac, type=0x8847) / MPLS(label=2000, s=1, ttl=64) / Raw(l3)
    if encap == "pppoe":
        proto = 0x0021 if et == 0x0800 else 0x0057
        return (
            Ether(src=smac, dst=dmac, type=0x8864)
            / PPPoE(version=1, type=1, code=0, sessionid=0x1234)
            / PPP(proto=proto) / Raw(l3)
        )
    if encap == "ipip":
        return eth / IP(src=src4, dst=dst4, id=n & 0xFFFF, proto=4) / Raw(l3)
    if encap == "6in4":
        return eth / IP(src=src4, dst=dst4, id=n & 0xFFFF, proto=41) / Raw(l3)
    if encap == "4in6":
        return eth / IPv6(src=src6, dst=dst6, nh=4) / Raw(l3)
    if encap == "ppp":
        proto = 0x0021 if et == 0x0800 else 0x0057
        return b"\xff\x03" + struct.pack("!H", proto) + l3
    if encap == "chdlc":
        return b"\x0f\x00" + struct.pack("!H", et) + l3
    if encap == "nflog":
        # Header: AF_INET / AF_INET6, version 0, resource id 1 (big-endian); TLVs in the
        # capturing host's (little-endian) order: a prefix, then the payload.
        fam = 2 if et == 0x0800 else 10
        prefix = b"ftp\x00"
        out = bytes([fam, 0]) + struct.pack("!H", 1)
        out += struct.pack("<HH", 4 + len(prefix), 10) + prefix
        out += struct.pack("<HH", 4 + len(l3), 9) + l3
        return out + b"\x00" * (-len(out) % 4)
    raise SystemExit(f"unknown encapsulation {encap}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("encap")
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--frag", type=int, default=0, help="fragment outer IPv4 above N bytes")
    ap.add_argument("--shift-us", type=int, default=500, help="vxlan-twins: second copy's delay")
    a = ap.parse_args()

    frames = rdpcap(a.input)
    # The inner client: the source of the first SYN.
    client_ips = set()
    for f in frames:
        if (IP in f or IPv6 in f) and f.haslayer("TCP") and f["TCP"].flags == "S":
            client_ips.add(f[IP].src if IP in f else f[IPv6].src)
            break

    out = []  # (time, packet)
    encap = "vxlan" if a.encap == "vxlan-twins" else a.encap
    for n, f in enumerate(frames):
        fwd = client_side(f, client_ips)
        p = wrap(encap, f, n, fwd)
        out.append((f.time, n, p))
        if a.encap == "vxlan-twins":
            q = wrap(encap, f, n + 0x8000, fwd)
            q[VXLAN].vni = 200
            out.append((f.time + a.shift_us / 1e6, n, q))
    out.sort(key=lambda x: (x[0], x[1]))

    lt = LINKTYPE.get(encap, 1)
    w = PcapWriter(a.output, linktype=lt, sync=True)
    for t, _, p in out:
        pkts = [p]
        if a.frag and not isinstance(p, bytes) and IP in p and len(p[IP]) > a.frag:
            pkts = [Ether(src=p[Ether].src, dst=p[Ether].dst) / x
                    for x in fragment(p[IP], fragsize=a.frag)]
        for x in pkts:
            if isinstance(x, bytes):
                x = Raw(x)
            x.time = t
            w.write(x)
    w.close()
    print(f"{a.output}: {len(out)} packets wrapped ({a.encap})", file=sys.stderr)


if __name__ == "__main__":
    main()
