//! Suricata-style eve JSON lines (`--format eve`): `event_type` `ftp` (one per command with
//! its replies), `ftp_data` (one per data connection) and `fileinfo` (one per transferred
//! file), with Suricata's field names, so that existing eve consumers read them.

use crate::model::{
    Command, DataCapture, Direction, Endpoint, Reply, Report, Session, Time, Transfer,
    TransferStatus, RFC3339_MAX,
};
use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;
use std::io::{self, Write};

/// Suricata's timestamp: `2012-09-01T10:20:30.123456+0000` (always microseconds).
#[derive(Clone, Copy)]
struct EveTime(Time);

impl Serialize for EveTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let us = Time {
            ts: self.0.ts,
            digits: 6,
        };
        let mut buf = [0u8; RFC3339_MAX + 5];
        let n = us
            .rfc3339((&mut buf[..RFC3339_MAX]).try_into().expect("size"))
            .len();
        // Replace the `Z` with `+0000`.
        buf[n - 1..n + 4].copy_from_slice(b"+0000");
        s.serialize_str(std::str::from_utf8(&buf[..n + 4]).unwrap_or(""))
    }
}

/// A stable flow id (Suricata's is a 51-bit hash of the flow): from the two endpoints.
fn flow_id(a: &Endpoint, b: &Endpoint, salt: u64) -> u64 {
    use std::hash::{Hash, Hasher};
    // FNV-1a over the text form: stable across runs and platforms.
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 ^= u64::from(*b);
                self.0 = self.0.wrapping_mul(0x100_0000_01b3);
            }
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    // "{a.ip}|{a.port}|{b.ip}|{b.port}|{salt}"
    let mut text = String::with_capacity(96);
    for e in [a, b] {
        super::push_ip(&mut text, e.ip);
        text.push('|');
        super::push_decimal(&mut text, e.port.into(), 1);
        text.push('|');
    }
    super::push_decimal(&mut text, salt, 1);
    text.hash(&mut h);
    h.finish() & ((1 << 51) - 1)
}

/// One eve record. The fields are in byte order of their names: the order the records
/// had when they were built as `serde_json::Map`s (a `BTreeMap`), which the output keeps.
#[derive(Serialize)]
struct Record<'a> {
    app_proto: &'static str,
    dest_ip: &'a str,
    dest_port: u16,
    event_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fileinfo: Option<FileInfo<'a>>,
    flow_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ftp: Option<Ftp<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ftp_data: Option<FtpData<'a>>,
    ftptrace: Ours,
    proto: &'static str,
    src_ip: &'a str,
    src_port: u16,
    timestamp: EveTime,
}

/// The two ends of a record, addresses written once per connection.
struct Ends<'a> {
    src_ip: &'a str,
    src_port: u16,
    dest_ip: &'a str,
    dest_port: u16,
    flow: u64,
}

impl<'a> Record<'a> {
    fn new(ts: Time, event_type: &'static str, app_proto: &'static str, e: &Ends<'a>) -> Self {
        Record {
            app_proto,
            dest_ip: e.dest_ip,
            dest_port: e.dest_port,
            event_type,
            fileinfo: None,
            flow_id: e.flow,
            ftp: None,
            ftp_data: None,
            ftptrace: Ours {
                data: None,
                session: 0,
                transfer: None,
            },
            proto: "TCP",
            src_ip: e.src_ip,
            src_port: e.src_port,
            timestamp: EveTime(ts),
        }
    }
}

/// `ftptrace`: what ties the record to this tool's session and transfer.
#[derive(Serialize)]
struct Ours {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<DataCapture>,
    session: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    transfer: Option<usize>,
}

#[derive(Serialize)]
struct Ftp<'a> {
    command: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    command_data: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    completion_code: Option<Codes<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dynamic_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply: Option<Lines<'a>>,
    reply_received: &'static str,
}

/// The replies' lines, one array element each.
struct Lines<'a>(&'a [Reply]);

impl Serialize for Lines<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for line in self.0.iter().flat_map(|r| r.text.split('\n')) {
            seq.serialize_element(line)?;
        }
        seq.end()
    }
}

/// The replies' codes, as strings.
struct Codes<'a>(&'a [Reply]);

impl Serialize for Codes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for r in self.0 {
            seq.serialize_element(&Code(r.code))?;
        }
        seq.end()
    }
}

struct Code(u16);

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(itoa::Buffer::new().format(self.0))
    }
}

#[derive(Serialize)]
struct FtpData<'a> {
    command: &'a str,
    filename: &'a str,
}

#[derive(Serialize)]
struct FileInfo<'a> {
    filename: &'a str,
    gaps: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<&'a str>,
    size: u64,
    state: &'static str,
    stored: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    storing_file: Option<&'a str>,
    tx_id: u8,
}

fn ftp_object(c: &Command) -> Ftp<'_> {
    // The data port a PORT/EPRT announced or a 227/229 reply gave.
    let port = match c.command.as_str() {
        "PORT" => crate::ftp::parse::parse_port(c.arg.as_bytes()).map(|a| (a.port(), "active")),
        "EPRT" => crate::ftp::parse::parse_eprt(c.arg.as_bytes()).map(|a| (a.port(), "active")),
        "PASV" | "EPSV" => c.replies.last().and_then(|r| {
            crate::ftp::parse::parse_pasv_reply(r.text.as_bytes())
                .map(|a| a.port())
                .or_else(|| crate::ftp::parse::parse_epsv_reply(r.text.as_bytes()))
                .map(|p| (p, "passive"))
        }),
        _ => None,
    };
    let replied = !c.replies.is_empty();
    Ftp {
        command: &c.command,
        command_data: (!c.arg.is_empty()).then_some(c.arg.as_str()),
        completion_code: replied.then_some(Codes(&c.replies)),
        dynamic_port: port.map(|(p, _)| p),
        mode: port.map(|(_, m)| m),
        reply: replied.then_some(Lines(&c.replies)),
        reply_received: if replied { "yes" } else { "no" },
    }
}

fn ip_text(ip: std::net::IpAddr) -> String {
    let mut s = String::with_capacity(39);
    super::push_ip(&mut s, ip);
    s
}

fn file_name(t: &Transfer) -> &str {
    t.path.as_deref().unwrap_or(&t.arg)
}

/// Serialize one session's eve records in time order, one line each.
fn session_records(s: &Session, b: &mut Vec<u8>) -> io::Result<()> {
    let client_ip = ip_text(s.client.ip);
    let server_ip = ip_text(s.server.ip);
    let control = Ends {
        src_ip: &client_ip,
        src_port: s.client.port,
        dest_ip: &server_ip,
        dest_port: s.server.port,
        flow: flow_id(&s.client, &s.server, s.id),
    };
    let data_ips: Vec<(String, String)> = s
        .transfers
        .iter()
        .map(|t| (ip_text(t.data_client.ip), ip_text(t.data_server.ip)))
        .collect();
    let mut out: Vec<(Time, Record<'_>)> = Vec::new();
    for c in &s.commands {
        if c.command.is_empty() {
            continue; // the greeting and unsolicited replies are not transactions
        }
        let mut m = Record::new(c.ts, "ftp", "ftp", &control);
        m.ftp = Some(ftp_object(c));
        m.ftptrace.session = s.id;
        out.push((c.ts, m));
    }
    for (i, (t, ips)) in s.transfers.iter().zip(&data_ips).enumerate() {
        let data = Ends {
            src_ip: &ips.0,
            src_port: t.data_client.port,
            dest_ip: &ips.1,
            dest_port: t.data_server.port,
            flow: flow_id(&t.data_client, &t.data_server, s.id * 1_000_003 + i as u64),
        };
        let name = file_name(t);
        let ours = || Ours {
            data: Some(t.data),
            session: s.id,
            transfer: Some(i + 1),
        };
        let mut m = Record::new(t.start, "ftp_data", "ftp-data", &data);
        m.ftp_data = Some(FtpData {
            command: &t.command,
            filename: name,
        });
        m.ftptrace = ours();
        out.push((t.start, m));
        if t.direction == Direction::Listing && t.bytes.is_none() {
            continue;
        }
        let mut m = Record::new(t.end, "fileinfo", "ftp-data", &data);
        let state = match t.status {
            TransferStatus::Complete if t.missing_bytes == Some(0) => "CLOSED",
            TransferStatus::Complete | TransferStatus::Incomplete => "TRUNCATED",
            TransferStatus::Aborted | TransferStatus::Failed => "ERROR",
        };
        m.fileinfo = Some(FileInfo {
            filename: name,
            gaps: t.missing_bytes.is_some_and(|m| m > 0),
            sha256: t.sha256.as_deref(),
            size: t.captured_bytes.unwrap_or(0),
            state,
            stored: t.extracted.is_some(),
            storing_file: t.extracted.as_deref(),
            tx_id: 0,
        });
        m.ftptrace = ours();
        out.push((t.end, m));
    }
    out.sort_by_key(|(t, _)| *t);
    for (_, r) in &out {
        super::compact::to_vec(b, r)?;
        b.push(b'\n');
    }
    Ok(())
}

/// One session's eve lines.
pub fn write_eve_session(s: &Session, out: &mut dyn Write) -> io::Result<()> {
    super::json::buffered(out, |b| session_records(s, b))
}

/// Every session's eve lines.
pub fn write_eve(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    for s in &r.sessions {
        write_eve_session(s, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::documented_report;
    use serde_json::{json, Value};

    #[test]
    fn suricata_shape() {
        let r = documented_report();
        let mut buf = Vec::new();
        write_eve(&r, &mut buf).unwrap();
        let lines: Vec<Value> = String::from_utf8(buf)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let port = lines
            .iter()
            .find(|v| v["event_type"] == "ftp" && v["ftp"]["command"] == "PORT")
            .unwrap();
        assert_eq!(port["ftp"]["mode"], "active");
        assert!(port["ftp"]["dynamic_port"].is_u64());
        assert_eq!(port["ftp"]["reply_received"], "yes");
        assert!(port["timestamp"].as_str().unwrap().ends_with("+0000"));
        let retr = lines
            .iter()
            .find(|v| v["event_type"] == "ftp" && v["ftp"]["command"] == "RETR")
            .unwrap();
        assert_eq!(retr["ftp"]["completion_code"], json!(["150", "226"]));
        let fi = lines
            .iter()
            .find(|v| v["event_type"] == "fileinfo")
            .unwrap();
        assert!(fi["fileinfo"]["filename"].is_string());
        assert_eq!(fi["app_proto"], "ftp-data");
        assert!(lines.iter().any(|v| v["event_type"] == "ftp_data"));
        // Flow ids tie a data connection's ftp_data and fileinfo records.
        let fd = lines
            .iter()
            .find(|v| v["event_type"] == "ftp_data")
            .unwrap();
        assert!(lines
            .iter()
            .any(|v| v["event_type"] == "fileinfo" && v["flow_id"] == fd["flow_id"]));
    }
}
