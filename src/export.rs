//! `ftptrace export`: the packets of chosen sessions — every packet of their control and
//! data connections — picked from the inputs on a second read and copied as they are.

use crate::analyzer::ConnSpan;
use crate::capture::{
    LinkType, Packet, PacketSource, PacketWriter, PcapWriter, PcapngWriter, Timestamp,
};
use crate::net::decode::{Decoded, Decoder};
use crate::net::fasthash::FastState;
use crate::net::ipfrag::{DefragLimits, FragKey};
use std::collections::HashMap;
use std::io::{self, Write};
use std::net::SocketAddr;

/// How long after its last packet a finished connection still owns stray packets of its
/// four-tuple (a retransmitted FIN, a late ACK): the TCP tracker keeps a closed
/// connection this long before the tuple can make a new one, so pass 2 agrees with pass 1.
pub const LATE_PACKETS_NS: i64 = 60 * 1_000_000_000;

/// Most fragmented datagrams of the chosen connections remembered for the copy; past
/// it, the fragments of further datagrams are left out (the completing one is kept).
pub const MAX_FRAGMENTED_DATAGRAMS: usize = 100_000;

/// Most link types remembered while reading (more than any real capture mixes).
pub const MAX_LINKTYPES: usize = crate::capture::pcapng_writer::MAX_INTERFACES;

/// The time a connection owns packets of its four-tuple.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Timestamp,
    end: Timestamp,
    /// Past `end`, a new SYN on the tuple ended the window early.
    closed: bool,
}

/// Decides, packet by packet, whether a TCP segment belongs to one of the chosen connections.
pub struct Selector {
    /// The tuple ordered (smaller end first) → windows of the chosen connections.
    windows: HashMap<(SocketAddr, SocketAddr), Vec<Window>, FastState>,
}

fn tuple(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

impl Selector {
    pub fn new(spans: &[ConnSpan]) -> Self {
        let mut windows: HashMap<_, Vec<Window>, FastState> = HashMap::default();
        for s in spans {
            windows
                .entry(tuple(s.client, s.server))
                .or_default()
                .push(Window {
                    start: s.start,
                    end: s.end,
                    closed: false,
                });
        }
        Selector { windows }
    }

    /// True when a segment from `src` to `dst` at `ts` belongs to a chosen connection:
    /// from its first packet to its last, and stray packets up to [`LATE_PACKETS_NS`]
    /// after it unless a new SYN reused the tuple.
    pub fn wants(
        &mut self,
        ts: Timestamp,
        src: SocketAddr,
        dst: SocketAddr,
        pure_syn: bool,
    ) -> bool {
        let Some(ws) = self.windows.get_mut(&tuple(src, dst)) else {
            return false;
        };
        for w in ws.iter_mut() {
            if ts < w.start {
                continue;
            }
            if ts <= w.end {
                return true;
            }
            if w.closed || ts.0.saturating_sub(w.end.0) > LATE_PACKETS_NS {
                continue;
            }
            if pure_syn {
                w.closed = true;
                continue;
            }
            return true;
        }
        false
    }
}

/// A packet source that remembers the link types it handed out.
pub struct LinkTypes<'s> {
    pub inner: &'s mut dyn PacketSource,
    pub seen: Vec<LinkType>,
}

impl PacketSource for LinkTypes<'_> {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, crate::capture::CaptureError> {
        let p = self.inner.next_packet()?;
        if let Some(p) = &p {
            if !self.seen.contains(&p.linktype) && self.seen.len() < MAX_LINKTYPES {
                self.seen.push(p.linktype);
            }
        }
        Ok(p)
    }
    fn ts_digits(&self) -> u8 {
        self.inner.ts_digits()
    }
    fn progress(&self) -> (u64, Option<u64>) {
        self.inner.progress()
    }
}

/// The output container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// Classic pcap of this link type.
    Pcap(LinkType),
    Pcapng,
}

/// pcap when the inputs hold one link type (and pcapng is not asked for), else pcapng.
pub fn container(linktypes: &[LinkType], want_pcapng: bool) -> Container {
    match linktypes {
        [lt] if !want_pcapng => Container::Pcap(*lt),
        [] if !want_pcapng => Container::Pcap(LinkType::ETHERNET),
        _ => Container::Pcapng,
    }
}

/// A writer for the container; nanosecond timestamps when the inputs have more than
/// microsecond precision.
pub fn writer<W: Write + 'static>(
    out: W,
    container: Container,
    ts_digits: u8,
) -> io::Result<Box<dyn PacketWriter>> {
    let nanos = ts_digits > 6;
    Ok(match container {
        Container::Pcap(lt) => Box::new(PcapWriter::new(out, lt, nanos)?),
        Container::Pcapng => Box::new(PcapngWriter::new(out, nanos)?),
    })
}

/// The fragmented datagrams that carried segments of the chosen connections: each
/// datagram's key and the time of the fragment that completed it.
#[derive(Debug, Default)]
pub struct Fragments {
    done: HashMap<FragKey, Vec<Timestamp>, FastState>,
    count: usize,
    /// Datagrams past [`MAX_FRAGMENTED_DATAGRAMS`], not remembered.
    pub left_out: u64,
}

impl Fragments {
    fn add(&mut self, key: FragKey, ts: Timestamp) {
        if self.count >= MAX_FRAGMENTED_DATAGRAMS {
            self.left_out += 1;
            return;
        }
        self.count += 1;
        self.done.entry(key).or_default().push(ts);
    }

    /// A fragment of `key` at `ts` belongs to a remembered datagram: one completed at or
    /// after `ts`, within the defragmenter's timeout (identifications are reused).
    fn wants(&self, key: FragKey, ts: Timestamp) -> bool {
        let timeout = DefragLimits::default().timeout;
        self.done.get(&key).is_some_and(|v| {
            v.iter()
                .any(|&c| c >= ts && c.0.saturating_sub(ts.0) <= timeout)
        })
    }

    /// True when no datagram was remembered.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// The segment's ends and whether it is a pure SYN.
fn ends(d: &Decoded<'_>) -> Option<(SocketAddr, SocketAddr, bool)> {
    match d {
        Decoded::Tcp(seg) => Some((
            SocketAddr::new(seg.src, seg.sport),
            SocketAddr::new(seg.dst, seg.dport),
            seg.flags.syn() && !seg.flags.ack(),
        )),
        _ => None,
    }
}

/// Read `src` and find the fragmented datagrams of the chosen connections (needed only
/// when the capture holds fragments: their other fragments carry no ports).
pub fn scan_fragments(src: &mut dyn PacketSource, spans: &[ConnSpan]) -> Fragments {
    let mut sel = Selector::new(spans);
    let mut dec = Decoder::new();
    let mut frags = Fragments::default();
    loop {
        let pkt = match src.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(_) => continue,
        };
        let e = ends(&dec.decode(&pkt));
        if let (Some((a, b, syn)), Some(key)) = (e, dec.last_fragment()) {
            if sel.wants(pkt.ts, a, b, syn) {
                frags.add(key, pkt.ts);
            }
        }
    }
    frags
}

/// Read `src` again and write every packet the chosen connections are made of, in
/// capture order: their TCP segments and, with `frags`, the IP fragments that carried
/// them. Input errors were reported by the first read and are passed over. Returns the
/// packets written.
pub fn copy(
    src: &mut dyn PacketSource,
    spans: &[ConnSpan],
    frags: &Fragments,
    out: &mut dyn PacketWriter,
) -> io::Result<u64> {
    let mut sel = Selector::new(spans);
    let mut dec = Decoder::new();
    let mut n = 0u64;
    loop {
        let pkt = match src.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(_) => continue,
        };
        let e = ends(&dec.decode(&pkt));
        let keep = match (e, dec.last_fragment()) {
            (Some((a, b, syn)), _) => sel.wants(pkt.ts, a, b, syn),
            (None, Some(key)) => frags.wants(key, pkt.ts),
            (None, None) => false,
        };
        if keep {
            out.write_packet(&pkt)?;
            n += 1;
        }
    }
    out.flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn span(start: i64, end: i64) -> ConnSpan {
        ConnSpan {
            session: 1,
            control: true,
            client: sa("10.0.0.2:40000"),
            server: sa("10.0.0.1:21"),
            start: Timestamp(start),
            end: Timestamp(end),
        }
    }

    #[test]
    fn selector_takes_both_directions_inside_the_window_only() {
        let mut s = Selector::new(&[span(100, 200)]);
        let (c, v) = (sa("10.0.0.2:40000"), sa("10.0.0.1:21"));
        assert!(s.wants(Timestamp(100), c, v, true));
        assert!(s.wants(Timestamp(150), v, c, false));
        assert!(s.wants(Timestamp(200), c, v, false));
        assert!(!s.wants(Timestamp(99), c, v, false));
        assert!(!s.wants(Timestamp(150), c, sa("10.0.0.1:20"), false));
        assert!(!s.wants(Timestamp(150), sa("10.0.0.3:40000"), v, false));
    }

    #[test]
    fn late_strays_belong_until_a_new_syn_reuses_the_tuple() {
        let mut s = Selector::new(&[span(100, 200)]);
        let (c, v) = (sa("10.0.0.2:40000"), sa("10.0.0.1:21"));
        // a retransmitted FIN a second later
        assert!(s.wants(Timestamp(1_000_000_200), v, c, false));
        // long after: another connection's
        assert!(!s.wants(Timestamp(200 + LATE_PACKETS_NS + 1), v, c, false));
        // a new SYN on the tuple: the window is over
        assert!(!s.wants(Timestamp(2_000_000_000), c, v, true));
        assert!(!s.wants(Timestamp(2_000_000_001), v, c, false));
    }

    #[test]
    fn two_chosen_connections_on_one_tuple() {
        let mut s = Selector::new(&[span(100, 200), span(1000, 2000)]);
        let (c, v) = (sa("10.0.0.2:40000"), sa("10.0.0.1:21"));
        assert!(s.wants(Timestamp(150), c, v, false));
        // the second connection's SYN closes the first window and opens the second
        assert!(s.wants(Timestamp(1000), c, v, true));
        assert!(s.wants(Timestamp(1500), v, c, false));
    }

    #[test]
    fn container_follows_the_link_types() {
        assert_eq!(
            container(&[LinkType::ETHERNET], false),
            Container::Pcap(LinkType::ETHERNET)
        );
        assert_eq!(container(&[LinkType::ETHERNET], true), Container::Pcapng);
        assert_eq!(
            container(&[LinkType::ETHERNET, LinkType::LINUX_SLL2], false),
            Container::Pcapng
        );
    }
}
