#!/usr/bin/python3
"""Create the deterministic server/client file trees used by capture-samples.sh.

Every byte comes from SHA-256 in counter mode over a fixed seed string, so every
rerun (on any machine, any Python) moves exactly the same bytes.

usage: make_files.py ROOT
creates ROOT/vsftpd/anon, ROOT/vsftpd/home/ftpuser, ROOT/pyftpd/alice,
        ROOT/pyftpd/anon, ROOT/client/upload
"""
import hashlib
import os
import sys

WORDS = ("file transfer protocol control connection data connection passive active "
         "port reply command server client anonymous binary ascii listing retrieve "
         "store append directory session greeting login password transfer").split()


FIXED_MTIME = 1704164645  # 2024-01-02T03:04:05Z: directory listings do not change between runs


def stream(seed: str, n: int) -> bytes:
    out = bytearray()
    ctr = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{ctr}".encode()).digest()
        ctr += 1
    return bytes(out[:n])


def text(seed: str, n: int) -> bytes:
    """Readable ASCII text (CRLF-free, LF line ends) of exactly n bytes, ending in LF."""
    rnd = stream(seed, n * 2)
    lines, line, i = [], [], 0
    header = f"ftptrace sample file '{seed}', {n} bytes, deterministic.\n"
    body = bytearray(header.encode())
    while len(body) < n:
        w = WORDS[rnd[i % len(rnd)] % len(WORDS)]
        i += 1
        if sum(len(x) + 1 for x in line) + len(w) > 70:
            body += (" ".join(line) + "\n").encode()
            line = []
        line.append(w)
    body = body[: n - 1] + b"\n"
    return bytes(body)


def write(path: str, data: bytes, mode: int = 0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    os.utime(path, (FIXED_MTIME, FIXED_MTIME))


def fix_dir_times(root: str):
    for d, _, _ in os.walk(root):
        os.utime(d, (FIXED_MTIME, FIXED_MTIME))


def main():
    root = sys.argv[1]
    readme = text("readme", 1715)
    bin100k = stream("data-100k", 100 * 1024)
    # vsftpd anonymous tree (root dir must not be writable by the ftp user)
    a = os.path.join(root, "vsftpd/anon")
    write(f"{a}/welcome.txt", text("welcome", 312))
    write(f"{a}/pub/readme.txt", readme)
    write(f"{a}/pub/data-100k.bin", bin100k)
    write(f"{a}/pub/notes/changes.txt", text("changes", 640))
    # vsftpd local user tree
    h = os.path.join(root, "vsftpd/home/ftpuser")
    write(f"{h}/readme.txt", readme)
    write(f"{h}/data-100k.bin", bin100k)
    write(f"{h}/docs/guide.txt", text("guide", 4321))
    write(f"{h}/docs/index.txt", text("index", 777))
    for i in range(1, 5):
        write(f"{h}/big/big-{i}.bin", stream(f"big-{i}", 512 * 1024))
    write(f"{h}/ipv6.txt", text("ipv6", 2048))
    # pyftpdlib trees
    p = os.path.join(root, "pyftpd/alice")
    write(f"{p}/readme.txt", readme)
    write(f"{p}/data-100k.bin", bin100k)
    write(f"{p}/big-4m.bin", stream("big-4m", 4 * 1024 * 1024))
    write(f"{p}/notes/todo.txt", text("todo", 555))
    write(f"{p}/appendme.txt", text("appendme-start", 1000))
    write(f"{p}/delete-me.txt", text("delete-me", 100))
    q = os.path.join(root, "pyftpd/anon")
    write(f"{q}/readme.txt", readme)
    # client-side upload sources
    c = os.path.join(root, "client/upload")
    write(f"{c}/upload-5k.txt", text("upload-5k", 5000))
    write(f"{c}/upload-20k.bin", stream("upload-20k", 20000))
    write(f"{c}/append-part.txt", text("append-part", 1234))
    write(f"{c}/stou.bin", stream("stou", 3000))
    fix_dir_times(root)


if __name__ == "__main__":
    main()
