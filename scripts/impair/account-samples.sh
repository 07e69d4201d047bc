#!/bin/sh
# Cut the issue-9 samples (every transfer accounted for) from real captures in samples/.
# Deterministic: every frame dropped or kept is found by a tshark filter on the source
# capture, never chosen at random, so a rerun writes the same bytes.
#   scripts/impair/account-samples.sh            # writes samples/acct-*.pcap
# Needs tcpdump, tshark, editcap.
set -eu
cd "$(dirname "$0")/../.."
S=samples
PASV=$S/curl-pasv-vsftpd.pcap   # LIST + RETR data-100k.bin (102400 bytes) over PASV
LFTP=$S/lftp-vsftpd.pcap        # FEAT's multi-line 211 reply, one line per segment

# 1. A control-only capture, as `tcpdump port 21` takes it.
tcpdump -r "$PASV" -w $S/acct-control-only.pcap 'tcp port 21' 2>/dev/null

# 2. A capture started mid-session: after the LIST's PASV/227 and its data connection's
#    handshake (from the TYPE command on).
first=$(tshark -r "$PASV" -Y 'ftp.request.command == "TYPE"' -T fields -e frame.number | head -1)
last=$(capinfos -c -M "$PASV" | awk '/Number of packets/ {print $NF}')
editcap -r "$PASV" $S/acct-mid-session.pcap "$first-$last"

# 3. A capture started mid-transfer: from the 40th data segment of the RETR on (its data
#    connection comes before any control packet).
retr_port=$(tshark -r "$PASV" -Y 'ftp.response.code == 227' -T fields -e ftp.passive.port | tail -1)
first=$(tshark -r "$PASV" -Y "tcp.srcport == $retr_port && tcp.len > 0" -T fields -e frame.number | sed -n 40p)
editcap -r "$PASV" $S/acct-mid-transfer.pcap "$first-$last"

# 4. The RETR's data connection loses its tail: its last 5 data segments, its FINs and
#    everything of it in between are dropped (the 226 that follows is kept).
from=$(tshark -r "$PASV" -Y "tcp.srcport == $retr_port && tcp.len > 0" -T fields -e frame.number | tail -5 | head -1)
to=$(tshark -r "$PASV" -Y "tcp.port == $retr_port" -T fields -e frame.number | tail -1)
editcap "$PASV" $S/acct-data-tail-cut.pcap "$from-$to"

# 5. A multi-line reply cut by a gap: FEAT's closing "211 End" segment is dropped.
drop=$(tshark -r "$LFTP" -Y 'tcp.payload contains "211 End"' -T fields -e frame.number | head -1)
editcap "$LFTP" $S/acct-reply-gap.pcap "$drop"
