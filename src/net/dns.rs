//! DNS messages (UDP port 53) reduced to what names an FTP server: the question and the
//! A, AAAA and CNAME answers. Parsing is done by `simple-dns` (a maintained, zero-copy,
//! dependency-free DNS message parser); this module only picks what the sessions need.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use simple_dns::rdata::RData;
use simple_dns::{Packet, PacketFlag, QTYPE};

/// The DNS port (RFC 1035).
pub const DNS_PORT: u16 = 53;

/// Answers kept from one message; the rest are ignored (a name resolving to a server
/// never needs more: the CNAME chain and a few addresses).
pub const MAX_ANSWERS: usize = 16;

/// A record type as on the wire (open: types this tool has no use for keep their number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    A,
    Aaaa,
    Cname,
    Other(u16),
}

impl RecordType {
    fn from_wire(v: u16) -> Self {
        match v {
            1 => RecordType::A,
            28 => RecordType::Aaaa,
            5 => RecordType::Cname,
            v => RecordType::Other(v),
        }
    }
}

impl std::fmt::Display for RecordType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordType::A => f.write_str("A"),
            RecordType::Aaaa => f.write_str("AAAA"),
            RecordType::Cname => f.write_str("CNAME"),
            RecordType::Other(v) => write!(f, "TYPE{v}"),
        }
    }
}

/// One answer record that can name an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `name` has address `addr` (A or AAAA).
    Addr { name: String, addr: IpAddr },
    /// `name` is an alias of `target`.
    Cname { name: String, target: String },
}

/// A DNS message's header, first question and address/alias answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: u16,
    pub response: bool,
    /// The first question's name (lower case, no trailing dot) and type.
    pub question: Option<(String, RecordType)>,
    pub answers: Vec<Answer>,
}

/// A name as text: lower case, without the root's trailing dot.
fn name_text(n: &simple_dns::Name<'_>) -> String {
    let mut s = n.to_string().to_ascii_lowercase();
    if s.ends_with('.') {
        s.pop();
    }
    s
}

/// Parse a DNS message (the UDP payload); `None` when it is not one.
pub fn parse(d: &[u8]) -> Option<Message> {
    let p = Packet::parse(d).ok()?;
    let question = p.questions.first().map(|q| {
        let t = match q.qtype {
            QTYPE::TYPE(t) => RecordType::from_wire(u16::from(t)),
            other => RecordType::Other(u16::from(other)),
        };
        (name_text(&q.qname), t)
    });
    let mut answers = Vec::new();
    for rr in p.answers.iter().take(MAX_ANSWERS) {
        let name = name_text(&rr.name);
        match &rr.rdata {
            RData::A(a) => answers.push(Answer::Addr {
                name,
                addr: IpAddr::V4(Ipv4Addr::from(a.address)),
            }),
            RData::AAAA(a) => answers.push(Answer::Addr {
                name,
                addr: IpAddr::V6(Ipv6Addr::from(a.address)),
            }),
            RData::CNAME(c) => answers.push(Answer::Cname {
                name,
                target: name_text(&c.0),
            }),
            _ => {}
        }
    }
    Some(Message {
        id: p.id(),
        response: p.has_flags(PacketFlag::RESPONSE),
        question,
        answers,
    })
}
