//! The formats analysts' pipelines read — Zeek's ftp.log (TSV and JSON), Suricata's eve,
//! CSV, alerts — and the session filters, on real captures.

mod support;

use serde_json::Value;
use std::path::PathBuf;
use support::{root, run, skip_or_fail};

fn zeek_dir() -> PathBuf {
    root().join("../shared/corpus/zeek")
}

fn sample(name: &str) -> String {
    root()
        .join("samples")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

const DEFAULT_LOGGED: [&str; 10] = [
    "APPE", "DELE", "RETR", "STOR", "STOU", "ACCT", "PORT", "PASV", "EPRT", "EPSV",
];

/// Zeek's rows of a baseline, without the fields ours cannot share (ts masked, uid and fuid
/// random, mime_type from libmagic), for the default logged commands only (several
/// baselines were made with extra commands logged).
fn zeek_baseline(log: &str) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(zeek_dir().join("baseline").join(log)).unwrap();
    let fields = text
        .lines()
        .find(|l| l.starts_with("#fields"))
        .unwrap()
        .to_string();
    let rows = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(comparable)
        .filter(|r| DEFAULT_LOGGED.contains(&r.split('\t').nth(6).unwrap_or("")))
        .collect();
    (fields, rows)
}

/// Fields 3–10 and 12–18 (1-based): endpoints, user, password, command, arg, file_size,
/// reply, data channel.
fn comparable(line: &str) -> String {
    let f: Vec<&str> = line.split('\t').collect();
    let mut keep: Vec<&str> = f[2..10].to_vec();
    keep.extend_from_slice(&f[11..18]);
    keep.join("\t")
}

/// `--format zeek` against Zeek's own ftp.log for the captures it was made from: the same
/// header and, row for row, the same values — where a row differs, the third field says
/// how many rows and the comment why ours is right.
#[test]
fn zeek_format_matches_zeeks_own_logs() {
    if !zeek_dir().exists() {
        return skip_or_fail("../shared/corpus/zeek is not beside the checkout");
    }
    let cases: &[(&str, &str, usize)] = &[
        ("ftp-ipv4.ftp.log", "ipv4.pcap", 0),
        ("ftp-ipv6.ftp.log", "ipv6.pcap", 0),
        ("ftp-samba-retr.ftp.log", "ipv6-retr-samba.pcap", 0),
        // The capture lost two client commands; Zeek pairs the replies that follow with
        // the PASV before (reply 226 "Transfer complete" for a PASV); ours keeps the 227
        // the PASV really got (see e2e's zeek_logs_agree).
        ("cwd-navigation.ftp.log", "cwd-navigation.pcap", 2),
        // The server answers RETR with 550, then closes with an unsolicited 221; Zeek
        // logs RETR with the 221, ours with the 550 it got.
        ("ftp.ftp.log", "ipv6-multiline-reply.pcap", 1),
        (
            "ftp-multiline-reply.ftp.log",
            "ipv6-multiline-reply.pcap",
            1,
        ),
    ];
    for (log, cap, differ) in cases {
        let (fields, want) = zeek_baseline(log);
        let capture = zeek_dir().join(cap);
        let (code, out, err) = run(&[
            "analyze",
            "--format",
            "zeek",
            "--show-passwords",
            capture.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{cap}: {err}");
        assert!(out.lines().any(|l| l == fields), "{cap}: header\n{out}");
        for h in [
            "#separator \\x09",
            "#set_separator\t,",
            "#empty_field\t(empty)",
            "#unset_field\t-",
            "#path\tftp",
        ] {
            assert!(out.lines().any(|l| l == h), "{cap}: {h}");
        }
        assert!(out
            .lines()
            .any(|l| l.starts_with("#types\ttime\tstring\taddr\tport")));
        let ours: Vec<String> = out
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(comparable)
            .collect();
        assert_eq!(ours.len(), want.len(), "{cap}: rows\n{}", ours.join("\n"));
        let diff = ours.iter().zip(&want).filter(|(a, b)| a != b).count();
        assert_eq!(diff, *differ, "{cap}:\n{}", {
            let d: Vec<String> = ours
                .iter()
                .zip(&want)
                .filter(|(a, b)| a != b)
                .map(|(a, b)| format!("ours: {a}\nzeek: {b}"))
                .collect();
            d.join("\n")
        });
    }
}

/// `zeek-json`: one JSON object per row, Zeek's field names, unset fields left out.
#[test]
fn zeek_json_has_the_rows_of_the_tsv() {
    let cap = sample("curl-port-vsftpd.pcap");
    let (_, tsv, _) = run(&["analyze", "--format", "zeek", &cap]);
    let (code, js, err) = run(&["analyze", "--format", "zeek-json", &cap]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<&str> = tsv.lines().filter(|l| !l.starts_with('#')).collect();
    let objs: Vec<Value> = js
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), objs.len());
    assert!(!objs.is_empty());
    for (r, o) in rows.iter().zip(&objs) {
        let f: Vec<&str> = r.split('\t').collect();
        assert_eq!(o["uid"], f[1]);
        assert_eq!(o["id.orig_h"], f[2]);
        assert_eq!(o["command"], f[8]);
        assert!(o["ts"].is_f64());
        if o["command"] == "PORT" {
            assert_eq!(o["data_channel.passive"], false);
            assert!(o["data_channel.resp_p"].is_u64());
        }
        if o["command"] == "RETR" {
            assert!(o["arg"].as_str().unwrap().starts_with("ftp://10.99.0.1/"));
            assert!(o.get("data_channel.passive").is_none());
        }
    }
}

/// `eve`: Suricata's event types and field names; fileinfo carries the transfer's hash.
#[test]
fn eve_lines_read_like_suricatas() {
    let cap = sample("curl-pasv-vsftpd.pcap");
    let (code, out, err) = run(&["analyze", "--format", "eve", "--hash", &cap]);
    assert_eq!(code, 0, "{err}");
    let (_, json, _) = run(&["analyze", "--format", "json", "--hash", &cap]);
    let v: Value = serde_json::from_str(&json).unwrap();
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for l in &lines {
        assert!(["ftp", "ftp_data", "fileinfo"].contains(&l["event_type"].as_str().unwrap()));
        assert!(l["flow_id"].is_u64());
        for k in [
            "src_ip",
            "src_port",
            "dest_ip",
            "dest_port",
            "proto",
            "timestamp",
        ] {
            assert!(!l[k].is_null(), "{k} in {l}");
        }
    }
    let pasv = lines
        .iter()
        .find(|l| l["event_type"] == "ftp" && l["ftp"]["command"] == "PASV")
        .unwrap();
    assert_eq!(pasv["ftp"]["mode"], "passive");
    assert_eq!(pasv["ftp"]["completion_code"][0], "227");
    let hashes: Vec<&Value> = lines
        .iter()
        .filter(|l| l["event_type"] == "fileinfo")
        .map(|l| &l["fileinfo"]["sha256"])
        .collect();
    let want: Vec<&Value> = v["sessions"][0]["transfers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["sha256"])
        .collect();
    assert_eq!(hashes, want);
    let retr = lines
        .iter()
        .find(|l| l["event_type"] == "ftp_data" && l["ftp_data"]["command"] == "RETR")
        .unwrap();
    assert_eq!(retr["ftp_data"]["filename"], "/data-100k.bin");
}

/// Split one RFC 4180 record (no embedded newlines needed here).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(String::new()),
            (c, _) => out.last_mut().unwrap().push(c),
        }
    }
    out
}

/// `csv`: a header and one row per transfer, every row as wide as the header.
#[test]
fn csv_has_one_row_per_transfer() {
    let cap = sample("ftplib-pyftpdlib-2121.pcap");
    let (code, out, err) = run(&["analyze", "--format", "csv", "--hash", &cap]);
    assert_eq!(code, 0, "{err}");
    assert!(out.ends_with("\r\n"));
    let lines: Vec<&str> = out.split("\r\n").filter(|l| !l.is_empty()).collect();
    let header = csv_fields(lines[0]);
    let (_, json, _) = run(&["analyze", "--format", "json", "--hash", &cap]);
    let v: Value = serde_json::from_str(&json).unwrap();
    let transfers: Vec<&Value> = v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["transfers"].as_array().unwrap())
        .collect();
    assert_eq!(lines.len() - 1, transfers.len());
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for (l, t) in lines[1..].iter().zip(&transfers) {
        let f = csv_fields(l);
        assert_eq!(f.len(), header.len(), "{l}");
        assert_eq!(f[col("command")], t["command"].as_str().unwrap());
        assert_eq!(f[col("sha256")], t["sha256"].as_str().unwrap_or(""));
        assert_eq!(f[col("bytes")], t["bytes"].to_string());
    }
}

/// `alerts`: the most severe finding first, with its sessions and hosts.
#[test]
fn alerts_most_severe_first() {
    if !zeek_dir().exists() {
        return skip_or_fail("../shared/corpus/zeek is not beside the checkout");
    }
    let cap = zeek_dir().join("bruteforce.pcap");
    let (code, out, err) = run(&["analyze", "--format", "alerts", cap.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let first = out.lines().next().unwrap();
    assert!(first.starts_with("HIGH"), "{first}");
    assert!(first.contains("login_bruteforce"), "{first}");
    assert!(first.contains("sessions 1,2,3"), "{first}");
    assert!(first.contains("192.168.56.1"), "{first}");
    let sev: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    let rank = |s: &str| {
        ["HIGH", "MEDIUM", "LOW", "INFO"]
            .iter()
            .position(|x| *x == s)
            .unwrap()
    };
    assert!(sev.windows(2).all(|w| rank(w[0]) <= rank(w[1])), "{out}");
}

fn session_ids(format: &str, cap: &str, extra: &[&str]) -> Vec<u64> {
    let mut args = vec!["analyze", "--format", format, cap];
    args.extend_from_slice(extra);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{format}: {err}");
    match format {
        "json" => serde_json::from_str::<Value>(&out).unwrap()["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_u64().unwrap())
            .collect(),
        "jsonl" => out
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["id"]
                    .as_u64()
                    .unwrap()
            })
            .collect(),
        "eve" => {
            let mut v: Vec<u64> = out
                .lines()
                .map(|l| {
                    serde_json::from_str::<Value>(l).unwrap()["ftptrace"]["session"]
                        .as_u64()
                        .unwrap()
                })
                .collect();
            v.dedup();
            v
        }
        "csv" => {
            let mut v: Vec<u64> = out
                .split("\r\n")
                .skip(1)
                .filter(|l| !l.is_empty())
                .map(|l| csv_fields(l)[0].parse().unwrap())
                .collect();
            v.dedup();
            v
        }
        "timeline" => out
            .lines()
            .filter_map(|l| l.strip_prefix("Session "))
            .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
            .collect(),
        _ => unreachable!(),
    }
}

/// Filters work in every format: --session, --host, --user, --since/--until.
#[test]
fn filters_in_every_format() {
    let cap = sample("parallel-4.pcap");
    let all = session_ids("json", &cap, &[]);
    assert_eq!(all, [1, 2, 3, 4]);
    for f in ["json", "jsonl", "timeline", "csv", "eve"] {
        let mut got = session_ids(f, &cap, &["--session", "2,4"]);
        got.sort();
        assert_eq!(got, [2, 4], "{f}");
    }
    let (_, json, _) = run(&["analyze", "--format", "json", &cap]);
    let v: Value = serde_json::from_str(&json).unwrap();
    let s3 = &v["sessions"][2];
    // The client's address is shared by all four; a data connection's port is not a host.
    let client = s3["client"]["ip"].as_str().unwrap();
    assert_eq!(session_ids("json", &cap, &["--host", client]).len(), 4);
    assert!(session_ids("json", &cap, &["--host", "192.0.2.1"]).is_empty());
    let user = s3["user"].as_str().unwrap();
    let by_user = session_ids("json", &cap, &["--user", user]);
    assert!(by_user.contains(&3));
    assert!(session_ids("json", &cap, &["--user", "nobody-at-all"]).is_empty());
    // Time: until before the first start keeps none; since the last end keeps the last.
    let (_, _, _) = run(&["analyze", &cap]);
    assert!(session_ids("json", &cap, &["--until", "2000-01-01T00:00:00Z"]).is_empty());
    assert_eq!(
        session_ids("json", &cap, &["--since", "2000-01-01T00:00:00Z"]).len(),
        4
    );
    let (code, _, err) = run(&["analyze", &cap, "--since", "yesterday"]);
    assert_eq!(code, 2, "{err}");
}

/// A --session that matches nothing: one stderr line, exit 2, nothing on stdout.
#[test]
fn unknown_session_is_an_error() {
    let cap = sample("documented-active.pcap");
    for f in ["table", "json", "jsonl", "timeline", "mermaid", "zeek"] {
        let (code, out, err) = run(&["analyze", "--format", f, "--session", "999", &cap]);
        assert_eq!(code, 2, "{f}");
        assert!(out.is_empty(), "{f}: {out}");
        let lines: Vec<&str> = err.lines().filter(|l| l.contains("999")).collect();
        assert_eq!(lines.len(), 1, "{f}: {err}");
    }
}

/// A finding that spans sessions stands once at top level with its session ids; each
/// session refers to it by index (`ref`), without a copy of the list — also after
/// `--session` drops other sessions and findings.
#[test]
fn cross_session_findings_are_referenced_not_copied() {
    if !zeek_dir().exists() {
        return skip_or_fail("../shared/corpus/zeek is not beside the checkout");
    }
    let cap = zeek_dir().join("bruteforce.pcap");
    let cap = cap.to_str().unwrap();
    for extra in [&[][..], &["--session", "2"][..]] {
        let mut args = vec!["analyze", "--format", "json", cap];
        args.extend_from_slice(extra);
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        let top = v["anomalies"].as_array().unwrap();
        let i = top
            .iter()
            .position(|a| a["kind"] == "login_bruteforce")
            .unwrap();
        assert_eq!(top[i]["sessions"].as_array().unwrap().len(), 30);
        for s in v["sessions"].as_array().unwrap() {
            let refs: Vec<&Value> = s["anomalies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["kind"] == "login_bruteforce")
                .collect();
            assert_eq!(refs.len(), 1, "{extra:?}");
            assert_eq!(refs[0]["ref"], i as u64, "{extra:?}");
            assert!(refs[0].get("sessions").is_none(), "{extra:?}");
        }
    }
}
