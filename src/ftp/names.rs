//! Recent DNS answers in the capture: which name was resolved to which address, when, and
//! through which CNAME chain, so that a session to that address opens with its lookup.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::capture::Timestamp;
use crate::net::dns::{Answer, Message, RecordType, DNS_PORT};
use crate::net::DnsDatagram;

/// Queries waiting for their answer; a query beyond it is not remembered (the answer then
/// has no query time) and counted.
pub const MAX_PENDING_QUERIES: usize = 1024;

/// Addresses with a remembered answer; an answer beyond it (after stale ones expired) is
/// dropped and counted.
pub const MAX_RESOLVED: usize = 4096;

/// How long before a session an answer still names its server (and how long queries and
/// answers are kept): 5 minutes.
pub const DNS_WINDOW_NS: i64 = 300_000_000_000;

/// CNAME links followed from the queried name to the address record.
pub const MAX_CNAME_CHAIN: usize = 8;

/// A name the capture resolved to an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The name the client asked for.
    pub name: String,
    /// Names the CNAME answers led through, after `name`, to the address record's name.
    pub chain: Vec<String>,
    pub qtype: RecordType,
    pub client: IpAddr,
    pub resolver: IpAddr,
    /// When the query was seen (absent when the capture holds only the answer).
    pub query_ts: Option<Timestamp>,
    pub answer_ts: Timestamp,
}

/// The bounded table of pending queries and recent answers.
#[derive(Debug, Default)]
pub struct NameBook {
    /// (client, client port, message id) → query time.
    pending: HashMap<(IpAddr, u16, u16), Timestamp>,
    resolved: HashMap<IpAddr, Resolution>,
    /// DNS messages parsed.
    pub messages: u64,
    /// Queries or answers not remembered because a table was full.
    pub dropped: u64,
}

impl NameBook {
    /// Take in one DNS datagram seen at `ts`.
    pub fn datagram(&mut self, ts: Timestamp, d: &DnsDatagram<'_>, msg: &Message) {
        self.messages += 1;
        if !msg.response && d.dport == DNS_PORT {
            if self.pending.len() >= MAX_PENDING_QUERIES {
                self.pending.retain(|_, t| ts.0 - t.0 <= DNS_WINDOW_NS);
            }
            if self.pending.len() >= MAX_PENDING_QUERIES {
                self.dropped += 1;
                return;
            }
            self.pending.insert((d.src, d.sport, msg.id), ts);
            return;
        }
        if !msg.response || d.sport != DNS_PORT {
            return;
        }
        let query_ts = self.pending.remove(&(d.dst, d.dport, msg.id));
        let Some((qname, qtype)) = msg.question.clone() else {
            return;
        };
        // Follow the CNAME chain from the question to the names that have addresses.
        let mut chain: Vec<String> = Vec::new();
        let mut cur = qname.clone();
        while chain.len() < MAX_CNAME_CHAIN {
            let next = msg.answers.iter().find_map(|a| match a {
                Answer::Cname { name, target } if *name == cur => Some(target.clone()),
                _ => None,
            });
            match next {
                Some(t) => {
                    chain.push(t.clone());
                    cur = t;
                }
                None => break,
            }
        }
        for a in &msg.answers {
            let Answer::Addr { name, addr } = a else {
                continue;
            };
            if *name != cur {
                continue;
            }
            if self.resolved.len() >= MAX_RESOLVED && !self.resolved.contains_key(addr) {
                self.resolved
                    .retain(|_, r| ts.0 - r.answer_ts.0 <= DNS_WINDOW_NS);
            }
            if self.resolved.len() >= MAX_RESOLVED && !self.resolved.contains_key(addr) {
                self.dropped += 1;
                continue;
            }
            self.resolved.insert(
                *addr,
                Resolution {
                    name: qname.clone(),
                    chain: chain.clone(),
                    qtype,
                    client: d.dst,
                    resolver: d.src,
                    query_ts,
                    answer_ts: ts,
                },
            );
        }
    }

    /// The answer that named `server` for `client` at most [`DNS_WINDOW_NS`] before `at`.
    pub fn lookup(&self, client: IpAddr, server: IpAddr, at: Timestamp) -> Option<&Resolution> {
        self.resolved.get(&server).filter(|r| {
            r.client == client && r.answer_ts <= at && at.0 - r.answer_ts.0 <= DNS_WINDOW_NS
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn dg(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> DnsDatagram<'static> {
        DnsDatagram {
            src: IpAddr::V4(Ipv4Addr::from(src)),
            dst: IpAddr::V4(Ipv4Addr::from(dst)),
            sport,
            dport,
            payload: &[],
        }
    }

    fn msg(response: bool, answers: Vec<Answer>) -> Message {
        Message {
            id: 7,
            response,
            question: Some(("files.example.test".into(), RecordType::A)),
            answers,
        }
    }

    const SERVER: [u8; 4] = [10, 99, 0, 1];
    const CLIENT: [u8; 4] = [10, 99, 0, 2];

    #[test]
    fn a_cname_chain_names_the_server_for_its_client_within_the_window() {
        let mut b = NameBook::default();
        b.datagram(
            Timestamp(1_000),
            &dg(CLIENT, 40000, SERVER, 53),
            &msg(false, vec![]),
        );
        let answers = vec![
            Answer::Cname {
                name: "files.example.test".into(),
                target: "ftp.example.test".into(),
            },
            Answer::Addr {
                name: "ftp.example.test".into(),
                addr: IpAddr::V4(Ipv4Addr::from(SERVER)),
            },
        ];
        b.datagram(
            Timestamp(2_000),
            &dg(SERVER, 53, CLIENT, 40000),
            &msg(true, answers),
        );
        let (c, s) = (IpAddr::from(CLIENT), IpAddr::from(SERVER));
        let r = b.lookup(c, s, Timestamp(5_000)).expect("named");
        assert_eq!(r.name, "files.example.test");
        assert_eq!(r.chain, ["ftp.example.test"]);
        assert_eq!(r.query_ts, Some(Timestamp(1_000)));
        assert_eq!(r.answer_ts, Timestamp(2_000));
        // Not before the answer, not after the window, not for another client.
        assert!(b.lookup(c, s, Timestamp(1_500)).is_none());
        assert!(b
            .lookup(c, s, Timestamp(2_000 + DNS_WINDOW_NS + 1))
            .is_none());
        assert!(b.lookup(s, s, Timestamp(5_000)).is_none());
    }

    #[test]
    fn an_address_of_an_unrelated_name_does_not_count() {
        let mut b = NameBook::default();
        let answers = vec![Answer::Addr {
            name: "other.example.test".into(),
            addr: IpAddr::V4(Ipv4Addr::from(SERVER)),
        }];
        b.datagram(
            Timestamp(2_000),
            &dg(SERVER, 53, CLIENT, 40000),
            &msg(true, answers),
        );
        assert!(b
            .lookup(IpAddr::from(CLIENT), IpAddr::from(SERVER), Timestamp(5_000))
            .is_none());
    }

    #[test]
    fn the_pending_table_is_bounded() {
        let mut b = NameBook::default();
        for i in 0..(MAX_PENDING_QUERIES as u16 + 5) {
            b.datagram(
                Timestamp(1),
                &dg(CLIENT, i, SERVER, 53),
                &msg(false, vec![]),
            );
        }
        assert_eq!(b.pending.len(), MAX_PENDING_QUERIES);
        assert_eq!(b.dropped, 5);
    }
}
