#!/usr/bin/python3
"""Write samples/README.md from the *.truth.json files (run by capture-samples.sh)."""
import glob
import json
import os
import sys

repo = sys.argv[1]
samples = os.path.join(repo, "samples")
ORDER = ["curl-epsv-vsftpd.pcap", "curl-pasv-vsftpd.pcap", "curl-port-vsftpd.pcap", "curl-eprt-vsftpd.pcap",
         "curl-upload-vsftpd.pcap", "curl-ipv6-epsv.pcap", "curl-ipv6-eprt.pcap", "documented-active.pcap",
         "documented-active-nsec.pcap", "documented-dns.pcap", "ftplib-pyftpdlib-2121.pcap", "lftp-vsftpd.pcap", "wget-vsftpd.pcap",
         "tnftp-vsftpd.pcap", "auth-tls-vsftpd.pcap", "parallel-4.pcap", "loss.pcap", "sll2-any.pcap",
         "curl-epsv-vsftpd.pcapng", "vlan.pcap", "curl-pasv-vsftpd.pcap.gz"]
truths = {os.path.basename(p)[: -len(".truth.json")]: json.load(open(p))
          for p in glob.glob(os.path.join(samples, "*.truth.json"))}
names = [n for n in ORDER if n in truths] + sorted(n for n in truths if n not in ORDER)

out = []
w = out.append
w("# ftptrace sample captures\n")
w("Real FTP sessions captured on this machine by `scripts/capture-samples.sh` (run as root: "
  "`sudo scripts/capture-samples.sh`, or `--no-install` when the packages are there, or name scenarios: "
  "`scripts/capture-samples.sh --no-install curl_epsv loss variants`). This file is generated from the "
  "ground-truth files by `scripts/capture/gen_readme.py`.\n")
w("## Setup common to all captures\n")
w("- Two network namespaces joined by one veth pair: server `ftpt-srv` (10.99.0.1/24, fd00:99::1/64) and client "
  "`ftpt-cli` (10.99.0.2/24, fd00:99::2/64, `nodad`), MTU 1500, offloads off on both ends "
  "(`ethtool -K … tso off gso off gro off tx off rx off`), so segments are what a real wire carries "
  "(at most 1448 bytes of payload with TCP timestamps).\n"
  "- Capture: `tcpdump -i ftpt-vc -s 0 -U --immediate-mode -w FILE tcp` inside the client namespace "
  "(only `tcp`: no ARP/ND/ICMP). Full packets.\n"
  "- vsftpd (foreground, generated config): port 21 on both families (`listen_ipv6=YES`), anonymous root "
  "read-only, local user `ftpuser`/`ftppass` chrooted to a writable home, `connect_from_port_20=YES` "
  "(active data connections come from port 20), PASV ports 40000-40999, PAM service with plain pam_unix.\n"
  "- pyftpdlib on 10.99.0.1:**2121**: user `alice`/`wonderland` (all permissions), anonymous read-only, "
  "PASV ports 41000-41099.\n"
  "- Server files come from `scripts/capture/make_files.py`: SHA-256 counter-mode bytes from fixed seeds, "
  "fixed mtimes (2024-01-02 03:04:05 UTC), so every rerun moves the same bytes and lists the same listings "
  "(except uploads, STOU names, ports, timestamps). `readme.txt` is exactly 1715 bytes everywhere, "
  "`data-100k.bin` 102400 bytes.\n")
w("Host changes the script makes (and keeps, for reruns): system users `ftpuser` (password `ftppass`, "
  "no login shell) and `ftp` if missing, `/etc/pam.d/ftptrace-vsftpd`, packages. Work files live in "
  "`/tmp/ftptrace-capture`. Nothing else on the host is touched: no host interface, route or service; all "
  "traffic stays between the two namespaces, which are deleted on exit (also on error or Ctrl-C).\n")
w("## Ground truth and logs\n")
w("For each capture `X` there is `X.truth.json` (`samples/curl-epsv-vsftpd.pcap.truth.json`, "
  "`samples/curl-epsv-vsftpd.pcapng.truth.json`, …: the full capture file name plus `.truth.json`, so format "
  "variants of one session do not collide). It records, from the client side:\n\n"
  "- `sessions[]` in launch order: client tool and exact command line, `user`, `password`, `login` "
  "(`logins[]` when there were several attempts), `tls`; `commands_sent` (every command line the client "
  "sent, parsed from the client's own log; where the client masks PASS in its log, the real password is put "
  "back and `note_password` says so; curl's final QUIT is not printed by `curl -v` and is appended); "
  "`server_reply_lines` (reply lines as the client saw them); `data_ports_announced` (PORT/EPRT/PASV/EPSV).\n"
  "- `transfers[]`: command, arg, path, direction, mode, setup, status, final reply code and, when a file was "
  "moved, `bytes` and `sha256` computed on the file itself (downloaded copy or upload source). For listings it "
  "is the listing the client received (for ftplib, rebuilt with CRLF line ends).\n"
  "- `capture`: capinfos facts (type, link type, precision, packets); `tcpdump`: tcpdump's own counters "
  "(`dropped_by_kernel` > 0 only in loss.pcap); `tools`: Debian package versions.\n\n"
  "Raw client logs are in `samples/logs/<capture-stem>[.sN].log` (curl `-v`, ftplib debuglevel 2, lftp `-d`, "
  "wget `-d`, tnftp `-d -v`); server logs (vsftpd `log_ftp_protocol`, pyftpdlib debug) in "
  "`samples/logs/<capture-stem>.server.log`. Ports and timestamps differ between reruns.\n")
w("Known client quirks visible here: curl uses `AUTH SSL` (not `AUTH TLS`) first; wget opens one control "
  "connection per URL and closes it without QUIT; Python ftplib's `abort()` sends `ABOR\\r\\n` as TCP urgent "
  "data (URG flag); pyftpdlib answers PASV transfers with `125` instead of `150`; tnftp and lftp add "
  "FEAT/MDTM/SIZE/SITE UTIME of their own; lftp (GnuTLS) puts the server's address in the TLS "
  "server_name (SNI) even when it is an IP, and keeps listings protected (`ftp:ssl-protect-list`) "
  "when `ftp:ssl-protect-data` is off, so its LIST stays PROT P while RETR goes PROT C.\n")
w("## Samples\n")
for n in names:
    t = truths[n]
    c = t.get("capture", {})
    w(f"### `{n}`\n")
    w(t.get("description", "") + "\n")
    facts = [f"{c.get('file_type', '?')}", f"link type {c.get('encapsulation', '?')}",
             f"{c.get('timestamp_precision', '?')}", f"{c.get('packets', '?')} packets",
             f"{c.get('file_bytes', '?')} bytes"]
    w("- File: " + ", ".join(facts))
    if t.get("derived_from"):
        w(f"- Derived from `{t['derived_from']}`: `{t['derivation']}` (same sessions; truth copied)")
    if t.get("tcpdump"):
        td = t["tcpdump"]
        w(f"- tcpdump: {td.get('captured')} captured, {td.get('received_by_filter')} received by filter, "
          f"{td.get('dropped_by_kernel')} dropped by kernel")
    s = t.get("server", {})
    if s:
        w(f"- Server: {s.get('software')} at {s.get('address')} port {s.get('port')} "
          f"({t.get('tools', {}).get(s.get('software'), '')})")
    for sess in t.get("sessions", []):
        tool = sess.get("client_tool")
        w(f"- Session {sess.get('index')}: {tool} ({t.get('tools', {}).get(tool, '')}), user `{sess.get('user')}`, "
          f"login {sess.get('login')}{', TLS' if sess.get('tls') else ''}; log `samples/{sess.get('log')}`")
        w(f"  - command: `{sess.get('client_command')}`")
        for tr in sess.get("transfers", []):
            size = f"{tr['bytes']} bytes, sha256 {tr['sha256'][:16]}…" if "bytes" in tr else "no file"
            w(f"  - {tr.get('command')} {tr.get('arg', '')} → {tr.get('path')}: {tr.get('direction')}, "
              f"{tr.get('mode')}/{tr.get('setup')}, {tr.get('status')} ({tr.get('reply_code')}), {size}")
    if t.get("verification"):
        v = {k: v for k, v in t["verification"].items() if k != "captured_payload_by_flow"}
        w(f"- Verification: `{json.dumps(v)}`")
    w("")
with open(os.path.join(samples, "README.md"), "w") as f:
    f.write("\n".join(out) + "\n")
