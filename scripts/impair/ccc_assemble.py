#!/usr/bin/env python3
"""Assemble samples/ccc-assembled.pcap: an FTPS control connection that leaves TLS (CCC,
RFC 2228) and goes on in cleartext, from the bytes of two real captures.

No server or client here supports CCC (vsftpd, pyftpdlib, lftp, curl), so the session is
put together from real packets, unchanged in their payload:

1. samples/ftps-prot-p-tls12.pcap (lftp + vsftpd, AUTH TLS, TLS 1.2, PROT P): every packet
   up to the server's last TLS record on the control connection (frames 1-94: greeting,
   FEAT, AUTH TLS, the handshake, the encrypted dialogue and both PROT P data connections),
   then the client's TLS alert record (frame 96: close_notify, encrypted under TLS 1.2).
   The server's FIN (95) and RST (97) are left out; the alert's ACK number is lowered by
   the FIN it no longer acknowledges.
2. samples/lftp-vsftpd.pcap (lftp + vsftpd, cleartext): every packet from the client's
   PASV (frame 48) to the end: PASV/227, RETR guide.txt with its data connection, CWD /,
   PASV/227, STOR lftp-upload.txt with its data connection, two SITE UTIME, QUIT/221, FINs.
   Its control connection's client port becomes the first capture's (60882), its sequence
   and acknowledgement numbers continue the first capture's streams, its MAC addresses are
   the first capture's, and its times follow the alert by 5 ms keeping their spacing. Its
   data connections keep their own ports (the 227 replies name them) and bytes.

Deterministic (no randomness): rerun with `scripts/impair/ccc_assemble.py` (the pyenv
python3 with scapy) from the repository root; it also writes the .truth.json.
"""
import json
import os
import sys

from scapy.all import Ether, IP, TCP, rdpcap, wrpcap  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
S = os.path.join(REPO, "samples")
A_NAME, B_NAME, OUT = "ftps-prot-p-tls12.pcap", "lftp-vsftpd.pcap", "ccc-assembled.pcap"
A_LAST = 94          # frame number of the last packet taken whole from A
A_ALERT = 96         # the client's close_notify alert record
B_FIRST = 48         # frame number of B's PASV
A_CLIENT_PORT, B_CLIENT_PORT = 60882, 38772
M32 = 1 << 32


def main():
    a = rdpcap(os.path.join(S, A_NAME))
    b = rdpcap(os.path.join(S, B_NAME))
    out = list(a[:A_LAST])
    alert = a[A_ALERT - 1].copy()
    last_srv = a[A_LAST - 1]
    assert last_srv[TCP].sport == 21 and len(last_srv[TCP].payload) > 0
    srv_next = (last_srv[TCP].seq + len(last_srv[TCP].payload)) % M32
    assert alert[TCP].dport == 21 and bytes(alert[TCP].payload)[:1] == b"\x15", "alert record"
    alert[TCP].ack = srv_next
    out.append(alert)
    cli_next = (alert[TCP].seq + len(alert[TCP].payload)) % M32

    first = b[B_FIRST - 1]
    assert first[TCP].sport == B_CLIENT_PORT and bytes(first[TCP].payload) == b"PASV\r\n"
    srv_first = next(p for p in b[B_FIRST - 1:] if p[TCP].sport == 21 and len(p[TCP].payload))
    dc = (cli_next - first[TCP].seq) % M32
    ds = (srv_next - srv_first[TCP].seq) % M32
    macs = {}
    for p in a[:4]:
        macs[p[IP].src] = p[Ether].src
    t0 = float(alert.time) + 0.005 - float(first.time)
    for p in b[B_FIRST - 1:]:
        q = p.copy()
        tcp = q[TCP]
        if B_CLIENT_PORT in (tcp.sport, tcp.dport) and 21 in (tcp.sport, tcp.dport):
            if tcp.sport == B_CLIENT_PORT:
                tcp.sport = A_CLIENT_PORT
                tcp.seq = (tcp.seq + dc) % M32
                if tcp.flags & 0x10:
                    tcp.ack = (tcp.ack + ds) % M32
            else:
                tcp.dport = A_CLIENT_PORT
                tcp.seq = (tcp.seq + ds) % M32
                if tcp.flags & 0x10:
                    tcp.ack = (tcp.ack + dc) % M32
        q[Ether].src = macs[q[IP].src]
        q[Ether].dst = macs[q[IP].dst]
        del q[IP].chksum
        del q[TCP].chksum
        r = Ether(bytes(q))
        r.time = float(p.time) + t0
        out.append(r)
    wrpcap(os.path.join(S, OUT), out)
    truth(len(out))


def truth(n):
    ta = json.load(open(os.path.join(S, A_NAME + ".truth.json")))
    tb = json.load(open(os.path.join(S, B_NAME + ".truth.json")))
    sa, sb = ta["sessions"][0], tb["sessions"][0]
    after = sb["commands_sent"]
    after = after[after.index("RETR guide.txt") - 1:]
    tr_a = [dict(t, data="encrypted", match="timing") for t in sa["transfers"]]
    tr_b = [dict(t, data="captured", match="announced") for t in sb["transfers"][1:]]
    doc = {
        "description": "CCC (RFC 2228) assembled from two real captures, see notes: lftp logs in "
                       "to vsftpd with AUTH TLS (TLS 1.2), lists and downloads with PROT P, the "
                       "client's close_notify alert ends TLS on the control connection, and "
                       "cleartext FTP follows: PASV + RETR guide.txt (4321 bytes), CWD /, PASV + "
                       "STOR lftp-upload.txt (5000 bytes), two SITE UTIME, QUIT.",
        "notes": "Made by scripts/impair/ccc_assemble.py (deterministic; run from the repository "
                 "root with a python3 that has scapy): " + OUT + " = " + A_NAME + " frames 1-94 "
                 "+ frame 96 (client close_notify; ACK lowered by the omitted server FIN) + "
                 + B_NAME + " frames 48-end (control port, sequence numbers, MACs and times "
                 "rewritten to continue the first connection; payloads untouched). No server "
                 "or client at hand supports CCC; the encrypted part is a real TLS session whose "
                 "records end in a real close_notify, the cleartext part real FTP lines.",
        "derived_from": A_NAME + " + " + B_NAME,
        "derivation": "scripts/impair/ccc_assemble.py (frames 1-94 and 96 of the first, 48-end "
                      "of the second, the second's control connection rewritten to continue the "
                      "first's; see notes)",
        "capture": {"file_type": "pcap", "encapsulation": "ether",
                    "timestamp_precision": "microseconds (6)", "packets": n,
                    "file_bytes": os.path.getsize(os.path.join(S, OUT))},
        "sessions": [{
            "index": 1, "client_tool": "lftp", "client_command": sa["client_command"] + " ; then "
            + sb["client_command"], "log": sa["log"], "user": sa["user"], "password": sa["password"],
            "login": "success", "tls": True, "ccc": True, "prot": "P",
            "tls_version": "TLSv1.2", "cert_subject": "CN=ftptrace-test-server",
            "commands_sent": sa["commands_sent"],
            "commands_after_ccc": after,
            "transfers": tr_a + tr_b,
        }],
    }
    with open(os.path.join(S, OUT + ".truth.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
