//! Keep only the sessions a user asked for (`--session`, `--host`, `--user`, `--since`,
//! `--until`), in every format.

use crate::capture::Timestamp;
use crate::model::{Report, Session};
use std::net::IpAddr;

/// What to keep; an empty criterion keeps everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Session ids.
    pub sessions: Vec<u64>,
    /// Either end of the control connection or of any of its data connections.
    pub hosts: Vec<IpAddr>,
    /// The session's user (any USER it sent).
    pub users: Vec<String>,
    /// Sessions that end at or after this time.
    pub since: Option<Timestamp>,
    /// Sessions that start at or before this time.
    pub until: Option<Timestamp>,
}

/// Why a filter option could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("{0}: not an RFC 3339 time (e.g. 2024-01-02T03:04:05Z)")]
    Time(String),
}

/// An RFC 3339 time (`2024-01-02T03:04:05Z`, `…+02:00`, fractions allowed).
pub fn parse_time(s: &str) -> Result<Timestamp, FilterError> {
    let t = chrono::DateTime::parse_from_rfc3339(s).map_err(|_| FilterError::Time(s.into()))?;
    Ok(Timestamp::from_parts(
        t.timestamp(),
        t.timestamp_subsec_nanos(),
    ))
}

impl Filter {
    /// Nothing asked: every session is kept.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
            && self.hosts.is_empty()
            && self.users.is_empty()
            && self.since.is_none()
            && self.until.is_none()
    }

    /// Whether a session is kept.
    pub fn matches(&self, s: &Session) -> bool {
        if !self.sessions.is_empty() && !self.sessions.contains(&s.id) {
            return false;
        }
        if !self.hosts.is_empty() {
            let mut ends = [s.client.ip, s.server.ip].into_iter().chain(
                s.transfers
                    .iter()
                    .flat_map(|t| [t.data_client.ip, t.data_server.ip]),
            );
            if !ends.any(|ip| self.hosts.contains(&ip)) {
                return false;
            }
        }
        if !self.users.is_empty() {
            let sent = s
                .commands
                .iter()
                .filter(|c| c.command == "USER")
                .map(|c| c.arg.as_str())
                .chain(s.user.as_deref());
            let mut sent = sent;
            if !sent.any(|u| self.users.iter().any(|w| w == u)) {
                return false;
            }
        }
        if self.since.is_some_and(|t| s.end.ts < t) {
            return false;
        }
        if self.until.is_some_and(|t| s.start.ts > t) {
            return false;
        }
        true
    }

    /// Drop the sessions not kept, and the top-level findings that involve none of the kept
    /// ones (findings that involve no session stay unless sessions were asked for by id or user).
    pub fn apply(&self, r: &mut Report) {
        if self.is_empty() {
            return;
        }
        r.sessions.retain(|s| self.matches(s));
        let kept: Vec<u64> = r.sessions.iter().map(|s| s.id).collect();
        let by_session = !self.sessions.is_empty() || !self.users.is_empty();
        let keep: Vec<bool> = r
            .anomalies
            .iter()
            .map(|a| {
                if a.sessions.is_empty() {
                    !by_session
                } else {
                    a.sessions.iter().any(|id| kept.contains(id))
                }
            })
            .collect();
        // Sessions refer to top-level findings by index: renumber their references.
        let mut new_index = Vec::with_capacity(keep.len());
        let mut n = 0;
        for &k in &keep {
            new_index.push(k.then_some(n));
            n += k as usize;
        }
        for a in r.sessions.iter_mut().flat_map(|s| s.anomalies.iter_mut()) {
            if let Some(i) = a.finding {
                a.finding = new_index.get(i).copied().flatten();
            }
        }
        let mut k = keep.iter();
        r.anomalies.retain(|_| k.next().copied().unwrap_or(true));
    }

    /// The asked session ids that no session of `r` has (for "no such session").
    pub fn missing_ids(&self, seen: &[u64]) -> Vec<u64> {
        self.sessions
            .iter()
            .copied()
            .filter(|id| !seen.contains(id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::documented_report;

    #[test]
    fn by_each_criterion() {
        let r = documented_report();
        let s = &r.sessions[0];
        let f = |f: Filter| f.matches(s);
        assert!(f(Filter::default()));
        assert!(f(Filter {
            sessions: vec![s.id],
            ..Default::default()
        }));
        assert!(!f(Filter {
            sessions: vec![s.id + 100],
            ..Default::default()
        }));
        assert!(f(Filter {
            hosts: vec![s.server.ip],
            ..Default::default()
        }));
        assert!(!f(Filter {
            hosts: vec!["192.0.2.99".parse().unwrap()],
            ..Default::default()
        }));
        let user = s.user.clone().unwrap();
        assert!(f(Filter {
            users: vec![user],
            ..Default::default()
        }));
        assert!(!f(Filter {
            users: vec!["nobody-here".into()],
            ..Default::default()
        }));
        assert!(f(Filter {
            since: Some(s.start.ts),
            ..Default::default()
        }));
        assert!(!f(Filter {
            since: Some(Timestamp(s.end.ts.0 + 1)),
            ..Default::default()
        }));
        assert!(!f(Filter {
            until: Some(Timestamp(s.start.ts.0 - 1)),
            ..Default::default()
        }));
    }

    #[test]
    fn rfc3339() {
        assert_eq!(
            parse_time("1970-01-01T00:00:01Z").unwrap(),
            Timestamp(1_000_000_000)
        );
        assert_eq!(
            parse_time("1970-01-01T02:00:01.5+02:00").unwrap(),
            Timestamp(1_500_000_000)
        );
        assert!(parse_time("yesterday").is_err());
    }
}
