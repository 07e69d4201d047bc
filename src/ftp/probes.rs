//! Connections that never carried a byte of payload: probes of FTP ports counted per
//! server, and many probes from one source reported as a port scan.

use crate::capture::Timestamp;
use crate::model::{Endpoint, FtpPortProbes, PortScan, ServerProbes, Time};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// Most servers listed with their own probe count (all are in the total).
pub const MAX_PROBE_SERVERS: usize = 1024;
/// Most probing sources followed at once; probes from further sources are only counted.
pub const MAX_SCAN_SOURCES: usize = 16_384;
/// Probes from one source (to any host and port) that make a `port_scan` finding.
pub const PORT_SCAN_PROBES: u64 = 10;
/// A source that sends no probe for this long (capture time) ends its scan; its next
/// probe starts another.
pub const PORT_SCAN_IDLE_NS: i64 = 600 * 1_000_000_000;
/// Most targets named in one scan (all probes are counted).
pub const MAX_SCAN_TARGETS: usize = 8;
/// Most port scans reported; further ones are counted.
pub const MAX_PORT_SCANS: usize = 1024;

/// One source's probes so far.
#[derive(Debug)]
struct Scan {
    first: Timestamp,
    last: Timestamp,
    probes: u64,
    ftp_port_probes: u64,
    targets: Vec<IpAddr>,
}

/// What probes were seen; bounded by the limits above.
#[derive(Debug, Default)]
pub struct ProbeBook {
    servers: HashMap<SocketAddr, u64>,
    total: u64,
    /// Probes to servers beyond [`MAX_PROBE_SERVERS`].
    unlisted: u64,
    sources: HashMap<IpAddr, Scan>,
    /// Probes from sources beyond [`MAX_SCAN_SOURCES`].
    untracked: u64,
    scans: Vec<PortScan>,
    /// Scans beyond [`MAX_PORT_SCANS`].
    scans_dropped: u64,
}

impl ProbeBook {
    /// A connection from `source` to `target` (`start`..`end`) carried no payload;
    /// `ftp_port` when `target` is an FTP control port.
    pub fn probe(
        &mut self,
        source: IpAddr,
        target: SocketAddr,
        start: Timestamp,
        end: Timestamp,
        ftp_port: bool,
    ) {
        if ftp_port {
            self.total += 1;
            if let Some(n) = self.servers.get_mut(&target) {
                *n += 1;
            } else if self.servers.len() < MAX_PROBE_SERVERS {
                self.servers.insert(target, 1);
            } else {
                self.unlisted += 1;
            }
        }
        if let Some(s) = self.sources.get(&source) {
            if start.0.saturating_sub(s.last.0) > PORT_SCAN_IDLE_NS {
                let s = self.sources.remove(&source).expect("present");
                self.close(source, s);
            }
        }
        if !self.sources.contains_key(&source) && self.sources.len() >= MAX_SCAN_SOURCES {
            self.untracked += 1;
            return;
        }
        let s = self.sources.entry(source).or_insert(Scan {
            first: start,
            last: end,
            probes: 0,
            ftp_port_probes: 0,
            targets: Vec::new(),
        });
        s.probes += 1;
        s.ftp_port_probes += u64::from(ftp_port);
        s.first = s.first.min(start);
        s.last = s.last.max(end);
        if s.targets.len() < MAX_SCAN_TARGETS && !s.targets.contains(&target.ip()) {
            s.targets.push(target.ip());
        }
    }

    fn close(&mut self, source: IpAddr, s: Scan) {
        if s.probes < PORT_SCAN_PROBES {
            return;
        }
        if self.scans.len() >= MAX_PORT_SCANS {
            self.scans_dropped += 1;
            return;
        }
        self.scans.push(PortScan {
            source,
            targets: s.targets,
            probes: s.probes,
            ftp_port_probes: s.ftp_port_probes,
            first: Time::new(s.first, 0),
            last: Time::new(s.last, 0),
        });
    }

    /// End of capture: the probe counts, the scans in order of their first probe, and a
    /// line for each limit that was hit.
    pub fn finish(mut self) -> (FtpPortProbes, Vec<PortScan>, Vec<String>) {
        let open: Vec<(IpAddr, Scan)> = self.sources.drain().collect();
        for (src, s) in open {
            self.close(src, s);
        }
        self.scans.sort_by_key(|s| (s.first, s.source));
        let mut servers: Vec<ServerProbes> = self
            .servers
            .iter()
            .map(|(a, n)| ServerProbes {
                server: Endpoint {
                    ip: a.ip(),
                    port: a.port(),
                },
                probes: *n,
            })
            .collect();
        servers.sort_by(|a, b| {
            (b.probes, &a.server.ip, a.server.port).cmp(&(a.probes, &b.server.ip, b.server.port))
        });
        let mut limits = Vec::new();
        if self.unlisted > 0 {
            limits.push(format!(
                "{} FTP-port probes to servers beyond the {MAX_PROBE_SERVERS} listed",
                self.unlisted
            ));
        }
        if self.untracked > 0 {
            limits.push(format!(
                "{} probes from sources beyond the {MAX_SCAN_SOURCES} followed for port scans",
                self.untracked
            ));
        }
        if self.scans_dropped > 0 {
            limits.push(format!(
                "{} port scans beyond the {MAX_PORT_SCANS} reported",
                self.scans_dropped
            ));
        }
        (
            FtpPortProbes {
                total: self.total,
                servers,
            },
            self.scans,
            limits,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }
    const SEC: i64 = 1_000_000_000;

    #[test]
    fn probes_counted_per_server_and_many_from_one_source_are_a_scan() {
        let mut b = ProbeBook::default();
        let scanner: IpAddr = "10.0.0.9".parse().unwrap();
        for p in 1..=20u16 {
            let t = Timestamp(i64::from(p) * SEC);
            b.probe(scanner, sa(&format!("10.0.0.1:{p}")), t, t, p == 21);
        }
        b.probe(
            scanner,
            sa("10.0.0.1:21"),
            Timestamp(30 * SEC),
            Timestamp(31 * SEC),
            true,
        );
        // Two probes from elsewhere: counted, not a scan.
        for _ in 0..2 {
            b.probe(
                "10.0.0.7".parse().unwrap(),
                sa("10.0.0.2:21"),
                Timestamp(0),
                Timestamp(0),
                true,
            );
        }
        let (ftp, scans, limits) = b.finish();
        assert_eq!(ftp.total, 3);
        assert_eq!(ftp.servers.len(), 2);
        assert_eq!((ftp.servers[0].server.port, ftp.servers[0].probes), (21, 2));
        assert_eq!(scans.len(), 1);
        let s = &scans[0];
        assert_eq!(s.source, scanner);
        assert_eq!((s.probes, s.ftp_port_probes), (21, 1));
        assert_eq!(
            (s.first.ts, s.last.ts),
            (Timestamp(SEC), Timestamp(31 * SEC))
        );
        assert_eq!(s.targets, vec!["10.0.0.1".parse::<IpAddr>().unwrap()]);
        assert!(limits.is_empty());
    }

    #[test]
    fn a_quiet_source_starts_a_new_scan() {
        let mut b = ProbeBook::default();
        let src: IpAddr = "10.0.0.9".parse().unwrap();
        for round in [0, 10_000] {
            for p in 0..(PORT_SCAN_PROBES as u16) {
                let t = Timestamp((round + i64::from(p)) * SEC);
                b.probe(src, sa(&format!("10.0.0.1:{}", 1000 + p)), t, t, false);
            }
        }
        let (_, scans, _) = b.finish();
        assert_eq!(scans.len(), 2);
        assert!(scans.iter().all(|s| s.probes == PORT_SCAN_PROBES));
    }

    #[test]
    fn below_the_threshold_is_no_scan() {
        let mut b = ProbeBook::default();
        for p in 0..(PORT_SCAN_PROBES - 1) {
            b.probe(
                "10.0.0.9".parse().unwrap(),
                sa("10.0.0.1:21"),
                Timestamp(p as i64),
                Timestamp(p as i64),
                true,
            );
        }
        let (ftp, scans, _) = b.finish();
        assert_eq!(ftp.total, PORT_SCAN_PROBES - 1);
        assert!(scans.is_empty());
    }
}
