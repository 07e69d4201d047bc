//! Transfers glue: the payload of data connections (TLS check, listing, hash, carving)
//! and the untied data connections no session took, placed at the end.

use super::*;

impl<'a> Ftp<'a> {
    /// A connection with payload that no session took ended: a candidate untied transfer,
    /// kept when at the end of the capture it looks like FTP data (and then placed in its
    /// hosts' session when there is one). Returns false when the candidates are full.
    pub(super) fn untied_transfer(
        &mut self,
        meta: &ConnMeta,
        sum: &ConnSummary,
        hash: Option<String>,
        segments: u64,
    ) -> bool {
        let now = self.looks_like_data(meta.client, meta.server);
        if let Some(t) = self.trace.as_mut() {
            t.untied_calls += 1;
            // Both ends are looked up in the history of announcements.
            t.look_up(meta.zone, meta.client);
            t.look_up(meta.zone, meta.server);
        }
        let kept = self.untied.len() + self.untied_placed;
        if kept >= MAX_UNTIED_TRANSFERS && now {
            // Counted, not listed.
            self.stats.untied_data_connections += 1;
            self.stats.unmatched_data_connections += 1;
            self.stats.data_connections += 1;
            return true;
        }
        if kept >= MAX_UNTIED_TRANSFERS || (!now && self.undecided >= MAX_UNDECIDED) {
            return false;
        }
        self.undecided += usize::from(!now);
        let bytes = sum.seq_bytes[0] + sum.seq_bytes[1];
        let captured = (sum.captured_bytes[0] + sum.captured_bytes[1]).min(bytes);
        let missing = bytes - captured;
        // The side that listened on port 20 connected actively (RFC 959's default data port).
        let active = meta.client.port() == 20;
        let t = model::Transfer {
            command: String::new(),
            arg: String::new(),
            path: None,
            direction: if sum.seq_bytes[0] > sum.seq_bytes[1] {
                model::Direction::Upload
            } else {
                model::Direction::Download
            },
            mode: if active {
                model::Mode::Active
            } else {
                model::Mode::Passive
            },
            setup: model::SetupKind::Unknown,
            data_client: ep(meta.client),
            data_server: ep(meta.server),
            start: Time::new(meta.start, self.digits),
            end: Time::new(sum.end, self.digits),
            data: model::DataCapture::Captured,
            match_: model::DataMatch::None,
            bytes: Some(bytes),
            captured_bytes: Some(captured),
            missing_bytes: Some(missing),
            expected_bytes: None,
            rest: None,
            status: model::TransferStatus::Incomplete,
            reply_code: None,
            sha256: hash.filter(|_| missing == 0),
            segments,
            announced: None,
            extracted: None,
            joined: None,
            listing: None,
            matched: false,
        };
        let hosts = host_pair(meta.client.ip(), meta.server.ip());
        self.untied.push(Untied {
            conn: meta.id,
            saw_syn: meta.saw_syn,
            seq_bytes: sum.seq_bytes,
            hosts,
            ends: (meta.client, meta.server),
            t,
        });
        self.doc_untied_added(hosts);
        true
    }

    /// An untied candidate that looks like FTP data is one: counted, its connection's role
    /// named, its times written with the capture's precision.
    pub(super) fn count_untied_data(&mut self, u: &mut Untied) {
        self.stats.untied_data_connections += 1;
        self.stats.unmatched_data_connections += 1;
        self.stats.data_connections += 1;
        if let Some(c) = self.conn_list.iter_mut().find(|c| c.id == u.conn) {
            c.role = Some(model::ConnRole::FtpData);
        }
        u.t.start.digits = self.digits;
        u.t.end.digits = self.digits;
    }

    /// A connection becomes [`Role::Loose`]; returns the interest in its payload (only
    /// needed for hashing).
    pub(super) fn make_loose(&mut self, meta: &ConnMeta) -> Interest {
        let hash = self.hasher.as_mut().and_then(Hasher::start);
        let interest = if hash.is_some() {
            Interest::Data
        } else {
            Interest::Ignore
        };
        self.roles
            .insert(meta.id, Role::Loose(Box::new(Loose { hash, segments: 0 })));
        interest
    }

    pub(super) fn data_chunk(
        &mut self,
        meta: &ConnMeta,
        ts: Timestamp,
        dir: Dir,
        chunk: Chunk<'_>,
        new_seg: bool,
    ) {
        let Some(Role::Data(d)) = self.roles.get_mut(&meta.id) else {
            return;
        };
        let side = Self::side(d.connector_is_client, dir);
        let Some(s) = self.sessions.get_mut(&d.session) else {
            return;
        };
        if !d.tls_checked {
            if let Chunk::Data { bytes, .. } = chunk {
                // The first payload: TLS records (PROT P) or the file in clear? Only a
                // session that negotiated TLS has TLS data connections: elsewhere bytes
                // that look like a record are a file's.
                d.tls_checked = true;
                if s.tls() && tls::record_header(bytes).is_some() {
                    d.encrypted = true;
                    d.records = Some(Box::default());
                    if let (Some(j), Some(h)) = (d.hash.take(), self.hasher.as_mut()) {
                        h.discard(j);
                    }
                    s.data_encrypted(d.transfer);
                    self.stats.encrypted_data_connections += 1;
                } else if s.tls() {
                    s.data_cleartext_after_tls(ts, d.transfer);
                }
            }
        }
        match chunk {
            Chunk::Data { bytes, ts: at, .. } => {
                s.data_bytes(at, d.transfer, side, bytes.len() as u64, new_seg);
                if let Some(r) = d.records.as_mut() {
                    r[dir.idx()].feed(bytes, &mut tls::Facts::default());
                }
                if !d.listing_checked && side == Side::Server {
                    d.listing_checked = true;
                    if let Some(style) = listing::style_of(s.transfer_command(d.transfer)) {
                        d.listing = Some(ListingBuf {
                            style,
                            dir,
                            bytes: Vec::new(),
                            cut: false,
                        });
                    }
                }
                if let Some(l) = d.listing.as_mut().filter(|l| l.dir == dir) {
                    let room = listing::MAX_LISTING_BYTES - l.bytes.len();
                    l.cut |= bytes.len() > room;
                    l.bytes.extend_from_slice(&bytes[..bytes.len().min(room)]);
                }
                if let (Some(j), Some(h)) = (d.hash.as_ref(), self.hasher.as_mut()) {
                    h.update(j, dir.idx(), bytes);
                }
                if let Some(c) = self.carver.as_mut().filter(|_| !d.encrypted) {
                    let piece = &mut d.pieces[dir.idx()];
                    if piece.is_none() {
                        // A `REST n` download is written at offset n.
                        *piece = Some(c.open_at(s.transfer_file_offset(d.transfer)));
                    }
                    if let Some(p) = piece.as_mut() {
                        c.write(p, bytes);
                    }
                }
            }
            Chunk::Gap { offset, len } => {
                self.stats.capture_gaps += 1;
                if let Some(r) = d.records.as_mut() {
                    r[dir.idx()].gap();
                }
                s.anomaly(
                    ts,
                    model::AnomalyKind::CaptureGap,
                    format!(
                        "{}: {len} bytes missing at offset {offset}",
                        model::Conn::transfer(d.transfer)
                    ),
                );
                if let (Some(c), Some(p)) = (self.carver.as_mut(), d.pieces[dir.idx()].as_mut()) {
                    c.hole(p, len);
                }
            }
        }
    }

    /// With `--extract`: name the session's carved payloads now that their outcome is
    /// known, join resumed (REST) and appended (APPE) pieces to the stored start of their
    /// file, and write the manifest lines.
    pub(super) fn carve(&mut self, m: &mut model::Session, reserved: u64) {
        let Some(c) = self.carver.as_mut() else {
            return;
        };
        let server = m.server.ip.to_string();
        let mut findings = Vec::new();
        for (i, t) in m.transfers.iter_mut().enumerate() {
            let piece = self.carved.remove(&(reserved, i));
            let (holes, holes_total, cut, extent) = piece
                .as_ref()
                .map(|p| {
                    (
                        p.holes().to_vec(),
                        p.holes_total(),
                        p.cut_bytes(),
                        p.extent(),
                    )
                })
                .unwrap_or_default();
            let mut joined = None;
            let fallback = if t.command.is_empty() {
                "data".to_string()
            } else {
                t.command.to_ascii_lowercase()
            };
            let named = t.path.as_deref().unwrap_or(&t.arg);
            let stem = carve::file_stem(m.id, i + 1, named, &fallback);
            if let Some(p) = piece {
                let rest = t.rest.unwrap_or(0);
                // Fewer bytes than the server announced for this command: not the whole file.
                let short = t.expected_bytes.is_some_and(|e| {
                    t.direction == model::Direction::Download
                        && t.bytes.is_some_and(|b| b < e.saturating_sub(rest))
                });
                // A REST piece lacks the file's start.
                let partial = t.missing_bytes != Some(0)
                    || t.status != model::TransferStatus::Complete
                    || short
                    || cut > 0
                    || (rest > 0 && t.direction == model::Direction::Download);
                t.extracted = c.keep(p, &stem, partial);
                if let (Some(file), Some(path), true) = (
                    t.extracted.as_deref(),
                    t.path.as_deref(),
                    t.direction != model::Direction::Listing,
                ) {
                    let key = (server.clone(), path.to_string());
                    let at = match t.command.as_str() {
                        "APPE" => c.stored_end(&key),
                        _ if rest > 0 => Some(rest),
                        _ => None,
                    };
                    let base = named.rsplit('/').next().unwrap_or("");
                    let joined_stem =
                        carve::file_stem(m.id, i + 1, &format!("joined-{base}"), "joined");
                    let kept = carve::Kept {
                        key,
                        file,
                        extent,
                        at,
                        id: (m.id, i),
                    };
                    joined = c.join(kept, &joined_stem, t.expected_bytes);
                }
            }
            let piece = carve::Entry {
                session: m.id,
                transfer: i + 1,
                command: &t.command,
                arg: &t.arg,
                path: t.path.as_deref(),
                direction: t.direction,
                bytes: t.bytes,
                captured: t.captured_bytes,
                missing: t.missing_bytes,
                holes_listed: holes.len(),
                holes: holes.iter().map(|&(o, l)| [o, l]).collect(),
                holes_total,
                sha256: t.sha256.as_deref(),
                status: t.status,
                partial: t
                    .extracted
                    .as_deref()
                    .is_some_and(|f| f.ends_with(".partial")),
                cut_by_limit: cut,
                file: t.extracted.clone(),
                joined: None,
                overlap_bytes: None,
                conflicting_bytes: None,
            };
            c.record(&piece);
            if let Some(j) = joined {
                if j.conflicts > 0 {
                    findings.push(format!(
                        "transfer {}: {} of {} overlapping bytes differ from the earlier piece of {}",
                        i + 1,
                        j.conflicts,
                        j.overlap,
                        t.path.as_deref().unwrap_or(&t.arg)
                    ));
                }
                // The joined file: what the piece's entry says of the transfer, with
                // the whole file's bytes, hash and pieces.
                c.record(&carve::Entry {
                    bytes: Some(j.bytes),
                    captured: Some(j.bytes),
                    missing: Some(0),
                    holes: Vec::new(),
                    holes_listed: 0,
                    holes_total: 0,
                    sha256: Some(&j.sha256),
                    partial: j.file.as_deref().is_some_and(|f| f.ends_with(".partial")),
                    cut_by_limit: 0,
                    file: j.file.clone(),
                    joined: Some(j.pieces.iter().map(|&(s, t)| [s, t as u64 + 1]).collect()),
                    overlap_bytes: Some(j.overlap),
                    conflicting_bytes: Some(j.conflicts),
                    ..piece
                });
                t.joined = j.file;
            }
        }
        let ts = m.end;
        for detail in findings {
            m.anomalies.push(Anomaly {
                ts,
                kind: model::AnomalyKind::ResumeConflict,
                detail,
                sessions: Vec::new(),
                finding: None,
            });
        }
    }
}

/// Put an untied data connection into its hosts' session: it fills a transfer the dialogue
/// showed without its data connection when their times overlap (never two transfers for
/// one), or stands as a transfer of its own (`unmatched_data_connection`).
pub(super) fn place_untied(s: &mut model::Session, u: Untied) {
    let mut t = u.t;
    // Which host sent the payload tells the direction.
    let sender = if u.seq_bytes[0] > u.seq_bytes[1] {
        t.data_client.ip
    } else {
        t.data_server.ip
    };
    t.direction = if sender == s.server.ip {
        model::Direction::Download
    } else {
        model::Direction::Upload
    };
    // Without its SYN, the connector is who used port 20 (active), else the FTP client.
    if !u.saw_syn {
        let swap = if t.data_client.port == 20 || t.data_server.port == 20 {
            t.data_server.port == 20
        } else {
            t.data_client.ip != s.client.ip
        };
        if swap {
            std::mem::swap(&mut t.data_client, &mut t.data_server);
        }
    }
    t.mode = if t.data_client.ip == s.client.ip {
        model::Mode::Passive
    } else {
        model::Mode::Active
    };
    let overlapping = s.transfers.iter_mut().find(|x| {
        x.data == model::DataCapture::NotCaptured && x.start <= t.end && t.start <= x.end
    });
    match overlapping {
        Some(x) => {
            x.data = model::DataCapture::Captured;
            x.data_client = t.data_client;
            x.data_server = t.data_server;
            x.start = x.start.min(t.start);
            x.end = x.end.max(t.end);
            x.bytes = t.bytes;
            x.captured_bytes = t.captured_bytes;
            x.missing_bytes = t.missing_bytes;
            x.sha256 = t.sha256;
            x.segments = t.segments;
        }
        None => {
            s.anomalies.push(Anomaly {
                ts: t.start,
                kind: model::AnomalyKind::UnmatchedDataConnection,
                detail: format!(
                    "data connection {}:{} -> {}:{} matches no PORT/PASV/EPRT/EPSV",
                    t.data_client.ip, t.data_client.port, t.data_server.ip, t.data_server.port
                ),
                sessions: Vec::new(),
                finding: None,
            });
            s.transfers.push(t);
        }
    }
}

pub(super) fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}
