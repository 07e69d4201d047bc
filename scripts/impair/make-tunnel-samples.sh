#!/bin/sh
# Makes the tunnel and link-layer samples (samples/tunnel-*.pcap, samples/link-*.pcap) and
# their ground truth from real captures, with scripts/impair/tunnel.py (deterministic).
# Needs scapy (the pyenv python3) and capinfos. Usage: scripts/impair/make-tunnel-samples.sh
set -eu
cd "$(dirname "$0")/../.."
S=samples
mk() { # ENCAP SOURCE OUT [ARGS...]
    encap=$1 src=$2 out=$3
    shift 3
    python3 scripts/impair/tunnel.py "$encap" "$S/$src" "$S/$out" "$@"
    python3 scripts/impair/truth.py "$S/$src" "$S/$out" \
        "python3 scripts/impair/tunnel.py $encap samples/$src samples/$out${*:+ $*}"
}
mk vxlan documented-active.pcap tunnel-vxlan.pcap
mk geneve documented-active.pcap tunnel-geneve.pcap
mk gre-key documented-active.pcap tunnel-gre-key.pcap
mk gre-teb documented-active.pcap tunnel-gre-teb.pcap
mk erspan1 documented-active.pcap tunnel-erspan1.pcap
mk erspan2 documented-active.pcap tunnel-erspan2.pcap
mk erspan3 documented-active.pcap tunnel-erspan3.pcap
mk mpls-pw documented-active.pcap tunnel-mpls-pw.pcap
mk pppoe documented-active.pcap tunnel-pppoe.pcap
mk ipip documented-active.pcap tunnel-ipip.pcap
mk 6in4 curl-ipv6-epsv.pcap tunnel-6in4.pcap
mk 4in6 curl-epsv-vsftpd.pcap tunnel-4in6.pcap
mk ppp documented-active.pcap link-ppp.pcap
mk chdlc documented-active.pcap link-chdlc.pcap
mk nflog documented-active.pcap link-nflog.pcap
mk vxlan curl-epsv-vsftpd.pcap tunnel-vxlan-frag.pcap --frag 600
mk vxlan-twins documented-active.pcap tunnel-vxlan-twins.pcap
# Not a top-level sample (it is meant to be blind): tests/tunnels.rs reads it.
mkdir -p "$S/blind"
python3 scripts/impair/tunnel.py gre-unknown "$S/documented-active.pcap" "$S/blind/gre-unknown-protocol.pcap"
