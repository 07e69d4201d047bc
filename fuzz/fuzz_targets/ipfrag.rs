//! Fuzz target: the IPv4/IPv6 defragmenter fed an arbitrary sequence of fragments of a few
//! datagrams, under small bounds. Checks the bounds after every fragment and that every
//! reassembled byte came from a fragment of that datagram covering it (first data wins).
#![no_main]

use arbitrary::Arbitrary;
use ftptrace::capture::Timestamp;
use ftptrace::net::ipfrag::{DefragLimits, Defragmenter, FragKey, FragOutcome};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Arbitrary, Debug)]
struct Frag {
    /// Which of 4 datagrams (bit 2: IPv6 addresses).
    key: u8,
    /// Offset in 8-byte units.
    offset: u16,
    more: bool,
    len: u16,
    /// Milliseconds since the previous fragment.
    dt_ms: u16,
}

#[derive(Arbitrary, Debug)]
struct Input {
    max_datagram: u16,
    max_memory: u16,
    max_datagrams: u8,
    max_ranges: u8,
    frags: Vec<Frag>,
}

fuzz_target!(|inp: Input| {
    let limits = DefragLimits {
        max_datagram: usize::from(inp.max_datagram),
        max_memory: usize::from(inp.max_memory),
        max_datagrams: usize::from(inp.max_datagrams % 8),
        max_ranges: usize::from(inp.max_ranges % 16),
        timeout: 5_000_000_000,
    };
    let mut d = Defragmenter::with_limits(limits);
    let mut ts = 0i64;
    // Fragments given to each datagram key since it last completed: (offset, len, fill).
    let mut given: Vec<Vec<(usize, usize, u8)>> = vec![Vec::new(); 8];
    for (i, f) in inp.frags.iter().enumerate().take(512) {
        ts += i64::from(f.dt_ms) * 1_000_000;
        let k = usize::from(f.key % 8);
        let (src, dst) = if k >= 4 {
            (
                IpAddr::V6(Ipv6Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            )
        } else {
            (
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V4(Ipv4Addr::BROADCAST),
            )
        };
        let key = FragKey {
            src,
            dst,
            proto: 6,
            id: (k % 4) as u32,
        };
        let offset = u32::from(f.offset % 8192) * 8;
        let len = usize::from(f.len % 3000);
        let fill = (i % 251) as u8 + 1;
        let data = vec![fill; len];
        given[k].push((offset as usize, len, fill));
        match d.insert(Timestamp(ts), key, offset, f.more, &data) {
            FragOutcome::Complete => {
                let buf = d.completed();
                assert!(buf.len() <= limits.max_datagram);
                for (p, &b) in buf.iter().enumerate() {
                    assert!(
                        given[k]
                            .iter()
                            .any(|&(o, l, v)| o <= p && p < o + l && v == b),
                        "byte {p} of a reassembled datagram ({b}) came from no fragment"
                    );
                }
                given[k].clear();
            }
            FragOutcome::Pending | FragOutcome::Discarded => {}
        }
        assert!(d.in_flight() <= limits.max_datagrams.max(1));
        assert!(
            d.memory() <= limits.max_memory,
            "memory {} over the bound {}",
            d.memory(),
            limits.max_memory
        );
    }
    let s = d.stats();
    assert!(s.reassembled + s.invalid <= s.fragments);
    d.clear();
    assert_eq!((d.in_flight(), d.memory()), (0, 0));
});
