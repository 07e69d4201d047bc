//! DNS messages (UDP or TCP port 53) reduced to what names an FTP server: the question and the
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

/// Largest DNS message over TCP plus its 2-byte length prefix (RFC 1035 4.2.2): a
/// direction of a DNS-over-TCP connection never holds more unframed bytes than this and
/// the segment being added.
pub const MAX_TCP_MESSAGE: usize = 2 + u16::MAX as usize;

/// The complete messages at the start of a DNS-over-TCP byte stream (each after its
/// 2-byte big-endian length), and how many bytes they took; an incomplete message at
/// the end is left for more bytes.
pub fn tcp_frames(buf: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(len) = buf.get(at..at + 2) {
        let n = u16::from_be_bytes([len[0], len[1]]) as usize;
        let Some(msg) = buf.get(at + 2..at + 2 + n) else {
            break;
        };
        out.push(msg);
        at += 2 + n;
    }
    (out, at)
}

/// One direction of a DNS-over-TCP connection, cut into messages as its bytes come.
#[derive(Debug, Default)]
pub struct TcpStream {
    buf: Vec<u8>,
    /// The capture lost bytes of this direction: message boundaries are lost with them,
    /// so the rest of it is not read.
    lost: bool,
}

impl TcpStream {
    /// Add the next bytes; returns the messages they completed, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        if self.lost {
            return Vec::new();
        }
        self.buf.extend_from_slice(bytes);
        let (msgs, used) = tcp_frames(&self.buf);
        let msgs: Vec<Vec<u8>> = msgs.into_iter().map(<[u8]>::to_vec).collect();
        self.buf.drain(..used);
        debug_assert!(self.buf.len() < MAX_TCP_MESSAGE);
        msgs
    }

    /// The capture missed bytes of this direction: stop reading it.
    pub fn gap(&mut self) {
        self.lost = true;
        self.buf = Vec::new();
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // From samples/dns-curl-vsftpd.pcap (dnsmasq answering getent and curl).
    const AAAA_QUERY: &str =
        "30ff010000010000000000000566696c6573076578616d706c65047465737400001c0001";
    const AAAA_ANSWER: &str = "30ff858000010002000000000566696c6573076578616d706c65047465737400001c0001c00c0005000100000000001203667470076578616d706c65047465737400c030001c0001000000000010fd000099000000000000000000000001";
    const A_ANSWER: &str = "6b51858000010002000000000566696c6573076578616d706c6504746573740000010001c00c0005000100000000001203667470076578616d706c65047465737400c030000100010000000000040a630001";

    #[test]
    fn a_query_has_its_question_and_no_answers() {
        let m = parse(&hex(AAAA_QUERY)).unwrap();
        assert_eq!(m.id, 0x30ff);
        assert!(!m.response);
        assert_eq!(
            m.question,
            Some(("files.example.test".to_string(), RecordType::Aaaa))
        );
        assert!(m.answers.is_empty());
    }

    #[test]
    fn an_aaaa_answer_through_a_cname() {
        let m = parse(&hex(AAAA_ANSWER)).unwrap();
        assert!(m.response);
        assert_eq!(
            m.answers,
            [
                Answer::Cname {
                    name: "files.example.test".into(),
                    target: "ftp.example.test".into()
                },
                Answer::Addr {
                    name: "ftp.example.test".into(),
                    addr: "fd00:99::1".parse().unwrap()
                },
            ]
        );
    }

    #[test]
    fn an_a_answer_through_a_cname() {
        let m = parse(&hex(A_ANSWER)).unwrap();
        assert_eq!(m.id, 0x6b51);
        assert_eq!(
            m.question,
            Some(("files.example.test".to_string(), RecordType::A))
        );
        assert_eq!(
            m.answers[1],
            Answer::Addr {
                name: "ftp.example.test".into(),
                addr: "10.99.0.1".parse().unwrap()
            }
        );
    }

    #[test]
    fn tcp_messages_are_cut_at_their_length_prefixes() {
        let a = hex(A_ANSWER);
        let q = hex(AAAA_QUERY);
        // Two messages and the first 10 bytes of a third, as a TCP stream carries them.
        let mut stream = Vec::new();
        for m in [&q, &a] {
            stream.extend_from_slice(&(m.len() as u16).to_be_bytes());
            stream.extend_from_slice(m);
        }
        stream.extend_from_slice(&(a.len() as u16).to_be_bytes());
        stream.extend_from_slice(&a[..10]);
        let (msgs, used) = tcp_frames(&stream);
        assert_eq!(msgs, [&q[..], &a[..]]);
        assert_eq!(used, 2 + q.len() + 2 + a.len());
        assert_eq!(tcp_frames(&[0x00]), (vec![], 0));
        assert_eq!(tcp_frames(&[0x00, 0x00]), (vec![&[][..]], 2));

        // Fed one byte at a time, the same messages come out whole, and parse.
        let mut s = TcpStream::default();
        let mut got = Vec::new();
        for b in &stream {
            got.extend(s.push(std::slice::from_ref(b)));
        }
        assert_eq!(got, [q.clone(), a.clone()]);
        assert_eq!(parse(&got[1]).unwrap().id, 0x6b51);
        // The rest of the third completes it.
        assert_eq!(s.push(&a[10..]), vec![a.clone()]);
        // After a gap nothing more is read.
        s.gap();
        assert!(s.push(&stream).is_empty());
    }

    #[test]
    fn cut_or_garbage_bytes_are_not_a_message() {
        let a = hex(A_ANSWER);
        for n in [0, 5, 11, 20, a.len() - 1] {
            let _ = parse(&a[..n]); // never panics
        }
        assert!(parse(&a[..5]).is_none());
        assert!(parse(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff").is_none());
    }
}
