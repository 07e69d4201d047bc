//! Packets that may hold TCP but were not decoded, counted by cause in a bounded table.

use std::fmt;

/// Most distinct causes counted one by one; later causes are counted as [`Cause::Other`].
pub const MAX_UNDECODED_CAUSES: usize = 32;

/// Why a packet that may hold TCP was not decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    /// A pcap link type the decoder does not know.
    LinkType(u32),
    /// An ethertype (also a GENEVE payload protocol) that is neither IP nor a known
    /// encapsulation nor known not to carry TCP.
    Ethertype(u16),
    /// An IP protocol that may carry TCP (ESP, L2TP, ...).
    IpProtocol(u8),
    /// A GRE payload protocol the decoder does not follow.
    GreProtocol(u16),
    /// GRE with a version other than 0 (1 is PPTP's enhanced GRE).
    GreVersion(u8),
    /// GRE with the deprecated source routing field (RFC 1701).
    GreRouting,
    /// A PPP network-layer protocol other than IPv4, IPv6 or MPLS.
    PppProtocol(u16),
    /// An ERSPAN type III frame type other than Ethernet.
    ErspanFrameType(u8),
    /// An IP fragment inside a datagram that was itself reassembled from fragments.
    NestedFragment,
    /// Encapsulations nested deeper than the decoder follows.
    TooDeep,
    /// Headers cut by the snap length or malformed.
    Truncated,
    /// Any cause past [`MAX_UNDECODED_CAUSES`] distinct ones.
    Other,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::LinkType(n) => write!(f, "link type {n}"),
            Cause::Ethertype(n) => write!(f, "ethertype 0x{n:04x}"),
            Cause::IpProtocol(n) => write!(f, "IP protocol {n}"),
            Cause::GreProtocol(n) => write!(f, "GRE protocol 0x{n:04x}"),
            Cause::GreVersion(n) => write!(f, "GRE version {n}"),
            Cause::GreRouting => f.write_str("GRE source routing"),
            Cause::PppProtocol(n) => write!(f, "PPP protocol 0x{n:04x}"),
            Cause::ErspanFrameType(n) => write!(f, "ERSPAN frame type {n}"),
            Cause::NestedFragment => f.write_str("fragment inside a reassembled datagram"),
            Cause::TooDeep => write!(f, "nested deeper than {} layers", super::decode::MAX_LAYERS),
            Cause::Truncated => f.write_str("truncated"),
            Cause::Other => f.write_str("other causes"),
        }
    }
}

/// A cause serializes as its name (`stats.undecoded[].cause`).
impl serde::Serialize for Cause {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Counts by cause, at most [`MAX_UNDECODED_CAUSES`] + 1 entries, no allocation after
/// the first packets of each cause.
#[derive(Debug, Default, Clone)]
pub struct Undecoded {
    counts: Vec<(Cause, u64)>,
}

impl Undecoded {
    pub fn add(&mut self, cause: Cause) {
        if let Some(e) = self.counts.iter_mut().find(|e| e.0 == cause) {
            e.1 += 1;
            return;
        }
        let c = if self.counts.len() < MAX_UNDECODED_CAUSES {
            cause
        } else {
            Cause::Other
        };
        match self.counts.iter_mut().find(|e| e.0 == c) {
            Some(e) => e.1 += 1,
            None => self.counts.push((c, 1)),
        }
    }

    /// Packets counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|e| e.1).sum()
    }

    /// Causes, most packets first.
    pub fn by_count(&self) -> Vec<(Cause, u64)> {
        let mut v = self.counts.clone();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_bound() {
        let mut u = Undecoded::default();
        u.add(Cause::GreProtocol(0x88bf));
        u.add(Cause::Truncated);
        u.add(Cause::GreProtocol(0x88bf));
        assert_eq!(
            u.by_count(),
            vec![(Cause::GreProtocol(0x88bf), 2), (Cause::Truncated, 1)]
        );
        for n in 0..100u16 {
            u.add(Cause::Ethertype(n));
        }
        assert_eq!(u.total(), 103);
        let v = u.by_count();
        assert_eq!(v.len(), MAX_UNDECODED_CAUSES + 1);
        assert!(v.contains(&(Cause::Other, 70)));
    }

    /// Every cause's name is one the schema allows.
    #[test]
    fn names_match_the_schema() {
        let all = [
            Cause::LinkType(147),
            Cause::Ethertype(0x88e5),
            Cause::IpProtocol(50),
            Cause::GreProtocol(0x88b5),
            Cause::GreVersion(1),
            Cause::GreRouting,
            Cause::PppProtocol(0x002d),
            Cause::ErspanFrameType(2),
            Cause::NestedFragment,
            Cause::TooDeep,
            Cause::Truncated,
            Cause::Other,
        ];
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../schema/ftptrace-1.schema.json")).unwrap();
        let v = jsonschema::validator_for(&schema).unwrap();
        for c in all {
            let doc = serde_json::json!({
                "schema": "ftptrace/1", "sessions": [], "anomalies": [],
                "stats": {"packets": 1, "bytes": 1, "tcp_connections": 0, "ftp_sessions": 0,
                          "data_connections": 0, "unmatched_data_connections": 0,
                          "capture_gaps": 0, "undecoded_packets": 1,
                          "undecoded": [{"cause": c, "packets": 1}]}
            });
            assert!(v.validate(&doc).is_ok(), "{c}");
        }
        let bad = serde_json::json!({
            "schema": "ftptrace/1", "sessions": [], "anomalies": [],
            "stats": {"packets": 1, "bytes": 1, "tcp_connections": 0, "ftp_sessions": 0,
                      "data_connections": 0, "unmatched_data_connections": 0,
                      "capture_gaps": 0, "undecoded": [{"cause": "GENEVE protocol 0x1234", "packets": 1}]}
        });
        assert!(v.validate(&bad).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(
            Cause::GreProtocol(0x88be).to_string(),
            "GRE protocol 0x88be"
        );
        assert_eq!(Cause::Ethertype(0x88e5).to_string(), "ethertype 0x88e5");
        assert_eq!(Cause::IpProtocol(50).to_string(), "IP protocol 50");
        assert_eq!(Cause::LinkType(147).to_string(), "link type 147");
    }
}
