#!/usr/bin/python3
"""Long Python ftplib session against pyftpdlib on a non-standard port.

usage: ftplib_pyftpd.py HOST PORT UPLOAD_DIR OUTDIR MANIFEST
ftplib debug output (level 2) goes to stdout: the reference log.
"""
import ftplib
import io
import json
import os
import sys
import time

host, port, updir, outdir, manifest = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
os.makedirs(outdir, exist_ok=True)
transfers = []


def note(**kw):
    transfers.append(kw)
    print("*note*", json.dumps(kw), flush=True)


class FTP(ftplib.FTP):
    """ftplib.FTP that remembers the text of the last reply (for STOU's file name)."""
    last_text = ""

    def getmultiline(self):
        line = super().getmultiline()
        self.last_text = line
        return line


ftp = FTP()
ftp.set_debuglevel(2)
ftp.connect(host, port, timeout=30)
# 1. failed login, then a successful one on the same control connection
try:
    ftp.login("alice", "wrong-password")
except ftplib.error_perm as e:
    print("*expected-error*", repr(str(e)))
ftp.login("alice", "wonderland")
# 2. multi-line replies
ftp.sendcmd("FEAT")
ftp.sendcmd("HELP")
# 3. unknown command
try:
    ftp.sendcmd("XYZZY foo")
except ftplib.error_perm as e:
    print("*expected-error*", repr(str(e)))
ftp.sendcmd("SYST")
ftp.pwd()
ftp.mkd("newdir")
ftp.cwd("newdir")
ftp.sendcmd("CDUP")
ftp.voidcmd("TYPE I")
ftp.size("data-100k.bin")


def fetch(cmd, local, rest=None, **meta):
    path = os.path.join(outdir, local)
    with open(path, "wb") as f:
        ftp.retrbinary(cmd, f.write, rest=rest)
    note(command=cmd.split(" ", 1)[0], arg=cmd.split(" ", 1)[1] if " " in cmd else "",
         local_file=path, rest=rest, status="complete", reply_code=226, **meta)


# 4. resumed download: REST 50000 + RETR (server sends the last 52400 bytes)
fetch("RETR data-100k.bin", "data-100k.bin.from-50000", rest=50000, path="/data-100k.bin",
      direction="download", mode="passive", setup="PASV", expected_bytes_note="SIZE said 102400")
# 5. aborted download of a big file: read ~64 KiB, then ABOR (sent with MSG_OOB by ftplib)
conn = ftp.transfercmd("RETR big-4m.bin")
got = bytearray()
while len(got) < 65536:
    chunk = conn.recv(8192)
    if not chunk:
        break
    got += chunk
resp = ftp.abort()
print("*abort-resp*", repr(resp))
conn.close()
if resp[:3] == "426":
    print("*abort-second-resp*", repr(ftp.getresp()))
with open(os.path.join(outdir, "big-4m.bin.partial"), "wb") as f:
    f.write(got)
note(command="RETR", arg="big-4m.bin", path="/big-4m.bin", direction="download", mode="passive",
     setup="PASV", status="aborted", reply_code=int(resp[:3]), client_read_bytes=len(got), local_file=None,
     full_file_size=4 * 1024 * 1024, abort_reply=resp)
# 6. refused download of a missing file (data connection opened, then 550)
try:
    ftp.retrbinary("RETR no-such-file.txt", lambda b: None)
except ftplib.error_perm as e:
    print("*expected-error*", repr(str(e)))
note(command="RETR", arg="no-such-file.txt", path="/no-such-file.txt", direction="download",
     mode="passive", setup="PASV", status="failed", reply_code=550, local_file=None)
# 7. uploads: APPE, STOU, STOR
with open(os.path.join(updir, "append-part.txt"), "rb") as f:
    ftp.storbinary("APPE appendme.txt", f)
note(command="APPE", arg="appendme.txt", path="/appendme.txt", direction="upload", mode="passive",
     setup="PASV", local_file=os.path.join(updir, "append-part.txt"), status="complete", reply_code=226)
conn = ftp.transfercmd("STOU")
stou_reply = ftp.last_text  # "125 FILE: <unique name>"
stou_name = stou_reply.split("FILE:", 1)[1].strip() if "FILE:" in stou_reply else None
with open(os.path.join(updir, "stou.bin"), "rb") as f:
    conn.sendall(f.read())
conn.close()
ftp.voidresp()
note(command="STOU", arg="", path="/" + stou_name if stou_name else None, server_file_name=stou_name, direction="upload", mode="passive", setup="PASV",
     local_file=os.path.join(updir, "stou.bin"), status="complete", reply_code=226)
with open(os.path.join(updir, "upload-20k.bin"), "rb") as f:
    ftp.storbinary("STOR upload-20k.bin", f)
note(command="STOR", arg="upload-20k.bin", path="/upload-20k.bin", direction="upload", mode="passive",
     setup="PASV", local_file=os.path.join(updir, "upload-20k.bin"), status="complete", reply_code=226)
# 8. listings: MLSD (passive), NLST (active: PORT, pyftpdlib connects back)
mlsd = os.path.join(outdir, "MLSD.txt")
buf = []
ftp.retrlines("MLSD", buf.append)
with open(mlsd, "wb") as f:
    f.write(b"".join(l.encode() + b"\r\n" for l in buf))
note(command="MLSD", arg="", path="/", direction="listing", mode="passive", setup="PASV",
     local_file=mlsd, status="complete", reply_code=226)
ftp.set_pasv(False)
nlst = os.path.join(outdir, "NLST.txt")
buf = []
ftp.retrlines("NLST", buf.append)
with open(nlst, "wb") as f:
    f.write(b"".join(l.encode() + b"\r\n" for l in buf))
note(command="NLST", arg="", path="/", direction="listing", mode="active", setup="PORT",
     local_file=nlst, status="complete", reply_code=226)
ftp.delete("delete-me.txt")
ftp.quit()
with open(manifest, "w") as f:
    json.dump(transfers, f, indent=1)
