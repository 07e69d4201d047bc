//! Reporters: render a [`crate::model::Report`] as table, timeline, JSON, JSONL, Mermaid or HTML.
//!
//! Every reporter writes to a `&mut dyn std::io::Write` and is deterministic:
//! times come from the capture (UTC), never from the clock, and nothing depends
//! on the terminal unless the caller says so (colour, width).

pub mod alerts;
pub mod compact;
pub mod csv;
pub mod eve;
pub mod filter;
pub mod html;
pub mod human;
pub mod json;
pub(crate) mod layout;
pub mod mermaid;
pub mod table;
pub mod text;
pub mod timeline;
pub mod zeek;

#[doc(hidden)]
pub mod testdata;

use crate::model::{Anomaly, Report, Session};
use std::net::IpAddr;

/// Where the reporters append text piece by piece: a `String`, or the byte buffer of a
/// row or record.
pub(crate) trait Text {
    fn put(&mut self, s: &str);
    /// What `v`'s Display writes.
    fn put_display(&mut self, v: impl std::fmt::Display);
}

impl Text for String {
    fn put(&mut self, s: &str) {
        self.push_str(s);
    }
    fn put_display(&mut self, v: impl std::fmt::Display) {
        use std::fmt::Write as _;
        let _ = write!(self, "{v}");
    }
}

impl Text for Vec<u8> {
    fn put(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
    fn put_display(&mut self, v: impl std::fmt::Display) {
        use std::io::Write as _;
        let _ = write!(self, "{v}");
    }
}

/// The decimal digits of `n`, at least `width` of them (zeros in front).
pub(crate) fn push_decimal(out: &mut impl Text, n: u64, width: usize) {
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(n);
    for _ in digits.len()..width.min(20) {
        out.put("0");
    }
    out.put(digits);
}

/// An address as its Display writes it (IPv4 without the formatting machinery).
pub(crate) fn push_ip(out: &mut impl Text, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => {
            for (i, o) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    out.put(".");
                }
                push_decimal(out, o.into(), 1);
            }
        }
        IpAddr::V6(a) => out.put_display(a),
    }
}

/// Every distinct anomaly of the report: the top-level ones and each
/// session's, a finding listed in several places counted once, in time order.
pub(crate) fn distinct_anomalies(r: &Report) -> Vec<&Anomaly> {
    let mut all: Vec<&Anomaly> = r
        .anomalies
        .iter()
        .chain(r.sessions.iter().flat_map(|s| s.anomalies.iter()))
        .collect();
    all.sort_by(|a, b| (a.ts, a.kind, &a.detail).cmp(&(b.ts, b.kind, &b.detail)));
    all.dedup_by(|a, b| a.ts == b.ts && a.kind == b.kind && a.detail == b.detail);
    all
}

/// Payload bytes the session's data connections carried.
pub(crate) fn session_bytes(s: &Session) -> u64 {
    s.transfers.iter().filter_map(|t| t.bytes).sum()
}

/// Commands the client sent (the greeting and unsolicited replies not counted), and the
/// transfers cell of the session tables: "0" or "N (total bytes)".
pub(crate) fn session_counts(s: &Session) -> (usize, String) {
    let n_cmds = s.commands.iter().filter(|c| !c.command.is_empty()).count();
    let transfers = if s.transfers.is_empty() {
        "0".to_string()
    } else {
        format!("{} ({})", s.transfers.len(), human::bytes(session_bytes(s)))
    };
    (n_cmds, transfers)
}

/// Sessions selected by an optional id.
pub(crate) fn selected(r: &Report, session: Option<u64>) -> impl Iterator<Item = &Session> {
    r.sessions.iter().filter(move |s| match session {
        Some(id) => s.id == id,
        None => true,
    })
}

/// The one-line summary shared by the table and the HTML page:
/// `3187 packets, 3 sessions, 3 transfers (4.1 MiB), 4 anomalies, 1 capture gap`.
pub fn summary_line(r: &Report) -> String {
    let transfers: u64 = r
        .sessions
        .iter()
        .map(|s| s.transfers.len() as u64)
        .sum::<u64>()
        + r.untied_transfers.len() as u64;
    let bytes: u64 = r.sessions.iter().map(session_bytes).sum::<u64>()
        + r.untied_transfers
            .iter()
            .filter_map(|t| t.bytes)
            .sum::<u64>();
    let mut line = format!(
        "{}, {}, {} ({}), {}, {}",
        human::plural(r.stats.packets, "packet", "packets"),
        human::plural(r.sessions.len() as u64, "FTP session", "FTP sessions"),
        human::plural(transfers, "transfer", "transfers"),
        human::bytes(bytes),
        human::plural(distinct_anomalies(r).len() as u64, "anomaly", "anomalies"),
        human::plural(r.stats.capture_gaps, "capture gap", "capture gaps"),
    );
    if r.stats.unmatched_data_connections > 0 {
        line.push_str(&format!(
            ", {} unmatched data connection{}",
            r.stats.unmatched_data_connections,
            if r.stats.unmatched_data_connections == 1 {
                ""
            } else {
                "s"
            }
        ));
    }
    let probes = r.stats.ftp_port_probes.total;
    if probes > 0 {
        line.push_str(&format!(
            ", {} (not sessions)",
            human::plural(probes, "FTP-port probe", "FTP-port probes")
        ));
    }
    if let Some(first) = r.stats.port_scans.first() {
        line.push_str(&format!(
            ", {} (from {}{})",
            human::plural(r.stats.port_scans.len() as u64, "port scan", "port scans"),
            first.source,
            if r.stats.port_scans.len() > 1 {
                ", …"
            } else {
                ""
            }
        ));
    }
    let dups = r.stats.duplicate_syns + r.stats.duplicate_segments;
    if dups > 0 {
        line.push_str(&format!(
            ", {} dropped",
            human::plural(dups, "duplicate packet", "duplicate packets")
        ));
    }
    if !r.errors.is_empty() {
        line.push_str(&format!(
            ", {}",
            human::plural(r.errors.len() as u64, "input error", "input errors")
        ));
    }
    if let Some(note) = undecoded_note(r) {
        line.push_str(", ");
        line.push_str(&note);
    }
    line
}

/// Causes named in [`undecoded_note`]; the rest are summed up.
const NOTE_CAUSES: usize = 3;

/// "1204 of 1300 packets not decoded: GRE protocol 0x88be (1200), truncated (4)" when
/// packets that may hold TCP were not decoded (the capture is partly blind), else `None`.
pub fn undecoded_note(r: &Report) -> Option<String> {
    let st = &r.stats;
    if st.undecoded_packets == 0 {
        return None;
    }
    let mut causes: Vec<String> = st
        .undecoded
        .iter()
        .take(NOTE_CAUSES)
        .map(|c| format!("{} ({})", c.cause, c.packets))
        .collect();
    if st.undecoded.len() > NOTE_CAUSES {
        let more = (st.undecoded.len() - NOTE_CAUSES) as u64;
        causes.push(human::plural(more, "more cause", "more causes"));
    }
    Some(format!(
        "{} of {} packets not decoded: {}",
        st.undecoded_packets,
        st.packets,
        causes.join(", ")
    ))
}

/// The server as people name it: `ftp.example.test (10.99.0.1:21)` when a DNS answer in
/// the capture named it, else its endpoint; terminal controls escaped.
pub fn server_label(s: &crate::model::Session) -> String {
    let ep = human::endpoint(&s.server);
    match &s.server_name {
        Some(n) => format!("{} ({ep})", crate::report::text::escape_terminal(n)),
        None => ep,
    }
}
