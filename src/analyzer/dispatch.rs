//! Role dispatch: the TCP tracker's callbacks (a connection opens, has an event, carries
//! bytes, closes) sent to the role each connection has: control, data, probe or loose.

use super::*;

impl<'a> TcpHandler for Ftp<'a> {
    fn on_open(&mut self, meta: &ConnMeta) -> (Interest, bool) {
        if let Some(t) = self.trace.as_mut() {
            t.opened(meta.id);
            // What `on_open` looks up among the expectations.
            t.look_up(meta.zone, meta.server);
            if !meta.saw_syn {
                t.look_up(meta.zone, meta.client);
            }
        }
        // A data connection some session announced?
        if let Some((sid, setup)) = self.expectation(meta.zone, meta.server) {
            if setup.mode == model::Mode::Passive && !self.fxp_listeners.contains(&meta.server) {
                if let Some(s) = self.sessions.get_mut(&sid) {
                    if meta.client.ip() != s.client().ip() {
                        s.hijack(meta.start, meta.client, meta.server);
                    }
                }
            }
            self.expect.used(meta.zone, meta.server);
            if !self.new_data(meta, sid, Some(setup), false) {
                return (Interest::Ignore, false);
            }
            return (Interest::Data, false);
        }
        if !meta.saw_syn {
            if let Some((sid, setup)) = self.expectation(meta.zone, meta.client) {
                self.expect.used(meta.zone, meta.client);
                if !self.new_data(meta, sid, Some(setup), true) {
                    return (Interest::Ignore, true);
                }
                return (Interest::Data, true);
            }
        }
        if self.is_ftp_port(meta.server.port()) {
            self.pending_control(meta, true);
            return (Interest::Data, false);
        }
        if !meta.saw_syn && self.is_ftp_port(meta.client.port()) {
            self.pending_control(meta, false);
            return (Interest::Data, false);
        }
        self.roles.insert(
            meta.id,
            Role::Probe(Box::new(Probe {
                buf: [Vec::new(), Vec::new()],
                events: Vec::new(),
                reserved: None,
            })),
        );
        self.doc_probe_opened(meta);
        (Interest::Data, false)
    }

    fn on_event(&mut self, meta: &ConnMeta, ts: Timestamp, dir: Dir, ev: TcpEvent) -> Interest {
        self.tcp_event(meta, ts, dir, ev);
        Interest::Data
    }

    fn on_data(
        &mut self,
        meta: &ConnMeta,
        ts: Timestamp,
        dir: Dir,
        chunk: Chunk<'_>,
        new_segment: bool,
    ) -> Interest {
        match self.roles.get_mut(&meta.id) {
            Some(Role::Control {
                session,
                client_is_tcp_client,
            }) => {
                let side = Self::side(*client_is_tcp_client, dir);
                let id = *session;
                if let Some(s) = self.sessions.get_mut(&id) {
                    match chunk {
                        // Each line keeps the time of its own packet.
                        Chunk::Data { bytes, ts: at, .. } => s.control_data(at, side, bytes),
                        Chunk::Gap { offset, len } => {
                            self.stats.capture_gaps += 1;
                            s.control_gap(ts, side, offset, len);
                        }
                    }
                    if s.has_new_setups() {
                        self.drain_setups(id, meta.zone);
                    }
                }
                Interest::Data
            }
            Some(Role::Data(_)) => {
                self.data_chunk(meta, ts, dir, chunk, new_segment);
                Interest::Data
            }
            Some(Role::Probe(p)) if p.reserved.is_some() => {
                // Any byte (or a gap: bytes the capture missed) makes it a session.
                if matches!(chunk, Chunk::Data { bytes, .. } if bytes.is_empty()) {
                    return Interest::Data;
                }
                self.promote(meta);
                self.on_data(meta, ts, dir, chunk, new_segment)
            }
            // A connection to the DNS port becomes DNS over TCP with its first byte (until
            // then it is a probe like any other: a scan of port 53 stays a scan).
            Some(Role::Probe(p))
                if p.buf.iter().all(Vec::is_empty)
                    && matches!(chunk, Chunk::Data { bytes, .. } if !bytes.is_empty())
                    && is_dns(meta) =>
            {
                self.roles.insert(meta.id, Role::Dns(Box::default()));
                if let Some(t) = self.trace.as_mut() {
                    t.dns_over_tcp += 1;
                }
                self.on_data(meta, ts, dir, chunk, new_segment)
            }
            Some(Role::Probe(p)) => {
                let Chunk::Data { offset, bytes, .. } = chunk else {
                    // A gap before we knew what this is: not FTP control.
                    self.roles.remove(&meta.id);
                    return self.make_loose(meta);
                };
                let b = &mut p.buf[dir.idx()];
                let room = PROBE_BYTES.saturating_sub(b.len());
                let taken = bytes.len().min(room);
                b.extend_from_slice(&bytes[..taken]);
                let interest = self.classify(meta, ts);
                // What the probe could not hold goes to the role the connection has now.
                if taken < bytes.len() && !matches!(self.roles.get(&meta.id), Some(Role::Probe(_)))
                {
                    let rest = Chunk::Data {
                        offset: offset + taken as u64,
                        bytes: &bytes[taken..],
                        ts,
                        new_segment: false,
                    };
                    return self.on_data(meta, ts, dir, rest, false);
                }
                interest
            }
            Some(Role::Dns(streams)) => {
                let (src, dst) = match dir {
                    Dir::ToServer => (meta.client, meta.server),
                    Dir::ToClient => (meta.server, meta.client),
                };
                let (msgs, at) = match chunk {
                    Chunk::Data { bytes, ts: at, .. } => (streams[dir.idx()].push(bytes), at),
                    Chunk::Gap { .. } => {
                        streams[dir.idx()].gap();
                        (Vec::new(), ts)
                    }
                };
                for m in msgs {
                    let d = crate::net::DnsDatagram {
                        src: src.ip(),
                        dst: dst.ip(),
                        sport: src.port(),
                        dport: dst.port(),
                        payload: &m,
                    };
                    self.dns(at, &d);
                }
                Interest::Data
            }
            Some(Role::Loose(l)) => {
                if let Chunk::Data { bytes, .. } = chunk {
                    l.segments += new_segment as u64;
                    if let (Some(j), Some(h)) = (l.hash.as_ref(), self.hasher.as_mut()) {
                        h.update(j, dir.idx(), bytes);
                    }
                }
                if l.hash.is_some() {
                    Interest::Data
                } else {
                    Interest::Ignore
                }
            }
            None => Interest::Ignore,
        }
    }

    fn on_close(&mut self, meta: &ConnMeta, sum: &ConnSummary) {
        self.last_close = self.last_close.max(sum.end);
        if let Some(t) = self.trace.as_mut() {
            t.cur = t.key(meta.id);
            t.closes.push((meta.id, t.cur));
        }
        if let Some(Role::Probe(p)) = self.roles.get(&meta.id) {
            // Never classified: a short data connection of a TLS session between these hosts?
            // (Unless a cleartext session between them waits for one and this is not TLS.)
            let tls_records = p.buf.iter().any(|b| tls::record_header(b).is_some());
            let tie = if tls_records
                || self
                    .session_wanting_data(meta.client.ip(), meta.server.ip())
                    .is_none()
            {
                self.tls_session_for(meta)
            } else {
                None
            };
            if let Some(tie) = tie {
                if !self.is_ftp_port(meta.server.port()) {
                    self.probe_to_tls_data(meta, sum.end, tie);
                }
            }
        }
        let role = self.roles.remove(&meta.id);
        let close = match sum.close {
            CloseKind::Fin => Close::Fin,
            CloseKind::Rst => Close::Rst,
            CloseKind::Open => Close::Open,
        };
        let mut role_name = None;
        // (session, is control) when the connection belongs to a session.
        let mut owner = None;
        match role {
            Some(Role::Control { session, .. }) => {
                role_name = Some(model::ConnRole::Ftp);
                self.stats.control_connections += 1;
                owner = Some((session, true));
                if let Some(s) = self.sessions.get_mut(&session) {
                    s.end_control(sum.end, close);
                }
                self.drain_setups(session, meta.zone);
                self.login_failures(session);
                self.maybe_finish(session, false);
            }
            Some(Role::Data(mut d)) => {
                role_name = Some(model::ConnRole::FtpData);
                if d.tied {
                    self.stats.tied_data_connections += 1;
                } else {
                    self.stats.untied_data_connections += 1;
                }
                owner = Some((d.session, false));
                if let Some(s) = self.sessions.get_mut(&d.session) {
                    let bytes = sum.seq_bytes[0] + sum.seq_bytes[1];
                    let captured = sum.captured_bytes[0] + sum.captured_bytes[1];
                    let ended = sum.close != CloseKind::Open;
                    s.close_data(d.transfer, sum.end, bytes, captured, ended);
                    s.data_close_kind(d.transfer, close);
                    if let Some(r) = d.records.as_ref() {
                        let (to_server, to_client) = (r[0].app_bytes, r[1].app_bytes);
                        let (from_client, from_server) = if d.connector_is_client {
                            (to_server, to_client)
                        } else {
                            (to_client, to_server)
                        };
                        s.data_tls_app_bytes(d.transfer, from_client, from_server);
                    }
                    if let Some(l) = d.listing.take() {
                        let read = listing::read(l.style, &l.bytes, l.cut);
                        s.data_listing(d.transfer, read);
                    }
                    let main = if sum.seq_bytes[1] >= sum.seq_bytes[0] {
                        1
                    } else {
                        0
                    };
                    let digests = d.hash.take().and_then(|j| self.hasher.as_mut()?.finish(j));
                    if let Some(dg) = digests {
                        s.data_digest(d.transfer, hex(&dg[main]));
                    }
                    if let Some(c) = self.carver.as_mut() {
                        for (i, p) in d.pieces.iter_mut().enumerate() {
                            match p.take() {
                                Some(p) if i == main => {
                                    self.carved.insert((d.session, d.transfer), p);
                                }
                                Some(p) => c.discard(p),
                                None => {}
                            }
                        }
                    }
                }
                self.maybe_finish(d.session, false);
            }
            Some(Role::Probe(p)) if p.reserved.is_some() => {
                // Never carried a byte: a probe of the FTP port, not a session.
                self.stats.empty_connections += 1;
                let r = p.reserved.expect("checked");
                self.ids.give_up(r.id);
                let (client, server) = if r.client_is_tcp_client {
                    (meta.client, meta.server)
                } else {
                    (meta.server, meta.client)
                };
                self.probes
                    .probe(client.ip(), server, meta.start, sum.end, true);
                if let Some(t) = self.trace.as_mut() {
                    t.probes
                        .push((t.cur, client.ip(), server, meta.start, sum.end, true));
                }
                self.release_held();
            }
            Some(Role::Probe(p)) => {
                // Never spoke a full line: an (almost) empty data connection of a session?
                let payload = sum.seq_bytes[0] + sum.seq_bytes[1] > 0;
                let no_payload = !payload;
                let sid = self.session_for_data(meta.client.ip(), meta.server.ip());
                let wants = sid
                    .and_then(|id| self.sessions.get(&id))
                    .is_some_and(|s| s.wants_data());
                match sid {
                    Some(sid)
                        if (payload || wants)
                            && !self.is_ftp_port(meta.server.port())
                            && could_be_data(meta)
                            && self.new_data(meta, sid, None, false) =>
                    {
                        self.stats.untied_data_connections += 1;
                        if let Some(s) = self.sessions.get_mut(&sid) {
                            let t = s.transfer_count() - 1;
                            s.close_data(
                                t,
                                sum.end,
                                sum.seq_bytes[0] + sum.seq_bytes[1],
                                sum.captured_bytes[0] + sum.captured_bytes[1],
                                sum.close != CloseKind::Open,
                            );
                        }
                        self.roles.remove(&meta.id);
                        role_name = Some(model::ConnRole::FtpData);
                        owner = Some((sid, false));
                    }
                    _ if payload => {
                        // The probe held the whole payload (it never reached its limit).
                        let main = if sum.seq_bytes[0] > sum.seq_bytes[1] {
                            0
                        } else {
                            1
                        };
                        let whole = sum.captured_bytes[main] == p.buf[main].len() as u64;
                        let mut h = (self.opts.hash && whole).then(Sha256::new);
                        if let Some(h) = h.as_mut() {
                            h.update(&p.buf[main]);
                        }
                        let segs = p.buf.iter().filter(|b| !b.is_empty()).count() as u64;
                        role_name = Some(model::ConnRole::Other);
                        if !self.untied_transfer(meta, sum, h.map(|h| hex(&h.finalize())), segs) {
                            self.stats.other_connections += 1;
                        }
                    }
                    _ => self.stats.empty_connections += 1,
                }
                if role_name.is_none() && no_payload && meta.saw_syn {
                    self.probes
                        .probe(meta.client.ip(), meta.server, meta.start, sum.end, false);
                    if let Some(t) = self.trace.as_mut() {
                        t.probes.push((
                            t.cur,
                            meta.client.ip(),
                            meta.server,
                            meta.start,
                            sum.end,
                            false,
                        ));
                    }
                }
            }
            Some(Role::Loose(l)) => {
                let payload = sum.seq_bytes[0] + sum.seq_bytes[1] > 0;
                if payload {
                    let main = if sum.seq_bytes[0] > sum.seq_bytes[1] {
                        0
                    } else {
                        1
                    };
                    let hash = l
                        .hash
                        .and_then(|j| self.hasher.as_mut()?.finish(j))
                        .map(|dg| hex(&dg[main]));
                    role_name = Some(model::ConnRole::Other);
                    if !self.untied_transfer(meta, sum, hash, l.segments) {
                        self.stats.other_connections += 1;
                    }
                } else {
                    self.stats.empty_connections += 1;
                }
            }
            Some(Role::Dns(_)) => {
                role_name = Some(model::ConnRole::Dns);
                self.stats.other_connections += 1;
            }
            None => self.stats.empty_connections += 1,
        }
        // Sessions are known here by their reserved ids: every session's connections are
        // kept while collecting, and the chosen ones picked by final id at the end.
        if let Some((session, control)) = owner.filter(|_| !self.collect.is_empty()) {
            if self.spans.len() == MAX_COLLECTED_CONNECTIONS {
                self.errors.push(format!(
                    "more than {MAX_COLLECTED_CONNECTIONS} connections in the chosen sessions; the rest are left out"
                ));
            }
            if self.spans.len() <= MAX_COLLECTED_CONNECTIONS {
                self.spans.push(ConnSpan {
                    session,
                    control,
                    client: meta.client,
                    server: meta.server,
                    start: meta.start,
                    end: sum.end,
                });
            }
        }
        if !self.opts.skip_tcp_connections && self.conn_list.len() < MAX_CONN_LIST {
            self.conn_list.push(model::TcpConnection {
                id: meta.id,
                client: ep(meta.client),
                server: ep(meta.server),
                start: Time::new(meta.start, self.digits),
                end: Time::new(sum.end, self.digits),
                packets: sum.packets,
                bytes_to_server: sum.seq_bytes[0],
                bytes_to_client: sum.seq_bytes[1],
                captured_to_server: sum.captured_bytes[0],
                captured_to_client: sum.captured_bytes[1],
                close,
                role: role_name,
            });
        }
        if self.doc.is_some() {
            self.doc_conn_closed(meta);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: [u8; 4] = [10, 0, 0, 2];
    const S: [u8; 4] = [10, 0, 0, 1];

    fn meta(id: ConnId, client: ([u8; 4], u16), server: ([u8; 4], u16), t: i64) -> ConnMeta {
        ConnMeta {
            id,
            client: SocketAddr::from(client),
            server: SocketAddr::from(server),
            saw_syn: true,
            start: Timestamp(t),
            zone: Zone::default(),
        }
    }

    fn data<'b>(bytes: &'b [u8], t: i64) -> Chunk<'b> {
        Chunk::Data {
            offset: 0,
            bytes,
            ts: Timestamp(t),
            new_segment: true,
        }
    }

    fn summary(end: i64, to_server: u64, to_client: u64) -> ConnSummary {
        ConnSummary {
            packets: 4,
            end: Timestamp(end),
            seq_bytes: [to_server, to_client],
            captured_bytes: [to_server, to_client],
            gaps: [0, 0],
            close: CloseKind::Fin,
        }
    }

    fn role(f: &Ftp<'_>, id: ConnId) -> &'static str {
        match f.roles.get(&id) {
            Some(Role::Control { .. }) => "control",
            Some(Role::Data(_)) => "data",
            Some(Role::Probe(p)) if p.reserved.is_some() => "pending control",
            Some(Role::Probe(_)) => "probe",
            Some(Role::Loose(_)) => "loose",
            Some(Role::Dns(_)) => "dns",
            None => "none",
        }
    }

    #[test]
    fn an_ftp_port_connection_is_pending_until_its_first_byte_then_control() {
        let mut an = Analyzer::new(Options::default(), None);
        let f = &mut an.ftp;
        let m = meta(1, (C, 40000), (S, 21), 10);
        assert_eq!(f.on_open(&m), (Interest::Data, false));
        assert_eq!(role(f, 1), "pending control");
        f.on_data(
            &m,
            Timestamp(11),
            Dir::ToClient,
            data(b"220 hi\r\n", 11),
            true,
        );
        assert_eq!(role(f, 1), "control");
        assert_eq!(f.stats.ftp_sessions, 1);
        f.on_close(&m, &summary(12, 0, 8));
        assert_eq!(role(f, 1), "none");
        let r = an.finish();
        assert_eq!(r.sessions.len(), 1);
        assert_eq!(r.stats.control_connections, 1);
    }

    #[test]
    fn host_pairs_beyond_their_bound_are_counted() {
        let mut an = Analyzer::new(Options::default(), None);
        let f = &mut an.ftp;
        f.max_session_hosts = 2;
        // Three clients, one of them twice: the third pair finds the table full.
        for (id, client) in [
            (1, [10, 0, 0, 2]),
            (2, [10, 0, 0, 3]),
            (3, [10, 0, 0, 2]),
            (4, [10, 0, 0, 4]),
        ] {
            let m = meta(id, (client, 40000 + id as u16), (S, 21), 10 * id as i64);
            f.on_open(&m);
            let t = 10 * id as i64 + 1;
            f.on_data(
                &m,
                Timestamp(t),
                Dir::ToClient,
                data(b"220 hi\r\n", t),
                true,
            );
            f.on_close(&m, &summary(t + 1, 0, 8));
        }
        let r = an.finish();
        assert_eq!(r.sessions.len(), 4);
        assert_eq!(
            r.stats.limits.get(&crate::model::Limit::MaxSessionHosts),
            Some(&1)
        );
        assert!(r
            .anomalies
            .iter()
            .any(|a| a.detail.starts_with("max_session_hosts: 1 ")));
    }

    #[test]
    fn an_ftp_port_connection_without_a_byte_is_a_probe_not_a_session() {
        let mut an = Analyzer::new(Options::default(), None);
        let f = &mut an.ftp;
        let m = meta(1, (C, 40000), (S, 21), 10);
        f.on_open(&m);
        f.on_close(&m, &summary(12, 0, 0));
        let r = an.finish();
        assert!(r.sessions.is_empty());
        assert_eq!(r.stats.ftp_port_probes.total, 1);
        assert_eq!(r.stats.empty_connections, 1);
    }

    #[test]
    fn a_connection_to_an_announced_port_is_that_sessions_data() {
        let mut an = Analyzer::new(Options::default(), None);
        let f = &mut an.ftp;
        let ctl = meta(1, (C, 40000), (S, 21), 10);
        f.on_open(&ctl);
        f.on_data(
            &ctl,
            Timestamp(11),
            Dir::ToClient,
            data(b"220 hi\r\n", 11),
            true,
        );
        f.on_data(
            &ctl,
            Timestamp(12),
            Dir::ToServer,
            data(b"PASV\r\n", 12),
            true,
        );
        let reply = b"227 Entering Passive Mode (10,0,0,1,195,80)\r\n";
        f.on_data(&ctl, Timestamp(13), Dir::ToClient, data(reply, 13), true);
        assert_eq!(f.expect.len(), 1);
        let d = meta(2, (C, 41000), (S, 50000), 14);
        assert_eq!(f.on_open(&d), (Interest::Data, false));
        assert_eq!(role(f, 2), "data");
        f.on_data(&d, Timestamp(15), Dir::ToClient, data(b"file", 15), true);
        f.on_close(&d, &summary(16, 0, 4));
        assert_eq!(f.stats.tied_data_connections, 1);
        // The session ends with its control connection; its expectations go with it.
        f.on_close(&ctl, &summary(17, 6, 60));
        assert!(f.expect.is_empty());
        let r = an.finish();
        assert_eq!(r.sessions[0].transfers.len(), 1);
        assert_eq!(r.sessions[0].transfers[0].bytes, Some(4));
    }

    #[test]
    fn bytes_that_are_not_ftp_make_a_loose_connection() {
        let mut an = Analyzer::new(Options::default(), None);
        let f = &mut an.ftp;
        let m = meta(1, (C, 40000), (S, 8080), 10);
        assert_eq!(f.on_open(&m), (Interest::Data, false));
        assert_eq!(role(f, 1), "probe");
        let get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let ok = b"HTTP/1.1 200 OK\r\n\r\n";
        // One side's line is not enough: the other may still greet like an FTP server.
        f.on_data(&m, Timestamp(11), Dir::ToServer, data(get, 11), true);
        assert_eq!(role(f, 1), "probe");
        // Without --hash nothing more is wanted of its payload.
        assert_eq!(
            f.on_data(&m, Timestamp(12), Dir::ToClient, data(ok, 12), true),
            Interest::Ignore
        );
        assert_eq!(role(f, 1), "loose");
        f.on_close(&m, &summary(13, get.len() as u64, ok.len() as u64));
        let r = an.finish();
        assert!(r.sessions.is_empty());
        assert_eq!(r.stats.other_connections, 1);
    }

    /// A control connection (C:40000 → S:21, connection 1) that was greeted; more lines
    /// from the client follow, each answered by the server's line after it.
    fn control_session(f: &mut Ftp<'_>, dialogue: &[(&[u8], &[u8])]) -> ConnMeta {
        let ctl = meta(1, (C, 40000), (S, 21), 10);
        f.on_open(&ctl);
        f.on_data(
            &ctl,
            Timestamp(11),
            Dir::ToClient,
            data(b"220 hi\r\n", 11),
            true,
        );
        for (i, (cmd, reply)) in dialogue.iter().enumerate() {
            let t = 12 + 2 * i as i64;
            f.on_data(&ctl, Timestamp(t), Dir::ToServer, data(cmd, t), true);
            f.on_data(
                &ctl,
                Timestamp(t + 1),
                Dir::ToClient,
                data(reply, t + 1),
                true,
            );
        }
        ctl
    }

    fn conn_role(f: &Ftp<'_>, id: ConnId) -> Option<&'static str> {
        f.conn_list
            .iter()
            .find(|c| c.id == id)
            .and_then(|c| c.role)
            .map(model::ConnRole::as_str)
    }

    #[test]
    fn a_greeting_on_another_port_makes_the_probe_a_control_connection() {
        let mut an = Analyzer::new(Options::default(), None);
        let f = &mut an.ftp;
        let m = meta(1, (C, 40000), (S, 2121), 10);
        assert_eq!(f.on_open(&m), (Interest::Data, false));
        assert_eq!(role(f, 1), "probe");
        let greeting = b"220 FTP server ready\r\n";
        f.on_data(&m, Timestamp(11), Dir::ToClient, data(greeting, 11), true);
        assert_eq!(role(f, 1), "control");
        f.on_close(&m, &summary(12, 0, greeting.len() as u64));
        assert_eq!(conn_role(f, 1), Some("ftp"));
        let r = an.finish();
        assert_eq!(r.sessions.len(), 1);
        assert_eq!(r.sessions[0].server.port, 2121);
    }

    #[test]
    fn a_server_connecting_to_an_active_announcement_is_tied_data() {
        let mut an = Analyzer::new(Options::default(), None);
        let f = &mut an.ftp;
        // PORT 10.0.0.2:41000.
        let ctl = control_session(f, &[(b"PORT 10,0,0,2,160,40\r\n", b"200 ok\r\n")]);
        let d = meta(2, (S, 20), (C, 41000), 20);
        assert_eq!(f.on_open(&d), (Interest::Data, false));
        assert_eq!(role(f, 2), "data");
        f.on_close(&d, &summary(21, 4, 0));
        assert_eq!(f.stats.tied_data_connections, 1);
        assert_eq!(conn_role(f, 2), Some("ftp-data"));
        f.on_close(&ctl, &summary(22, 30, 20));
        let r = an.finish();
        assert_eq!(r.sessions[0].transfers.len(), 1);
        assert_eq!(r.sessions[0].transfers[0].mode, model::Mode::Active);
    }

    #[test]
    fn a_data_connection_picked_up_backwards_is_turned_around() {
        let mut an = Analyzer::new(Options::default(), None);
        let f = &mut an.ftp;
        let reply: &[u8] = b"227 Entering Passive Mode (10,0,0,1,195,80)\r\n";
        control_session(f, &[(b"PASV\r\n", reply)]);
        // No SYN seen, and the tracker guessed the listener S:50000 as the client.
        let mut d = meta(2, (S, 50000), (C, 41000), 20);
        d.saw_syn = false;
        assert_eq!(f.on_open(&d), (Interest::Data, true));
        assert_eq!(role(f, 2), "data");
    }

    #[test]
    fn bytes_between_a_sessions_hosts_that_nobody_announced_are_its_untied_data() {
        let mut an = Analyzer::new(Options::default(), None);
        let f = &mut an.ftp;
        let ctl = control_session(f, &[]);
        let d = meta(2, (C, 41000), (S, 50000), 20);
        assert_eq!(f.on_open(&d), (Interest::Data, false));
        assert_eq!(role(f, 2), "probe");
        // No line: undecided until it closes.
        f.on_data(
            &d,
            Timestamp(21),
            Dir::ToClient,
            data(b"\x00\x01\x02\x03", 21),
            true,
        );
        assert_eq!(role(f, 2), "probe");
        f.on_close(&d, &summary(22, 0, 4));
        assert_eq!(role(f, 2), "none");
        assert_eq!(conn_role(f, 2), Some("ftp-data"));
        assert_eq!(f.stats.untied_data_connections, 1);
        assert_eq!(f.stats.unmatched_data_connections, 1);
        f.on_close(&ctl, &summary(23, 0, 8));
        let r = an.finish();
        assert_eq!(r.sessions[0].transfers.len(), 1);
        assert_eq!(r.sessions[0].transfers[0].match_, model::DataMatch::None);
    }

    #[test]
    fn bytes_between_hosts_without_a_session_are_another_connection() {
        let mut an = Analyzer::new(Options::default(), None);
        let f = &mut an.ftp;
        let d = meta(1, (C, 41000), (S, 50000), 20);
        f.on_open(&d);
        f.on_data(
            &d,
            Timestamp(21),
            Dir::ToClient,
            data(b"\x00\x01\x02\x03", 21),
            true,
        );
        f.on_close(&d, &summary(22, 0, 4));
        assert_eq!(conn_role(f, 1), Some("other"));
        assert_eq!(f.stats.untied_data_connections, 0);
        assert!(an.finish().sessions.is_empty());
    }

    #[test]
    fn a_connection_without_payload_is_empty() {
        let mut an = Analyzer::new(Options::default(), None);
        let f = &mut an.ftp;
        let m = meta(1, (C, 41000), (S, 8080), 10);
        f.on_open(&m);
        f.on_close(&m, &summary(12, 0, 0));
        assert_eq!(conn_role(f, 1), None);
        assert_eq!(f.stats.empty_connections, 1);
        assert_eq!(f.stats.other_connections, 0);
        let r = an.finish();
        assert!(r.sessions.is_empty());
        assert_eq!(r.stats.ftp_port_probes.total, 0, "not an FTP port");
    }
}
