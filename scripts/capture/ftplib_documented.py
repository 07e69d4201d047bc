#!/usr/bin/python3
"""Classic documented active-mode session against vsftpd (which connects from port 20).

usage: ftplib_documented.py HOST OUTDIR MANIFEST
HOST is an IPv4 address or a name; a name is resolved first with one type-A lookup
(getaddrinfo AF_INET, as the seeds' DNS step: "type = A"), an address is used as is.
anonymous login, PORT+LIST, CWD pub, PORT+RETR readme.txt, QUIT.
ftplib debug output (level 2) goes to stdout: the reference log.
"""
import ftplib
import json
import os
import socket
import sys

host, outdir, manifest = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(outdir, exist_ok=True)
transfers = []
ftp = ftplib.FTP()
ftp.set_debuglevel(2)
# AF_INET: one A query for a name (no AAAA, so the session stays IPv4 and uses PORT);
# for an IPv4 literal getaddrinfo returns it without any lookup.
addr = socket.getaddrinfo(host, 21, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
print(f"*resolved* {host} -> {addr}")
ftp.connect(addr, 21, timeout=30)
ftp.login("anonymous", "guest@example.com")
ftp.set_pasv(False)  # PORT for IPv4
lines = []
ftp.retrlines("LIST", lines.append)
listing = os.path.join(outdir, "LIST-root.txt")
with open(listing, "wb") as f:
    # what crossed the wire: retrlines strips CRLF; vsftpd sends CRLF line ends
    f.write(b"".join(l.encode() + b"\r\n" for l in lines))
transfers.append(dict(command="LIST", arg="", path="/", direction="listing", mode="active",
                      setup="PORT", local_file=listing, status="complete", reply_code=226))
ftp.cwd("pub")
out = os.path.join(outdir, "readme.txt")
with open(out, "wb") as f:
    ftp.retrbinary("RETR readme.txt", f.write)
transfers.append(dict(command="RETR", arg="readme.txt", path="/pub/readme.txt", direction="download",
                      mode="active", setup="PORT", local_file=out, status="complete", reply_code=226))
ftp.quit()
with open(manifest, "w") as f:
    json.dump(transfers, f, indent=1)
