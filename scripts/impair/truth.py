#!/usr/bin/env python3
"""Ground truth of a sample derived from another: the source's truth with the capture
facts (capinfos) of the derived file, `derived_from` and the exact command in `derivation`.

    python3 scripts/impair/truth.py SOURCE.pcap DERIVED.pcap "COMMAND"

A `vxlan-twins` derivation holds every session twice (one per VNI).
"""

import json
import os
import subprocess
import sys


def capinfos(path):
    out = subprocess.run(["capinfos", "-M", "-T", "-r", "-t", "-E", "-c", "-s", "-a", "-e",
                          "-S", path], capture_output=True, text=True, check=True).stdout
    f = out.strip().split("\t")
    return {"file_type": f[1], "encapsulation": f[2], "packets": int(f[3]),
            "file_bytes": int(f[4]), "first": float(f[5]), "last": float(f[6])}


def main():
    src, dst, cmd = sys.argv[1:4]
    truth = json.load(open(src + ".truth.json"))
    c = capinfos(dst)
    from datetime import datetime, timezone

    def ts(x):
        return datetime.fromtimestamp(x, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")

    cap = truth["capture"]
    cap.update({"file_type": c["file_type"], "encapsulation": c["encapsulation"],
                "packets": c["packets"], "file_bytes": c["file_bytes"],
                "first_packet": ts(c["first"]), "last_packet": ts(c["last"])})
    name = os.path.basename(dst)
    truth["sample"] = name
    truth["derived_from"] = os.path.basename(src)
    truth["derivation"] = cmd
    if "vxlan-twins" in cmd:
        truth["sessions"] = truth["sessions"] + json.loads(json.dumps(truth["sessions"]))
        truth["description"] = ("The same session twice, in VXLAN VNI 100 and VNI 200 (the "
                                "second copy 0.5 ms later): identical inner addresses, ports "
                                "and sequence numbers in two segments, two sessions. "
                                + truth["description"])
    else:
        truth["description"] = (f"{name}: every packet of {os.path.basename(src)} wrapped "
                                f"({cmd.split()[2]}), timestamps kept. " + truth["description"])
    if "tcpdump" in truth:
        truth["tcpdump"]["note"] = "tcpdump's counters for the source capture"
    with open(dst + ".truth.json", "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
