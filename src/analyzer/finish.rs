//! The end of the capture: finish every connection and session, settle final ids and
//! the references of cross-session findings, place untied transfers, build the Report.

use super::*;

impl<'a> Analyzer<'a> {
    /// [`Analyzer::finish`], and the connections of the sessions named in
    /// [`Analyzer::collect_connections`], in the order they ended.
    pub fn finish_with_connections(self) -> (Report, Vec<ConnSpan>) {
        let (r, spans, _) = self.finish_all_parts();
        (r, spans)
    }

    /// The end of the capture, with the trace of a split analysis (when it has one).
    #[allow(clippy::type_complexity)]
    pub(super) fn finish_all_parts(
        mut self,
    ) -> (Report, Vec<ConnSpan>, Option<Box<crate::shard::Trace>>) {
        self.decoder.finish();
        self.tcp.finish_all(&mut self.ftp);
        let ids: Vec<u64> = {
            let mut v: Vec<u64> = self.ftp.sessions.keys().copied().collect();
            v.sort_unstable();
            v
        };
        for id in ids {
            if let Some(s) = self.ftp.sessions.get_mut(&id) {
                s.capture_ended();
            }
            self.ftp.maybe_finish(id, true);
        }
        // Every reservation is decided by now; whatever still waits goes out.
        while !self.ftp.held.is_empty() {
            self.ftp.release_held();
            if !self.ftp.held.is_empty() && self.ftp.ids.force_oldest().is_none() {
                break;
            }
        }
        let ds = self.decoder.stats();
        let mut f = self.ftp;
        f.stats.tcp_connections = self.tcp.connections_seen();
        // Bounds reached: each counted in `stats.limits` and stated once in a finding.
        use model::Limit as L;
        let expectations = f.stats.limits.get(&L::MaxExpectationsTotal).copied();
        let reached = [
            (
                L::MaxExpectationsTotal,
                expectations.unwrap_or(0),
                format!("announced data ports forgotten, the oldest, to keep at most {} waiting (a later connection to one is not tied by its announcement)", f.expect.limits().total),
            ),
            (
                L::MaxSessions,
                f.sessions_left_out,
                format!("finished sessions left out of the report, the oldest, to keep at most {} (the counts include them)", f.opts.max_sessions),
            ),
            (
                L::MaxFailurePairs,
                f.failures.evicted(),
                format!("(client, server) pairs' failed logins forgotten, the least recently seen, to keep at most {} tallied (brute forcing spread wider may go unreported)", f.failures.limits().pairs),
            ),
            (
                L::MaxSessionHosts,
                f.session_hosts_full,
                format!("sessions' host pairs not remembered, to keep at most {} (a data connection between those hosts that no announcement ties is reported untied, not in their session)", f.max_session_hosts),
            ),
            (
                L::MaxHashJobs,
                f.hasher.as_ref().map_or(0, Hasher::refused),
                format!("data connections not hashed (no sha256), to hash at most {} at once", crate::digest::MAX_JOBS),
            ),
            (
                L::MaxConnections,
                self.tcp.evictions(),
                format!("TCP connections finished early, the least recently active, to keep at most {} tracked", self.tcp.max_connections()),
            ),
            (
                L::MaxLingeringConnections,
                self.tcp.lingering_forgotten(),
                format!("finished TCP connections forgotten before their minute was out, the least recently active, to keep at most {} (a late packet of one counts as a new connection)", self.tcp.max_lingering()),
            ),
            (
                L::MaxClosedIsns,
                self.tcp.closed_isns_forgotten(),
                format!("closed TCP connections' client ISNs forgotten before their two hours were out, the oldest, to keep at most {} (a replay of one counts as a new connection)", self.tcp.max_closed_isns()),
            ),
        ];
        for (limit, n, what) in reached {
            if n > 0 {
                f.stats.limits.insert(limit, n);
                let detail = format!("{}: {n} {what}", limit.as_str());
                f.anomalies.push(limit_finding(f.last_close, detail));
            }
        }

        f.stats.reordered_segments = self.tcp.reordered_segments();
        f.stats.reorder_window_expiries = self.tcp.reorder_expiries();
        f.stats.reassembly_buffer_giveups = self.tcp.buffer_giveups();
        f.stats.ip_fragments = ds.fragments;
        f.stats.ip_reassembled = ds.reassembled;
        let dups = self.tcp.duplicates();
        f.stats.duplicate_syns = dups.syns;
        f.stats.duplicate_segments = dups.segments;
        let (ftp_probes, scans, limits) = std::mem::take(&mut f.probes).finish();
        f.stats.ftp_port_probes = ftp_probes;
        for sc in &scans {
            f.anomalies.push(port_scan_finding(sc));
        }
        f.stats.port_scans = scans;
        let late = f.late_sessions;
        for detail in limits.into_iter().chain((late > 0).then(|| {
            format!(
                "{late} sessions on FTP ports recognised after their id was given up (a bound on held sessions): numbered after later sessions in JSONL"
            )
        })) {
            f.anomalies.push(Anomaly {
                ts: Time::new(f.last_close, 0),
                kind: model::AnomalyKind::ProbeLimit,
                detail,
                sessions: Vec::new(), finding: None });
        }
        f.stats.undecoded_packets = ds.undecoded;
        f.stats.undecoded = self
            .decoder
            .undecoded()
            .by_count()
            .into_iter()
            .map(|(cause, packets)| model::UndecodedCause { cause, packets })
            .collect();
        let mut sessions: Vec<model::Session> = std::mem::take(&mut f.done).into();
        if let Some(d) = f.doc.as_mut() {
            // The streamed document's sessions still waiting: the rest of it, in id order.
            sessions.extend(d.take_pending());
        }
        // Every time with the capture's final precision.
        let digits = f.digits;
        for a in f.anomalies.iter_mut() {
            a.ts.digits = digits;
        }
        for c in f.conn_list.iter_mut() {
            c.start.digits = digits;
            c.end.digits = digits;
        }
        for sc in f.stats.port_scans.iter_mut() {
            sc.first.digits = digits;
            sc.last.digits = digits;
        }
        for s in sessions.iter_mut() {
            s.set_time_digits(digits);
        }
        // Top-level findings name sessions by their final ids.
        for a in f.anomalies.iter_mut() {
            for x in a.sessions.iter_mut() {
                *x = f.final_ids.get(*x).unwrap_or(*x);
            }
        }
        for s in sessions.iter_mut() {
            for a in s.anomalies.iter_mut() {
                for x in a.sessions.iter_mut() {
                    *x = f.final_ids.get(*x).unwrap_or(*x);
                }
            }
        }
        // Cross-session findings stand once at top level; every session they involve
        // refers to them by index (`ref`), never with a copy of their session list.
        let by_id: HashMap<u64, usize, FastState> = sessions
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id, i))
            .collect();
        for (i, a) in f.anomalies.iter().enumerate() {
            for id in &a.sessions {
                let Some(s) = by_id.get(id).map(|&k| &mut sessions[k]) else {
                    continue;
                };
                match s
                    .anomalies
                    .iter_mut()
                    .find(|x| x.finding == Some(i) || (x.kind == a.kind && x.detail == a.detail))
                {
                    // A reference written early (JSONL) says the finding's final detail.
                    Some(x) => *x = a.reference(i),
                    None => s.anomalies.push(a.reference(i)),
                }
            }
        }
        // Ids were given once, when each session was recognised (every format agrees).
        sessions.sort_by_key(|s| s.id);
        // Connections with payload no session took: untied data connections when they look
        // like FTP data, standing in the session of their hosts when there is one.
        let mut untied_transfers = Vec::new();
        for mut u in std::mem::take(&mut f.untied) {
            if !f.looks_like_data(u.ends.0, u.ends.1) {
                f.stats.other_connections += 1;
                continue;
            }
            f.count_untied_data(&mut u);
            let id = f
                .session_hosts
                .get(&u.hosts)
                .and_then(|&old| f.final_ids.get(old));
            match id.and_then(|id| sessions.iter_mut().find(|s| s.id == id)) {
                Some(s) => place_untied(s, u),
                None => {
                    if let Some(d) = f.doc.as_mut().filter(|_| id.is_some()) {
                        // Its session was written before it ended (streamed document).
                        d.untied_late += 1;
                    }
                    untied_transfers.push(u.t)
                }
            }
        }
        if let Some(d) = f.doc.take() {
            if d.forced > 0 {
                let n = d.forced;
                f.stats.limits.insert(model::Limit::MaxDocumentSessions, n);
                let detail = format!(
                    "max_document_sessions: {n} sessions written to the JSON document before they were final or out of id order, to hold at most {} finished sessions",
                    d.max_held()
                );
                f.anomalies.push(limit_finding(f.last_close, detail));
            }
            if d.untied_late > 0 {
                let n = d.untied_late;
                f.stats.limits.insert(model::Limit::UntiedAfterSession, n);
                let detail = format!(
                    "untied_after_session: {n} untied data connections ended after their hosts' session was written to the JSON document: listed in untied_transfers"
                );
                f.anomalies.push(limit_finding(f.last_close, detail));
            }
        }
        // Stable, through a sorted list of ids: each (large) entry moved once.
        f.conn_list.sort_by_cached_key(|c| c.id);
        let extract = f.opts.extract.as_ref().map(|dir| {
            let mut sum = match f.carver.take() {
                Some(c) => c.finish(),
                None => carve::Summary::default(),
            };
            sum.errors.splice(0..0, f.carve_errors.drain(..));
            model::ExtractSummary {
                dir: dir.display().to_string(),
                manifest: (!sum.manifest.as_os_str().is_empty())
                    .then(|| sum.manifest.display().to_string()),
                files: sum.files,
                bytes: sum.bytes,
                errors: sum.errors,
            }
        });
        let mut spans = std::mem::take(&mut f.spans);
        for c in spans.iter_mut() {
            c.session = f.final_ids.get(c.session).unwrap_or(c.session);
        }
        spans.retain(|c| f.collect.contains(&c.session));
        spans.truncate(MAX_COLLECTED_CONNECTIONS);
        let mut trace = f.trace.take();
        if let Some(t) = trace.as_mut() {
            t.forced_ids = f.ids.forced();
            t.late_sessions = f.late_sessions;
            t.session_hosts = f.session_hosts.len();
            t.last_close = f.last_close;
            t.max_connections = self.tcp.max_connections();
            t.max_lingering = self.tcp.max_lingering();
            t.max_closed_isns = self.tcp.max_closed_isns();
            t.max_buffered = self.tcp.max_buffered();
            t.max_expectations = f.expect.limits().total;
            t.max_failure_pairs = f.failures.limits().pairs;
            t.failure_timeout_ns = f.failures.limits().timeout_ns;
        }
        let report = Report {
            extract,
            schema: "ftptrace/1",
            sessions,
            anomalies: f.anomalies,
            stats: f.stats,
            tcp_connections: f.conn_list,
            errors: f.errors,
            untied_transfers,
        };
        (report, spans, trace)
    }
}

pub(crate) fn port_scan_finding(sc: &model::PortScan) -> Anomaly {
    let targets: Vec<String> = sc.targets.iter().map(|t| t.to_string()).collect();
    Anomaly {
        ts: sc.first,
        kind: model::AnomalyKind::PortScan,
        detail: format!(
            "port scan from {}: {} connection attempts without payload ({} to FTP ports) to {} over {:.3} s",
            sc.source,
            sc.probes,
            sc.ftp_port_probes,
            targets.join(", "),
            sc.last.secs_since(sc.first),
        ),
        sessions: Vec::new(), finding: None }
}

/// A `limit_reached` finding over the whole capture, stamped at the last connection's end.
fn limit_finding(at: Timestamp, detail: String) -> Anomaly {
    Anomaly {
        ts: Time::new(at, 0),
        kind: model::AnomalyKind::LimitReached,
        detail,
        sessions: Vec::new(),
        finding: None,
    }
}
