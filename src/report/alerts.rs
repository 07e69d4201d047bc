//! `--format alerts`: one line per finding, most severe first — severity, time, session(s),
//! hosts, kind and the evidence.

use crate::model::{Anomaly, AnomalyKind, Report, Session};
use std::io::{self, Write};

pub use crate::model::Severity;

/// The severity of an anomaly kind ([`AnomalyKind::severity`]).
pub fn severity(kind: AnomalyKind) -> Severity {
    kind.severity()
}

struct Alert<'a> {
    sev: Severity,
    a: &'a Anomaly,
    sessions: Vec<u64>,
    hosts: String,
}

fn hosts(s: &Session) -> String {
    format!(
        "{} → {}",
        super::human::endpoint(&s.client),
        super::human::endpoint(&s.server)
    )
}

/// Every finding once (a finding listed at top level and in its sessions counts once).
fn alerts(r: &Report) -> Vec<Alert<'_>> {
    let mut v: Vec<Alert<'_>> = Vec::new();
    for a in &r.anomalies {
        let first = a
            .sessions
            .first()
            .and_then(|id| r.sessions.iter().find(|s| s.id == *id));
        v.push(Alert {
            sev: severity(a.kind),
            a,
            sessions: a.sessions.clone(),
            hosts: first.map(hosts).unwrap_or_default(),
        });
    }
    for s in &r.sessions {
        for a in &s.anomalies {
            if a.finding.is_some() || !a.sessions.is_empty() {
                continue; // a reference to a top-level finding
            }
            v.push(Alert {
                sev: severity(a.kind),
                a,
                sessions: vec![s.id],
                hosts: hosts(s),
            });
        }
    }
    v.sort_by_key(|x| (x.sev, x.a.ts, x.a.kind));
    v
}

/// Write the findings, most severe first (then in time order).
pub fn write_alerts(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    for al in alerts(r) {
        let sessions = match al.sessions.as_slice() {
            [] => "-".to_string(),
            [one] => format!("session {one}"),
            many => format!(
                "sessions {}",
                many.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        };
        let hosts = if al.hosts.is_empty() { "-" } else { &al.hosts };
        writeln!(
            out,
            "{:<6}  {}  {}  {}  {}: {}",
            al.sev.as_str(),
            al.a.ts,
            sessions,
            hosts,
            al.a.kind,
            super::text::escape_terminal(&al.a.detail)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::example_report;

    #[test]
    fn most_severe_first() {
        assert!(
            severity(AnomalyKind::LoginBruteforce) < severity(AnomalyKind::CleartextCredentials)
        );
        assert!(severity(AnomalyKind::CleartextCredentials) < severity(AnomalyKind::LineTooLong));
        let mut r = example_report();
        let t = r.sessions[0].start;
        r.sessions[0].anomalies.push(Anomaly {
            ts: t,
            kind: AnomalyKind::CaptureGap,
            detail: "gap".into(),
            sessions: vec![],
            finding: None,
        });
        r.sessions[0].anomalies.push(Anomaly {
            ts: t,
            kind: AnomalyKind::PortBounce,
            detail: "PORT names 10.9.9.9:80".into(),
            sessions: vec![],
            finding: None,
        });
        let mut buf = Vec::new();
        write_alerts(&r, &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("HIGH"), "{text}");
        assert!(
            lines[0].contains("port_bounce: PORT names 10.9.9.9:80"),
            "{text}"
        );
        assert!(lines.last().unwrap().starts_with("INFO"), "{text}");
        assert!(lines[0].contains(&format!("session {}", r.sessions[0].id)));
    }
}
