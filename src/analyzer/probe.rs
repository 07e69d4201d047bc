//! Probing: a connection not yet known to be FTP keeps its first bytes and TCP events
//! until they tell what it is (a session, a data connection of a TLS session, neither),
//! then replays them through its new role.

use super::*;

impl<'a> Ftp<'a> {
    /// Whether a probe's bytes say "not FTP control" clearly enough to tie it to a TLS
    /// session now: TLS records from either side, a whole line that is not FTP, or a full
    /// probe buffer.
    pub(super) fn probe_is_data(p: &Probe) -> bool {
        p.buf.iter().any(|b| {
            tls::record_header(b).is_some()
                || b.len() >= PROBE_BYTES
                || b.iter().position(|&c| c == b'\n').is_some_and(|end| {
                    let line = &b[..end];
                    !parse::looks_like_greeting(line) && !parse::looks_like_client_opening(line)
                })
        })
    }

    /// Give a probed connection the data role in a TLS session and replay what the probe held.
    pub(super) fn probe_to_tls_data(
        &mut self,
        meta: &ConnMeta,
        ts: Timestamp,
        (sid, candidates): (u64, usize),
    ) {
        let Some(Role::Probe(p)) = self.roles.remove(&meta.id) else {
            return;
        };
        // Who connected tells the mode (Session::open_data).
        if !self.new_data_tied(meta, sid, None, false, true) {
            return;
        }
        if candidates > 1 {
            if let Some(s) = self.sessions.get_mut(&sid) {
                let t = s.transfer_count();
                s.anomaly(
                    meta.start,
                    model::AnomalyKind::TlsDataAmbiguous,
                    format!(
                        "data:{t} {} -> {} tied by time to the most recently active of {candidates} TLS sessions between these hosts",
                        meta.client, meta.server
                    ),
                );
            }
        }
        self.replay_probe(meta, ts, *p);
    }

    /// Replay what a probe held through the role its connection has now: its TCP events,
    /// then its bytes, the client's side first.
    pub(super) fn replay_probe(&mut self, meta: &ConnMeta, ts: Timestamp, p: Probe) {
        for (ts, dir, ev) in p.events {
            self.tcp_event(meta, ts, dir, ev);
        }
        for (bytes, dir) in p.buf.iter().zip([Dir::ToServer, Dir::ToClient]) {
            if !bytes.is_empty() {
                let chunk = Chunk::Data {
                    offset: 0,
                    bytes,
                    ts,
                    new_segment: true,
                };
                self.on_data(meta, ts, dir, chunk, true);
            }
        }
    }

    /// Decide from a connection's first bytes whether it speaks FTP control.
    pub(super) fn classify(&mut self, meta: &ConnMeta, ts: Timestamp) -> Interest {
        let Some(Role::Probe(p)) = self.roles.get(&meta.id) else {
            return Interest::Data;
        };
        let looks = |buf: &[u8], from_server: bool| -> Option<bool> {
            let end = buf.iter().position(|&b| b == b'\n')?;
            let line = &buf[..end];
            Some(if from_server {
                parse::looks_like_greeting(line)
            } else {
                parse::looks_like_client_opening(line)
            })
        };
        // [ToServer, ToClient]: which TCP side speaks like an FTP server or client?
        let verdicts = [
            (looks(&p.buf[0], false), looks(&p.buf[0], true)),
            (looks(&p.buf[1], false), looks(&p.buf[1], true)),
        ];
        let client_is_tcp_client = match verdicts {
            [(_, _), (_, Some(true))] | [(Some(true), _), _] => Some(true),
            [(_, Some(true)), _] | [_, (Some(true), _)] => Some(false),
            _ => None,
        };
        // Not FTP control, between the hosts of a TLS session: its data. A cleartext
        // session waiting for a data connection between the same hosts keeps cleartext ones.
        let tls_records = p.buf.iter().any(|b| tls::record_header(b).is_some());
        if client_is_tcp_client.is_none()
            && Self::probe_is_data(p)
            && (tls_records
                || self
                    .session_wanting_data(meta.client.ip(), meta.server.ip())
                    .is_none())
        {
            if let Some(tie) = self.tls_session_for(meta) {
                self.probe_to_tls_data(meta, ts, tie);
                return Interest::Data;
            }
        }
        // A side that sent PROBE_BYTES without a line is not speaking FTP control.
        let full = p.buf.iter().any(|b| b.len() >= PROBE_BYTES);
        let undecided = !full
            && ((p.buf[0].len() < PROBE_BYTES && verdicts[0].0.is_none())
                || (p.buf[1].len() < PROBE_BYTES && verdicts[1].0.is_none()));
        if client_is_tcp_client.is_none() && undecided {
            return Interest::Data;
        }
        let Some(Role::Probe(p)) = self.roles.remove(&meta.id) else {
            unreachable!("checked above")
        };
        match client_is_tcp_client {
            Some(orient) => {
                let id = self.ids.take();
                self.id_key(id, meta.id);
                self.new_session(meta, orient, id);
            }
            // Not FTP control: maybe a data connection whose setup we missed.
            // (Not a well-known service between the hosts: HTTPS or SSH is not FTP data.)
            None => match self
                .session_for_data(meta.client.ip(), meta.server.ip())
                .filter(|_| could_be_data(meta))
            {
                Some(sid) => {
                    self.new_data(meta, sid, None, false);
                }
                None => {
                    self.make_loose(meta);
                }
            },
        }
        // Replay what the probe held through the role the connection has now, the
        // client's side first.
        self.replay_probe(meta, ts, *p);
        match self.roles.get(&meta.id) {
            Some(Role::Loose(l)) if l.hash.is_none() => Interest::Ignore,
            _ => Interest::Data,
        }
    }

    /// A connection on an FTP port, not yet known to be a session: it becomes one with its
    /// first byte ([`Ftp::promote`]), or is a probe when it closes without one.
    pub(super) fn pending_control(&mut self, meta: &ConnMeta, client_is_tcp_client: bool) {
        let id = self.ids.reserve();
        self.id_key(id, meta.id);
        self.roles.insert(
            meta.id,
            Role::Probe(Box::new(Probe {
                buf: [Vec::new(), Vec::new()],
                events: Vec::new(),
                reserved: Some(Reserved {
                    id,
                    client_is_tcp_client,
                }),
            })),
        );
    }

    /// A pending connection on an FTP port carried its first byte: it is a session, with
    /// the TCP events it had so far.
    pub(super) fn promote(&mut self, meta: &ConnMeta) {
        let Some(Role::Probe(p)) = self.roles.remove(&meta.id) else {
            return;
        };
        let Some(r) = p.reserved else {
            return;
        };
        if let Some(t) = self.trace.as_mut() {
            let r_key = t.reserved_at.get(&r.id).copied().unwrap_or(t.now);
            t.promote_wait_packets = t.promote_wait_packets.max(t.now.saturating_sub(r_key));
            t.promote_wait_ns = t.promote_wait_ns.max(t.max_ts.saturating_sub(meta.start.0));
        }
        let id = if self.ids.is_undecided(r.id) {
            self.ids.confirm(r.id);
            r.id
        } else {
            // Its reservation was given up early (a bound was hit): a new id, after
            // those of sessions that started later.
            self.late_sessions += 1;
            let id = self.ids.take();
            self.id_key(id, meta.id);
            id
        };
        self.new_session(meta, r.client_is_tcp_client, id);
        for (ts, dir, ev) in p.events {
            self.tcp_event(meta, ts, dir, ev);
        }
        self.release_held();
    }
}
