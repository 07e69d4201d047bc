//! Every analyzer-level bound hit through the whole pipeline, with its exact outcome: the
//! count in `stats.limits` (and the session's `dropped`), and the `limit_reached` finding.

mod support;

use ftptrace::analyzer::{detect, expect, Options};
use ftptrace::ftp::session;
use ftptrace::model::{AnomalyKind, DataMatch, Limit, Report};
use support::cap::{Cap, Conv};

const C: [u8; 4] = [10, 0, 0, 2];
const S: [u8; 4] = [10, 0, 0, 1];

/// A logged-in control connection from client port `port`.
fn login(cap: &mut Cap, port: u16) -> Conv {
    let mut c = cap.open((C, port), (S, 21), true);
    cap.send(&mut c, 1, b"220 ready\r\n");
    cap.send(&mut c, 0, b"USER u\r\n");
    cap.send(&mut c, 1, b"230 ok\r\n");
    c
}

fn pasv(cap: &mut Cap, c: &mut Conv, port: u16) {
    cap.send(c, 0, b"PASV\r\n");
    let reply = format!(
        "227 Entering Passive Mode (10,0,0,1,{},{})\r\n",
        port >> 8,
        port & 0xff
    );
    cap.send(c, 1, reply.as_bytes());
}

fn limit(r: &Report, name: Limit) -> Option<u64> {
    r.stats.limits.get(&name).copied()
}

fn findings<'r>(anomalies: &'r [ftptrace::model::Anomaly], prefix: &str) -> Vec<&'r str> {
    anomalies
        .iter()
        .filter(|a| a.kind == AnomalyKind::LimitReached && a.detail.starts_with(prefix))
        .map(|a| a.detail.as_str())
        .collect()
}

#[test]
fn announcements_beyond_the_session_cap_are_forgotten_and_counted() {
    let mut cap = Cap::new();
    let mut c = login(&mut cap, 40000);
    for p in 0..10 {
        pasv(&mut cap, &mut c, 50000 + p);
    }
    // The first PASV's port is forgotten: a connection to it is not tied by it.
    let mut d = cap.open((C, 41000), (S, 50000), true);
    cap.send(&mut d, 1, b"late data");
    cap.close(&mut d);
    // The newest still ties.
    let mut d = cap.open((C, 41001), (S, 50009), true);
    cap.send(&mut d, 1, b"data");
    cap.close(&mut d);
    cap.close(&mut c);
    let r = cap.analyze(Options {
        expect_limits: expect::Limits {
            per_session: 4,
            ..Default::default()
        },
        ..Options::default()
    });
    assert_eq!(limit(&r, Limit::MaxExpectations), Some(6));
    let s = &r.sessions[0];
    assert_eq!(s.dropped.map(|d| d.expectations), Some(6));
    assert_eq!(
        findings(&s.anomalies, "max_expectations"),
        ["max_expectations: more than 4 announced data ports waiting in this session: the oldest are forgotten (a later connection to one is not tied by its announcement)"]
    );
    let by_port = |p: u16| s.transfers.iter().find(|t| t.data_server.port == p);
    assert_ne!(by_port(50000).map(|t| t.match_), Some(DataMatch::Announced));
    assert_eq!(by_port(50009).map(|t| t.match_), Some(DataMatch::Announced));
}

#[test]
fn a_client_that_uses_each_announcement_never_hits_the_cap() {
    let mut cap = Cap::new();
    let mut c = login(&mut cap, 40000);
    for p in 0..10 {
        pasv(&mut cap, &mut c, 50000 + p);
        // The data connection is not in the capture; the dialogue shows it was used.
        cap.send(&mut c, 0, b"RETR f\r\n");
        cap.send(&mut c, 1, b"150 open\r\n226 done\r\n");
    }
    cap.close(&mut c);
    let r = cap.analyze(Options {
        expect_limits: expect::Limits {
            per_session: 4,
            ..Default::default()
        },
        ..Options::default()
    });
    assert!(r.stats.limits.is_empty(), "{:?}", r.stats.limits);
    assert_eq!(r.sessions[0].dropped, None);
}

#[test]
fn the_table_cap_forgets_the_oldest_announcement_of_any_session() {
    let mut cap = Cap::new();
    let mut a = login(&mut cap, 40000);
    let mut b = login(&mut cap, 40001);
    pasv(&mut cap, &mut a, 50000);
    pasv(&mut cap, &mut b, 50001);
    pasv(&mut cap, &mut a, 50002);
    cap.close(&mut a);
    cap.close(&mut b);
    let r = cap.analyze(Options {
        expect_limits: expect::Limits {
            total: 2,
            ..Default::default()
        },
        ..Options::default()
    });
    assert_eq!(limit(&r, Limit::MaxExpectationsTotal), Some(1));
    assert_eq!(
        findings(&r.anomalies, "max_expectations_total"),
        ["max_expectations_total: 1 announced data ports forgotten, the oldest, to keep at most 2 waiting (a later connection to one is not tied by its announcement)"]
    );
}

#[test]
fn an_unused_announcement_expires_after_the_timeout() {
    let mut cap = Cap::new();
    let mut c = login(&mut cap, 40000);
    pasv(&mut cap, &mut c, 50000);
    // 301 s later (capture time), another command: the announcement has expired.
    cap.t += 301_000_000;
    cap.send(&mut c, 0, b"NOOP\r\n");
    cap.send(&mut c, 1, b"200 ok\r\n");
    let mut d = cap.open((C, 41000), (S, 50000), true);
    cap.send(&mut d, 1, b"late data");
    cap.close(&mut d);
    cap.close(&mut c);
    let r = cap.analyze(Options::default());
    assert_eq!(limit(&r, Limit::ExpectationTimeout), Some(1));
    let s = &r.sessions[0];
    assert_eq!(s.dropped.map(|d| d.expired_expectations), Some(1));
    assert_eq!(findings(&s.anomalies, "expectation_timeout").len(), 1);
    assert!(s.transfers.iter().all(|t| t.match_ != DataMatch::Announced));
}

#[test]
fn a_used_announcement_expires_quietly() {
    let mut cap = Cap::new();
    let mut c = login(&mut cap, 40000);
    pasv(&mut cap, &mut c, 50000);
    cap.send(&mut c, 0, b"RETR f\r\n");
    let mut d = cap.open((C, 41000), (S, 50000), true);
    cap.send(&mut c, 1, b"150 open\r\n");
    cap.send(&mut d, 1, b"data");
    cap.close(&mut d);
    cap.send(&mut c, 1, b"226 done\r\n");
    cap.t += 301_000_000;
    cap.send(&mut c, 0, b"NOOP\r\n");
    cap.send(&mut c, 1, b"200 ok\r\n");
    cap.close(&mut c);
    let r = cap.analyze(Options::default());
    assert!(r.stats.limits.is_empty(), "{:?}", r.stats.limits);
    assert_eq!(r.sessions[0].transfers[0].match_, DataMatch::Announced);
}

/// A session from client `ip` that fails to log in `n` times.
fn failing(cap: &mut Cap, ip: [u8; 4], port: u16, n: usize) {
    let mut c = cap.open((ip, port), (S, 21), true);
    cap.send(&mut c, 1, b"220 ready\r\n");
    for _ in 0..n {
        cap.send(&mut c, 0, b"USER root\r\n");
        cap.send(&mut c, 1, b"331 pass\r\n");
        cap.send(&mut c, 0, b"PASS x\r\n");
        cap.send(&mut c, 1, b"530 no\r\n");
    }
    cap.close(&mut c);
}

#[test]
fn failed_login_pairs_beyond_the_cap_are_forgotten_and_counted() {
    let mut cap = Cap::new();
    // Three clients, two tallied at once: the first is forgotten before its fifth failure.
    failing(&mut cap, [10, 0, 0, 3], 40000, 4);
    failing(&mut cap, [10, 0, 0, 4], 40001, 4);
    failing(&mut cap, [10, 0, 0, 5], 40002, 4);
    failing(&mut cap, [10, 0, 0, 3], 40003, 1);
    // Client 5 pushes client 3 out, and client 3's return pushes client 4 out: client
    // 3's tally starts again at 1.
    let r = cap.analyze(Options {
        detect_limits: detect::Limits {
            pairs: 2,
            ..Default::default()
        },
        ..Options::default()
    });
    assert_eq!(limit(&r, Limit::MaxFailurePairs), Some(2));
    assert!(r
        .anomalies
        .iter()
        .all(|a| a.kind != AnomalyKind::LoginBruteforce));
    assert_eq!(findings(&r.anomalies, "max_failure_pairs").len(), 1);
    // Without the cap, client 3's five failures are a finding.
    let r = cap.analyze(Options::default());
    let brute: Vec<&str> = r
        .anomalies
        .iter()
        .filter(|a| a.kind == AnomalyKind::LoginBruteforce)
        .map(|a| a.detail.as_str())
        .collect();
    assert_eq!(brute, ["5 failed logins from 10.0.0.3 to 10.0.0.1"]);
    assert!(r.stats.limits.is_empty());
}

#[test]
fn sessions_beyond_the_kept_bound_are_left_out_and_counted() {
    let mut cap = Cap::new();
    for p in 0..3 {
        let mut c = login(&mut cap, 40000 + p);
        cap.close(&mut c);
    }
    let r = cap.analyze(Options {
        max_sessions: 2,
        ..Options::default()
    });
    let ids: Vec<u64> = r.sessions.iter().map(|s| s.id).collect();
    assert_eq!(ids, [2, 3]);
    assert_eq!(r.stats.ftp_sessions, 3);
    assert_eq!(limit(&r, Limit::MaxSessions), Some(1));
    assert_eq!(
        findings(&r.anomalies, "max_sessions"),
        ["max_sessions: 1 finished sessions left out of the report, the oldest, to keep at most 2 (the counts include them)"]
    );
}

#[test]
fn data_connections_beyond_the_transfer_bound_are_counted() {
    let mut cap = Cap::new();
    let mut c = login(&mut cap, 40000);
    for p in 0..3 {
        pasv(&mut cap, &mut c, 50000 + p);
        cap.send(&mut c, 0, b"RETR f\r\n");
        let mut d = cap.open((C, 41000 + p), (S, 50000 + p), true);
        cap.send(&mut c, 1, b"150 open\r\n");
        cap.send(&mut d, 1, b"data");
        cap.close(&mut d);
        cap.send(&mut c, 1, b"226 done\r\n");
    }
    cap.close(&mut c);
    let r = cap.analyze(Options {
        session_limits: session::Limits {
            transfers: 2,
            ..Default::default()
        },
        ..Options::default()
    });
    let s = &r.sessions[0];
    assert_eq!(s.transfers.len(), 2);
    assert_eq!(s.dropped.map(|d| d.transfers), Some(1));
    assert_eq!(limit(&r, Limit::MaxTransfers), Some(1));
    assert_eq!(
        findings(&s.anomalies, "max_transfers"),
        ["max_transfers: more than 2 transfers in this session: the rest are counted, not kept"]
    );
}

#[test]
fn pipelined_commands_beyond_the_pending_bound_are_counted() {
    let mut cap = Cap::new();
    let mut c = login(&mut cap, 40000);
    cap.send(&mut c, 0, b"NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n");
    cap.close(&mut c);
    let r = cap.analyze(Options {
        session_limits: session::Limits {
            pending: 2,
            ..Default::default()
        },
        ..Options::default()
    });
    assert_eq!(limit(&r, Limit::MaxPending), Some(3));
    let s = &r.sessions[0];
    assert_eq!(s.dropped.map(|d| d.pending), Some(3));
    assert!(s
        .anomalies
        .iter()
        .any(|a| a.kind == AnomalyKind::TooManyPendingCommands));
}

#[test]
fn the_flags_set_the_bounds() {
    let mut cap = Cap::new();
    let mut c = login(&mut cap, 40000);
    for p in 0..6 {
        pasv(&mut cap, &mut c, 50000 + p);
    }
    cap.send(&mut c, 0, b"NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n");
    cap.close(&mut c);
    let dir = std::env::temp_dir().join(format!("ftptrace-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("flags.pcap");
    std::fs::write(&file, &cap.bytes).unwrap();
    let (code, out, err) = support::run(&[
        "analyze",
        "--format",
        "json",
        "--max-expectations",
        "2",
        "--max-pending",
        "3",
        "--max-commands",
        "5",
        "--max-events",
        "10",
        file.to_str().unwrap(),
    ]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let limits = &v["stats"]["limits"];
    // greeting + USER + 3 PASV kept; 3 PASV and 4 NOOP beyond (commands not kept announce
    // nothing): 3 announcements, one beyond the cap of 2.
    assert_eq!(limits["max_commands"], 7, "{limits}");
    assert_eq!(limits["max_expectations"], 1, "{limits}");
    assert_eq!(limits["max_pending"], 1, "{limits}");
    assert!(limits["max_events"].as_u64().unwrap() > 0, "{limits}");
    assert_eq!(v["sessions"][0]["commands"].as_array().unwrap().len(), 5);
    assert_eq!(v["sessions"][0]["timeline"].as_array().unwrap().len(), 10);
}
