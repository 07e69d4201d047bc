//! Fuzz target: link, tunnel and IP decode with fragment reassembly, on a sequence of
//! packets of one link type. Input: `linktype:u16le`, then records
//! `len:u16le cut:u8 bytes[len]` (`cut`: bytes the snap length removed; bit 7 of it
//! moves the clock 61 s on, past the fragment timeout).
#![no_main]

use ftptrace::capture::{LinkType, Packet, Timestamp};
use ftptrace::net::decode::{Decoded, Decoder};
use ftptrace::net::ipfrag::DefragLimits;
use ftptrace::net::zone::ZoneNames;
use ftptrace::net::{link, tunnel};
use ftptrace_fuzz::Bytes;
use libfuzzer_sys::fuzz_target;

/// Small bounds so that eviction and the range cap are reached.
const LIMITS: DefragLimits = DefragLimits {
    max_datagram: 65_535,
    max_memory: 16 << 10,
    max_datagrams: 4,
    max_ranges: 8,
    timeout: 60_000_000_000,
};

/// The pure header parsers, straight on the bytes (the decoder only reaches them
/// behind the right link type or port).
fn headers(d: &[u8]) {
    let _ = link::ethernet(d);
    let _ = link::vlan(d);
    let _ = link::sll(d);
    let _ = link::sll2(d);
    let _ = link::null_loop(true, d);
    let _ = link::null_loop(false, d);
    let _ = link::ppp(d);
    let _ = link::cisco_hdlc(d);
    let _ = link::nflog(d);
    let _ = link::pppoe_session(d);
    let _ = link::mpls(d);
    if let Some(u) = tunnel::udp(d) {
        std::hint::black_box(u);
    }
    let _ = tunnel::vxlan(d);
    let _ = tunnel::geneve(d);
    let _ = tunnel::gre(d);
    let _ = tunnel::erspan2(d);
    let _ = tunnel::erspan3(d);
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    let linktype = LinkType(u32::from(b.u16()));
    let mut dec = Decoder::with_limits(LIMITS);
    dec.set_zones(data.len().is_multiple_of(2));
    let mut names = ZoneNames::default();
    let mut ts = 1_700_000_000_000_000_000i64;
    // Results by kind: tcp, not_tcp (DNS included), undecodable, fragment.
    let mut seen = [0u64; 4];
    while !b.is_empty() {
        let len = usize::from(b.u16());
        let cut = b.u8();
        let bytes = b.take(len);
        if cut & 0x80 != 0 {
            ts += 61_000_000_000;
        }
        ts += 1_000;
        headers(bytes);
        let pkt = Packet {
            ts: Timestamp(ts),
            linktype,
            data: bytes,
            orig_len: bytes.len() as u32 + u32::from(cut & 0x7f),
        };
        match dec.decode_named(&pkt, Some(&mut names)) {
            Decoded::Tcp(seg) => {
                seen[0] += 1;
                assert!(seg.payload.len() <= bytes.len().max(LIMITS.max_datagram));
            }
            Decoded::Dns(d) => {
                seen[1] += 1;
                let _ = ftptrace::net::dns::parse(d.payload);
            }
            Decoded::NotTcp => seen[1] += 1,
            Decoded::Undecodable => seen[2] += 1,
            Decoded::Fragment => seen[3] += 1,
        }
        assert!(dec.fragments_in_flight() <= LIMITS.max_datagrams);
    }
    let s = dec.stats();
    assert_eq!(
        [s.tcp, s.not_tcp, s.undecodable],
        [seen[0], seen[1], seen[2]]
    );
    assert_eq!(s.packets, seen.iter().sum::<u64>());
    assert!(s.undecoded <= s.not_tcp + s.undecodable);
    dec.finish();
});
