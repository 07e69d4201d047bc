//! Suricata-style eve JSON lines (`--format eve`): `event_type` `ftp` (one per command with
//! its replies), `ftp_data` (one per data connection) and `fileinfo` (one per transferred
//! file), with Suricata's field names, so that existing eve consumers read them.

use crate::model::{Command, Direction, Endpoint, Report, Session, Time, Transfer, TransferStatus};
use serde_json::{json, Map, Value};
use std::io::{self, Write};

/// Suricata's timestamp: `2012-09-01T10:20:30.123456+0000` (always microseconds).
fn eve_time(t: Time) -> String {
    let us = Time {
        ts: t.ts,
        digits: 6,
    }
    .to_string();
    format!("{}+0000", us.trim_end_matches('Z'))
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
    format!("{}|{}|{}|{}|{salt}", a.ip, a.port, b.ip, b.port).hash(&mut h);
    h.finish() & ((1 << 51) - 1)
}

fn header(
    ts: Time,
    event_type: &str,
    src: &Endpoint,
    dst: &Endpoint,
    flow: u64,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("timestamp".into(), json!(eve_time(ts)));
    m.insert("flow_id".into(), json!(flow));
    m.insert("event_type".into(), json!(event_type));
    m.insert("src_ip".into(), json!(src.ip.to_string()));
    m.insert("src_port".into(), json!(src.port));
    m.insert("dest_ip".into(), json!(dst.ip.to_string()));
    m.insert("dest_port".into(), json!(dst.port));
    m.insert("proto".into(), json!("TCP"));
    m
}

fn ftp_object(c: &Command, s: &Session) -> Value {
    let mut f = Map::new();
    f.insert("command".into(), json!(c.command));
    if !c.arg.is_empty() {
        f.insert("command_data".into(), json!(c.arg));
    }
    if !c.replies.is_empty() {
        let lines: Vec<&str> = c.replies.iter().flat_map(|r| r.text.split('\n')).collect();
        f.insert("reply".into(), json!(lines));
        let codes: Vec<String> = c.replies.iter().map(|r| r.code.to_string()).collect();
        f.insert("completion_code".into(), json!(codes));
    }
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
    if let Some((p, mode)) = port {
        f.insert("dynamic_port".into(), json!(p));
        f.insert("mode".into(), json!(mode));
    }
    f.insert(
        "reply_received".into(),
        json!(if c.replies.is_empty() { "no" } else { "yes" }),
    );
    let _ = s;
    Value::Object(f)
}

fn file_name(t: &Transfer) -> String {
    t.path.clone().unwrap_or_else(|| t.arg.clone())
}

/// One session's eve records in time order.
pub fn session_events(s: &Session) -> Vec<Value> {
    let control_flow = flow_id(&s.client, &s.server, s.id);
    let mut out: Vec<(Time, Value)> = Vec::new();
    for c in &s.commands {
        if c.command.is_empty() {
            continue; // the greeting and unsolicited replies are not transactions
        }
        let mut m = header(c.ts, "ftp", &s.client, &s.server, control_flow);
        m.insert("app_proto".into(), json!("ftp"));
        m.insert("ftp".into(), ftp_object(c, s));
        m.insert("ftptrace".into(), json!({"session": s.id}));
        out.push((c.ts, Value::Object(m)));
    }
    for (i, t) in s.transfers.iter().enumerate() {
        let flow = flow_id(&t.data_client, &t.data_server, s.id * 1_000_003 + i as u64);
        let (src, dst) = (&t.data_client, &t.data_server);
        let name = file_name(t);
        let mut m = header(t.start, "ftp_data", src, dst, flow);
        m.insert("app_proto".into(), json!("ftp-data"));
        m.insert(
            "ftp_data".into(),
            json!({"filename": name, "command": t.command}),
        );
        m.insert(
            "ftptrace".into(),
            json!({"session": s.id, "transfer": i + 1, "data": t.data}),
        );
        out.push((t.start, Value::Object(m)));
        if t.direction == Direction::Listing && t.bytes.is_none() {
            continue;
        }
        let mut m = header(t.end, "fileinfo", src, dst, flow);
        m.insert("app_proto".into(), json!("ftp-data"));
        let state = match t.status {
            TransferStatus::Complete if t.missing_bytes == Some(0) => "CLOSED",
            TransferStatus::Complete | TransferStatus::Incomplete => "TRUNCATED",
            TransferStatus::Aborted | TransferStatus::Failed => "ERROR",
        };
        let mut fi = Map::new();
        fi.insert("filename".into(), json!(name));
        fi.insert("gaps".into(), json!(t.missing_bytes.is_some_and(|m| m > 0)));
        fi.insert("state".into(), json!(state));
        if let Some(h) = &t.sha256 {
            fi.insert("sha256".into(), json!(h));
        }
        fi.insert("stored".into(), json!(t.extracted.is_some()));
        if let Some(f) = &t.extracted {
            fi.insert("storing_file".into(), json!(f));
        }
        fi.insert("size".into(), json!(t.captured_bytes.unwrap_or(0)));
        fi.insert("tx_id".into(), json!(0));
        m.insert("fileinfo".into(), Value::Object(fi));
        m.insert(
            "ftptrace".into(),
            json!({"session": s.id, "transfer": i + 1, "data": t.data}),
        );
        out.push((t.end, Value::Object(m)));
    }
    out.sort_by_key(|(t, _)| *t);
    out.into_iter().map(|(_, v)| v).collect()
}

/// One session's eve lines.
pub fn write_eve_session(s: &Session, out: &mut dyn Write) -> io::Result<()> {
    let events = session_events(s);
    super::json::buffered(out, |b| {
        for v in &events {
            serde_json::to_writer(&mut *b, v)?;
            b.push(b'\n');
        }
        Ok(())
    })
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
