#!/usr/bin/python3
"""Write samples/<capture>.truth.json from a scenario spec (JSON on stdin).

usage: truth.py REPO CAPTURE_NAME WORKDIR < spec.json

The spec says what the scenario did; this fills in what can be measured:
sizes and SHA-256 of the transferred files (computed on the files), the
command lines the client sent and the replies it got (parsed from the raw
client log kept in samples/logs/), the data ports announced, capture file
facts (capinfos) and tcpdump's own packet/drop counters, tool versions.
"""
import ast
import hashlib
import json
import os
import re
import subprocess
import sys

repo, name, work = sys.argv[1], sys.argv[2], sys.argv[3]
samples = os.path.join(repo, "samples")

PKGS = {"vsftpd": "vsftpd", "pyftpdlib": "python3-pyftpdlib", "curl": "curl", "lftp": "lftp",
        "wget": "wget", "tnftp": "ftp", "ftplib": "python3.11", "tcpdump": "tcpdump",
        "editcap": "wireshark-common", "tcprewrite": "tcpreplay", "openssl": "openssl",
        "nmap": "nmap", "hping3": "hping3"}


def pkg_version(tool):
    pkg = PKGS.get(tool)
    if not pkg:
        return None
    try:
        v = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True).stdout
        return f"{pkg} {v}" if v else None
    except OSError:
        return None


def file_facts(path):
    with open(path, "rb") as f:
        data = f.read()
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


MASKS = {"XXXX", "Turtle Power!"}


def parse_log(fmt, text):
    """Return [(dir, line)], dir 'C' (client sent) or 'S' (server reply line as the client saw it)."""
    out = []
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if fmt == "curl":
            if line.startswith("> "):
                out.append(("C", line[2:]))
            elif line.startswith("< "):
                out.append(("S", line[2:]))
        elif fmt == "ftplib":
            m = re.match(r"^\*(put|put urgent|get)\* (.*)$", line)
            if m:
                s = ast.literal_eval(m.group(2))
                if isinstance(s, bytes):  # abort() logs the urgent ABOR as bytes
                    s = s.decode("latin-1")
                s = s.rstrip("\r\n")
                out.append(("S" if m.group(1) == "get" else "C", s))
        elif fmt == "lftp":
            m = re.match(r"^(?:\[\d+\] )?(--->|<---) (.*)$", line)
            if m:
                out.append(("C" if m.group(1) == "--->" else "S", m.group(2)))
        elif fmt == "tnftp":
            if line.startswith("---> "):
                out.append(("C", line[5:]))
            elif re.match(r"^\d{3}[ -]", line):
                out.append(("S", line))
        elif fmt == "wget":
            if line.startswith("--> "):
                out.append(("C", line[4:]))
            elif re.match(r"^\d{3}[ -]", line):
                out.append(("S", line))
    return out


def announced(dialogue):
    res = []
    for d, line in dialogue:
        verb, _, arg = line.partition(" ")
        if d == "C" and verb.upper() == "PORT":
            p = [int(x) for x in arg.split(",")]
            res.append({"setup": "PORT", "ip": ".".join(map(str, p[:4])), "port": p[4] * 256 + p[5]})
        elif d == "C" and verb.upper() == "EPRT":
            dl = arg[0]
            _, af, ip, port, _ = arg.split(dl)
            res.append({"setup": "EPRT", "ip": ip, "port": int(port)})
        elif d == "S" and line.startswith("227"):
            m = re.search(r"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", line)
            if m:
                p = [int(x) for x in m.groups()]
                res.append({"setup": "PASV", "ip": ".".join(map(str, p[:4])), "port": p[4] * 256 + p[5]})
        elif d == "S" and line.startswith("229"):
            m = re.search(r"\((.)\1\1(\d+)\1\)", line)
            if m:
                res.append({"setup": "EPSV", "ip": None, "port": int(m.group(2))})
    return res


def capinfos(path):
    r = subprocess.run(["capinfos", "-M", path], capture_output=True, text=True)
    facts = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition(":")
        k, v = k.strip(), v.strip()
        if k == "File type":
            facts["file_type"] = v
        elif k == "File encapsulation":
            facts["encapsulation"] = v
        elif k == "Number of packets":
            facts["packets"] = int(v.replace(",", ""))
        elif k == "File size":
            facts["file_bytes"] = int(v.split()[0].replace(",", ""))
        elif k == "File timestamp precision":
            facts["timestamp_precision"] = v
        elif k == "First packet time":
            facts["first_packet"] = v
        elif k == "Last packet time":
            facts["last_packet"] = v
    return facts


def tcpdump_stats(errfile):
    st = {}
    if errfile and os.path.exists(errfile):
        for line in open(errfile):
            m = re.match(r"(\d+) packets? (captured|received by filter|dropped by kernel)", line)
            if m:
                st[m.group(2).replace(" ", "_")] = int(m.group(1))
    return st


if len(sys.argv) > 4 and sys.argv[4] == "--derive":
    # truth of a format variant: same sessions as its source capture
    src, how = sys.argv[5], sys.argv[6]
    out = json.load(open(os.path.join(samples, src + ".truth.json")))
    out["sample"] = name
    out["derived_from"] = src
    out["derivation"] = how
    out.pop("tcpdump", None)
    out["capture"] = capinfos(os.path.join(samples, name))
    with open(os.path.join(samples, name + ".truth.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    sys.exit(0)

spec = json.load(sys.stdin)
out = {"sample": name}
out["description"] = spec.get("description", "")
cap = os.path.join(samples, name)
if os.path.exists(cap):
    out["capture"] = capinfos(cap)
if spec.get("tcpdump_stderr"):
    out["tcpdump"] = tcpdump_stats(spec["tcpdump_stderr"])
for k in ("derived_from", "derivation", "network", "server", "notes", "verification", "scanner"):
    if k in spec:
        out[k] = spec[k]
tools = {}
sessions = []
for i, s in enumerate(spec.get("sessions", []), 1):
    s = dict(s)
    s.setdefault("index", i)
    tool = s.get("client_tool")
    if tool:
        tools[tool] = pkg_version(tool)
    if s.get("log"):
        text = open(os.path.join(samples, s["log"]), encoding="utf-8", errors="replace").read()
        dialogue = parse_log(s["log_format"], text)
        if "log_segment" in s:
            # one log, several control connections (wget): each starts with its 220 greeting
            segs = []
            for d, line in dialogue:
                if d == "S" and line.startswith("220") or not segs:
                    segs.append([])
                segs[-1].append((d, line))
            dialogue = segs[s["log_segment"] - 1]
        masked = False
        cmds = []
        # passwords in the order the client sent them (logins list), else the one password
        pw_seq = [l["password"] for l in s.get("logins", [])] or None
        for d, line in dialogue:
            if d == "C" and line[:5].upper() == "PASS ":
                arg = line[5:]
                pw = pw_seq.pop(0) if pw_seq else s.get("password")
                if pw is not None and arg != pw:
                    masked = True
                    line = line[:5] + pw
            if d == "C":
                cmds.append(line)
        if s["log_format"] == "curl" and cmds and cmds[-1].upper() != "QUIT" and s.get("close", "fin") == "fin":
            # curl sends QUIT when it closes the connection at exit but -v does not print it
            cmds.append("QUIT")
            s["commands_sent_note"] = "curl -v does not print the QUIT it sends at exit; appended here"
        s["commands_sent"] = cmds
        s["server_reply_lines"] = [line for d, line in dialogue if d == "S"]
        if masked:
            s["note_password"] = "the client log masks the PASS argument; commands_sent has the real password"
        s["data_ports_announced"] = announced(dialogue)
    manifest = s.pop("transfers_manifest", None)
    if manifest:
        s["transfers"] = s.get("transfers", []) + json.load(open(manifest))
    for t in s.get("transfers", []):
        lf = t.pop("local_file", None)
        if lf:
            t.update(file_facts(lf))
            t["file"] = os.path.basename(lf)
    sessions.append(s)
if sessions:
    out["sessions"] = sessions
srv = (spec.get("server") or {}).get("software")
if srv:
    tools[srv] = pkg_version(srv)
tools["tcpdump"] = pkg_version("tcpdump")
for t in spec.get("extra_tools", []):
    tools[t] = pkg_version(t)
out["tools"] = {k: v for k, v in tools.items() if v}
with open(os.path.join(samples, name + ".truth.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
