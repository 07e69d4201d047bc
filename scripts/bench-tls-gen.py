#!/usr/bin/env python3
# usage: scripts/bench-tls-gen.py tls|clear MIB OUT.pcap -- a synthetic benchmark capture (not a sample):
# One AUTH TLS session + one PROT P data connection carrying N MB of TLS records (or, with
# "clear", as many bytes of a byte ramp in a PASV-announced cleartext RETR) -- benchmark input only.
import struct, sys
mode, mb, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
f = open(out, "wb")
f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
t = [1_700_000_000_000_000]
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b)//2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return (~s) & 0xffff
def pkt(src, sp, dst, dp, seq, ack, flags, payload):
    tcp = struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, bytes(src), bytes(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    fr = b"\x02" * 6 + b"\x01" * 6 + b"\x08\x00" + ip + tcp
    t[0] += 20
    f.write(struct.pack("<IIII", t[0] // 1_000_000, t[0] % 1_000_000, len(fr), len(fr)) + fr)
C, S = [10, 0, 0, 2], [10, 0, 0, 1]
class Conv:
    def __init__(s, a, ap, b, bp):
        s.a, s.ap, s.b, s.bp, s.seq = a, ap, b, bp, [1000, 5000]
        pkt(a, ap, b, bp, 1000, 0, 0x02, b""); pkt(b, bp, a, ap, 5000, 1001, 0x12, b"")
        s.seq = [1001, 5001]; pkt(a, ap, b, bp, 1001, 5001, 0x10, b"")
    def send(s, d, data):
        src, sp, dst, dp = (s.a, s.ap, s.b, s.bp) if d == 0 else (s.b, s.bp, s.a, s.ap)
        pkt(src, sp, dst, dp, s.seq[d], s.seq[1-d], 0x18, data); s.seq[d] = (s.seq[d] + len(data)) % (1 << 32)
    def close(s):
        pkt(s.a, s.ap, s.b, s.bp, s.seq[0], s.seq[1], 0x11, b""); s.seq[0] += 1
        pkt(s.b, s.bp, s.a, s.ap, s.seq[1], s.seq[0], 0x11, b""); s.seq[1] += 1
        pkt(s.a, s.ap, s.b, s.bp, s.seq[0], s.seq[1], 0x10, b"")
def rec(k, n): return bytes([k, 3, 3]) + struct.pack("!H", n) + b"\xab" * n
ctl = Conv(C, 50000, S, 21)
ctl.send(1, b"220 hi\r\n")
if mode == "tls":
    ctl.send(0, b"AUTH TLS\r\n"); ctl.send(1, b"234 go\r\n")
    ch = bytearray(rec(22, 60)); ch[5] = 1; ctl.send(0, bytes(ch)); ctl.send(1, rec(22, 80))
else:
    ctl.send(0, b"PASV\r\n"); ctl.send(1, b"227 Entering Passive Mode (10,0,0,1,156,64)\r\n")
    ctl.send(0, b"RETR f\r\n"); ctl.send(1, b"150 ok\r\n")
d = Conv(C, 51000, S, 40000)
stream = b"".join(rec(23, 16384) for _ in range(8)) if mode == "tls" else bytes(range(256)) * 512
if mode == "tls":
    ch = bytearray(rec(22, 60)); ch[5] = 1; d.send(0, bytes(ch))
total = mb * 1024 * 1024
sent = 0
while sent < total:
    for i in range(0, len(stream), 1448):
        d.send(1, stream[i:i+1448])
    sent += len(stream)
d.close()
ctl.send(1, b"226 done\r\n" if mode != "tls" else rec(23, 40))
ctl.close()
