//! Split analyses: `--threads N` (one thread reads and routes packets by address pair to
//! N workers, each an analysis of its own, whose reports merge into the one a single
//! thread makes) and `--shard K/N` (one process analyses one part).

use crate::analyzer::{
    Analyzer, Options, MAX_ANNOUNCED_HISTORY, MAX_CONN_LIST, MAX_HELD_SESSIONS, MAX_HOLD_NS,
    MAX_LINGERING_TLS_SESSIONS, MAX_SESSION_HOSTS,
};
use crate::capture::{CaptureError, LinkType, Packet, PacketSource, Timestamp};
use crate::ftp::probes::ProbeBook;
use crate::model::{Anomaly, AnomalyKind, Limit, Report, Stats, Time};
use crate::shard::{Route, Router, ShardSpec, Trace};
use std::collections::HashMap;
use std::sync::mpsc;

/// Packets in one batch handed to a worker (every packet's time and route is in every
/// worker's batch; only its own packets' bytes).
pub const BATCH_PACKETS: usize = 2048;
/// Bytes of packets after which a batch is handed over before it has [`BATCH_PACKETS`].
pub const BATCH_BYTES: usize = 1 << 20;
/// Batches per worker in flight (filled, queued or being analysed); they are reused.
pub const BATCHES_PER_WORKER: usize = 4;
/// Most worker threads.
pub const MAX_THREADS: usize = 64;

/// One packet in a batch: its place in the bytes (own packets) or only its time (others).
#[derive(Clone, Copy)]
struct Meta {
    ts: Timestamp,
    orig_len: u32,
    off: u32,
    len: u32,
    linktype: LinkType,
    digits: u8,
    mine: bool,
}

#[derive(Default)]
struct Batch {
    /// Key (1-based number over the whole input) of the first packet.
    first: u64,
    /// Latest capture time of the input up to each packet (parallel to `metas`).
    max_ts: Vec<i64>,
    metas: Vec<Meta>,
    data: Vec<u8>,
}

enum Msg {
    Batch(Batch),
    End { packets: u64, digits: u8 },
}

/// Why a split run cannot stand for the whole one (the caller runs one thread instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback(pub String);

/// Whether a run with these options can be split over threads and merged to the very
/// output of one thread: not for formats written as sessions end (their order depends
/// on every session's id being settled), not with `--extract` (files are named by id),
/// not with a bound on the sessions kept (one whole run leaves out the oldest).
pub fn splittable(opts: &Options, streaming: bool) -> bool {
    !streaming && opts.extract.is_none() && opts.max_sessions == 0
}

/// Analyse `src` over `threads` workers. `errors`: problems found before (opening inputs),
/// listed first; `on_error` is called for each input error; `every` each 4096 records.
pub fn run(
    src: &mut dyn PacketSource,
    opts: &Options,
    threads: usize,
    errors: Vec<String>,
    mut on_error: impl FnMut(&CaptureError),
    mut every: impl FnMut(&dyn PacketSource),
) -> Result<Report, Fallback> {
    let n = threads.clamp(1, MAX_THREADS);
    let mut router = Router::new(n as u32, opts.ignore_tunnel_ids);
    let mut errors = errors;
    let mut reader = ReaderFacts::default();
    let parts = std::thread::scope(|scope| -> Result<Vec<(Report, Trace)>, Fallback> {
        let mut txs = Vec::with_capacity(n);
        let mut backs = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = mpsc::sync_channel::<Msg>(BATCHES_PER_WORKER);
            let (back_tx, back_rx) = mpsc::channel::<Batch>();
            for _ in 0..BATCHES_PER_WORKER {
                back_tx.send(Batch::default()).expect("receiver alive");
            }
            let opts = opts.clone();
            handles.push(scope.spawn(move || worker(opts, rx, back_tx)));
            txs.push(tx);
            backs.push(back_rx);
        }
        let mut cur: Vec<Batch> = Vec::with_capacity(n);
        for b in &backs {
            cur.push(
                b.recv()
                    .map_err(|_| Fallback("a worker ended early".into()))?,
            );
        }
        let mut stamp: u64 = 0;
        let mut max_ts = i64::MIN;
        let mut last_ts = i64::MIN;
        let mut count: u64 = 0;
        let mut failed = None;
        loop {
            let digits = src.ts_digits();
            reader.digits = reader.digits.max(digits);
            match src.next_packet() {
                Ok(Some(pkt)) => {
                    stamp += 1;
                    reader.packets += 1;
                    reader.bytes += u64::from(pkt.orig_len);
                    let route = router.route(&pkt);
                    let ts = pkt.ts.0;
                    if ts < last_ts {
                        reader.backstep = reader.backstep.max(max_ts.saturating_sub(ts));
                    }
                    last_ts = ts;
                    max_ts = max_ts.max(ts);
                    let own = |i: usize| match route {
                        Route::Shard(s) => s as usize == i,
                        Route::All => true,
                        Route::First => i == 0,
                        Route::Fragment => false,
                    };
                    if route == Route::Fragment {
                        failed = Some(Fallback("IP fragments".into()));
                        break;
                    }
                    if route == Route::All {
                        reader.broadcast += 1;
                    }
                    let mut full = false;
                    for (i, b) in cur.iter_mut().enumerate() {
                        if b.metas.is_empty() {
                            b.first = stamp;
                        }
                        let mine = own(i);
                        let off = b.data.len();
                        if mine {
                            b.data.extend_from_slice(pkt.data);
                        }
                        b.metas.push(Meta {
                            ts: pkt.ts,
                            orig_len: pkt.orig_len,
                            off: off as u32,
                            len: if mine { pkt.data.len() as u32 } else { 0 },
                            linktype: pkt.linktype,
                            digits,
                            mine,
                        });
                        b.max_ts.push(max_ts);
                        full |= b.metas.len() >= BATCH_PACKETS || b.data.len() >= BATCH_BYTES;
                    }
                    if full {
                        for (i, b) in cur.iter_mut().enumerate() {
                            let next = backs[i]
                                .recv()
                                .map_err(|_| Fallback("a worker ended early".into()))?;
                            let done = std::mem::replace(b, next);
                            txs[i]
                                .send(Msg::Batch(done))
                                .map_err(|_| Fallback("a worker ended early".into()))?;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    on_error(&e);
                    errors.push(e.to_string());
                }
            }
            count += 1;
            if count & 0xfff == 0 {
                every(src);
            }
        }
        let digits = src.ts_digits().max(reader.digits);
        for (i, b) in cur.into_iter().enumerate() {
            if failed.is_none() && !b.metas.is_empty() {
                let _ = txs[i].send(Msg::Batch(b));
            }
        }
        if failed.is_none() {
            for tx in &txs {
                let _ = tx.send(Msg::End {
                    packets: stamp,
                    digits,
                });
            }
        }
        drop(txs);
        let mut parts = Vec::with_capacity(n);
        for h in handles {
            match h.join() {
                Ok(Some(p)) => parts.push(p),
                Ok(None) => {}
                Err(_) => failed = failed.or(Some(Fallback("a worker panicked".into()))),
            }
        }
        match failed {
            Some(f) => Err(f),
            None => Ok(parts),
        }
    })?;
    reader.fragments = router.fragments();
    // The analyses' precision only grows: times are written with the largest.
    reader.digits = reader.digits.max(src.ts_digits());
    let mut report = merge(parts, &reader)?;
    report.errors = errors;
    Ok(report)
}

/// A worker: its own analysis of the packets routed to it; `None` when the reader gave up.
fn worker(
    opts: Options,
    rx: mpsc::Receiver<Msg>,
    back: mpsc::Sender<Batch>,
) -> Option<(Report, Trace)> {
    let mut an = Analyzer::new(opts, None).traced(true);
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Batch(mut b) => {
                for (i, m) in b.metas.iter().enumerate() {
                    an.set_digits(m.digits);
                    if m.mine {
                        an.set_stamp(b.first + i as u64, b.max_ts[i]);
                        let start = m.off as usize;
                        an.packet(&Packet {
                            ts: m.ts,
                            linktype: m.linktype,
                            data: &b.data[start..start + m.len as usize],
                            orig_len: m.orig_len,
                        });
                    } else {
                        an.tick(m.ts);
                    }
                }
                b.metas.clear();
                b.max_ts.clear();
                b.data.clear();
                let _ = back.send(b);
            }
            Msg::End { packets, digits } => {
                an.set_digits(digits);
                return Some(an.finish_traced(packets));
            }
        }
    }
    None
}

/// What the reading thread counted over the whole input.
#[derive(Debug, Default)]
struct ReaderFacts {
    packets: u64,
    bytes: u64,
    /// Packets every worker analysed (DNS).
    broadcast: u64,
    fragments: u64,
    /// Furthest a packet's time went back before the latest time seen (ns).
    backstep: i64,
    /// Sub-second digits of the input's times, at its end.
    digits: u8,
}

fn fallback<T>(why: &str) -> Result<T, Fallback> {
    Err(Fallback(why.to_string()))
}

/// Put the workers' reports together in the order of a whole run, or say why they cannot be.
fn merge(parts: Vec<(Report, Trace)>, reader: &ReaderFacts) -> Result<Report, Fallback> {
    if reader.fragments > 0 {
        return fallback("IP fragments");
    }
    let n = parts.len() as u64;
    // Bounds and limits that one whole run applies over all connections and sessions.
    let mut lingered = 0;
    let mut hosts = 0;
    let mut announcements = 0;
    let mut untied_calls = 0;
    let (mut conns_at_once, mut buffered_at_once, mut expectations_at_once) = (0, 0, 0);
    let mut lingering_at_once = 0;
    let mut closed_isns_at_once = 0;
    let mut failure_pairs_at_once = 0;
    let (mut failures_first, mut failures_last) = (i64::MAX, i64::MIN);
    for (r, t) in &parts {
        let s = &r.stats;
        // Top-level findings other than those the merge rebuilds (brute force made while
        // reading, port scans and probe limits from the replayed probes): `limit_reached`
        // of a bound over the whole run, and any kind added later.
        if let Some(a) = r
            .anomalies
            .iter()
            .skip(t.findings.len())
            .find(|a| !matches!(a.kind, AnomalyKind::PortScan | AnomalyKind::ProbeLimit))
        {
            return Err(Fallback(format!("a top-level {} finding", a.kind)));
        }
        if s.limits.contains_key(&Limit::MaxExpectationsTotal) {
            return fallback("max_expectations_total reached");
        }
        if s.limits.contains_key(&Limit::MaxFailurePairs) {
            return fallback("max_failure_pairs reached");
        }
        if t.dns_over_tcp > 0 {
            return fallback("DNS over TCP");
        }
        conns_at_once += t.peak_connections;
        lingering_at_once += t.peak_lingering;
        closed_isns_at_once += t.peak_closed_isns;
        buffered_at_once += t.peak_buffered;
        expectations_at_once += t.peak_expectations;
        failure_pairs_at_once += t.failure_pairs_peak;
        if t.failure_calls > 0 {
            failures_first = failures_first.min(t.failure_first);
            failures_last = failures_last.max(t.failure_last);
        }
        if s.limits.contains_key(&Limit::MaxConnections) {
            return fallback("max_connections reached");
        }
        if s.limits.contains_key(&Limit::MaxLingeringConnections) {
            return fallback("max_lingering_connections reached");
        }
        if s.limits.contains_key(&Limit::MaxClosedIsns) {
            return fallback("max_closed_isns reached");
        }
        if s.reassembly_buffer_giveups > 0 {
            return fallback("reassembly buffer giveups");
        }
        if s.tls_linger_evictions > 0 {
            return fallback("TLS linger evictions");
        }
        if t.forced_ids > 0 || t.late_sessions > 0 {
            return fallback("session ids given up early");
        }
        if t.promote_wait_packets > MAX_HELD_SESSIONS as u64
            || t.promote_wait_ns.saturating_add(reader.backstep) > MAX_HOLD_NS
        {
            return fallback("a session recognised long after its first packet");
        }
        lingered += t.lingered;
        hosts += t.session_hosts;
        announcements += t.announcements;
        untied_calls += t.untied_calls;
    }
    // Whole-run caps a part may stay under while one whole run would reach them: the
    // parts' peaks added up bound the whole run's (each part holds at least what the
    // whole run holds of its pairs).
    let caps = |f: fn(&Trace) -> usize| parts.iter().map(|(_, t)| f(t)).max().unwrap_or(0);
    if conns_at_once >= caps(|t| t.max_connections) {
        return fallback("TCP connections at once near max_connections");
    }
    if lingering_at_once >= caps(|t| t.max_lingering) {
        return fallback("finished TCP connections at once near max_lingering_connections");
    }
    if closed_isns_at_once >= caps(|t| t.max_closed_isns) {
        return fallback("closed TCP connections remembered at once near max_closed_isns");
    }
    // A segment of up to 64 KiB per part may have been turned away over the budget.
    if buffered_at_once + parts.len() * 65_536 >= caps(|t| t.max_buffered) {
        return fallback("out-of-order bytes near the reassembly budget");
    }
    if expectations_at_once >= caps(|t| t.max_expectations) {
        return fallback("announced data ports near max_expectations_total");
    }
    if failure_pairs_at_once >= caps(|t| t.max_failure_pairs) {
        return fallback("failed-login pairs near max_failure_pairs");
    }
    // A pair's tally expires when failed logins of any pair are counted after its
    // timeout; failed logins closer in time than it never expire one.
    let timeout = parts
        .iter()
        .map(|(_, t)| t.failure_timeout_ns)
        .min()
        .unwrap_or(0);
    if failures_first <= failures_last && failures_last.saturating_sub(failures_first) > timeout {
        return fallback("failed logins further apart than their expiry");
    }
    if lingered > MAX_LINGERING_TLS_SESSIONS as u64 {
        return fallback("many lingering TLS sessions");
    }
    if hosts >= MAX_SESSION_HOSTS {
        return fallback("many session host pairs");
    }
    if announcements > MAX_ANNOUNCED_HISTORY as u64 && untied_calls > 0 {
        return fallback("announcement history full with untied connections");
    }
    // A data channel announced in one part and used (or announced again) in another: a
    // data connection between other hosts than its session's (PASV/PORT naming a third
    // host, FXP, a hijack).
    let mut announcer: HashMap<_, usize> = HashMap::new();
    for (i, (_, t)) in parts.iter().enumerate() {
        for e in &t.announced {
            if let Some(&j) = announcer.get(e) {
                if j != i {
                    // Announced in two parts: only a problem when someone connects.
                    announcer.insert(*e, usize::MAX);
                    continue;
                }
            }
            announcer.insert(*e, i);
        }
    }
    for (i, (_, t)) in parts.iter().enumerate() {
        for e in &t.lookups {
            if let Some(&j) = announcer.get(e) {
                if j != i {
                    return fallback("a data channel used across address pairs");
                }
            }
        }
    }
    if parts
        .iter()
        .filter(|(r, _)| !r.untied_transfers.is_empty())
        .count()
        > 1
    {
        return fallback("untied transfers in several parts");
    }
    if parts
        .iter()
        .filter(|(r, _)| !r.stats.undecoded.is_empty())
        .count()
        > 1
    {
        return fallback("undecoded packets in several parts");
    }

    // Session ids: the keys at which they were recognised, ranked.
    let mut keys: Vec<u64> = parts
        .iter()
        .flat_map(|(r, _)| r.sessions.iter().map(|s| s.id))
        .collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return fallback("two sessions with one key");
    }
    let sid = |k: u64| keys.binary_search(&k).map(|i| i as u64 + 1).unwrap_or(k);
    // Connection ids: the keys of their first packets, ranked.
    let mut conn_keys: Vec<u64> = parts
        .iter()
        .flat_map(|(_, t)| t.conn_keys.iter().copied())
        .collect();
    conn_keys.sort_unstable();
    // Top-level findings made while reading (brute force), in the order they were made.
    let mut found: Vec<(u64, usize, usize)> = Vec::new();
    for (w, (_, t)) in parts.iter().enumerate() {
        for (i, &k) in t.findings.iter().enumerate() {
            found.push((k, w, i));
        }
    }
    found.sort_unstable();
    let mut finding_at: HashMap<(usize, usize), usize> = HashMap::new();
    for (g, &(_, w, i)) in found.iter().enumerate() {
        finding_at.insert((w, i), g);
    }
    // Probes replayed in order into one book (port scans span address pairs).
    let mut probes: Vec<(u64, usize, usize)> = Vec::new();
    for (w, (_, t)) in parts.iter().enumerate() {
        for (i, p) in t.probes.iter().enumerate() {
            probes.push((p.0, w, i));
        }
    }
    probes.sort_unstable();
    let mut book = ProbeBook::default();
    for &(_, w, i) in &probes {
        let (_, src, target, start, end, ftp) = parts[w].1.probes[i];
        book.probe(src, target, start, end, ftp);
    }
    let (ftp_probes, scans, limits) = book.finish();

    let last_close = parts
        .iter()
        .map(|(_, t)| t.last_close)
        .max()
        .unwrap_or(Timestamp(0));
    let digits = reader.digits;
    let mut sessions = Vec::new();
    let mut conns: Vec<(u64, crate::model::TcpConnection)> = Vec::new();
    let mut untied_transfers = Vec::new();
    let mut stats = Stats::default();
    let mut findings: Vec<Option<Anomaly>> = vec![None; found.len()];
    let mut undecoded = Vec::new();
    for (w, (r, t)) in parts.into_iter().enumerate() {
        let close_key: HashMap<u64, u64> = t.closes.iter().copied().collect();
        let Report {
            sessions: ss,
            anomalies,
            stats: st,
            tcp_connections,
            untied_transfers: ut,
            ..
        } = r;
        for (i, mut a) in anomalies.into_iter().enumerate().take(t.findings.len()) {
            for x in a.sessions.iter_mut() {
                *x = sid(*x);
            }
            findings[finding_at[&(w, i)]] = Some(a);
        }
        for mut s in ss {
            s.id = sid(s.id);
            for a in s.anomalies.iter_mut() {
                for x in a.sessions.iter_mut() {
                    *x = sid(*x);
                }
                if let Some(f) = a.finding.as_mut() {
                    match finding_at.get(&(w, *f)) {
                        Some(&g) => *f = g,
                        None => return fallback("a session refers to a finding made at the end"),
                    }
                }
            }
            sessions.push(s);
        }
        for mut c in tcp_connections {
            let key = close_key.get(&c.id).copied().unwrap_or(u64::MAX);
            let first = t
                .conn_keys
                .get((c.id as usize).wrapping_sub(1))
                .copied()
                .unwrap_or(0);
            c.id = conn_keys
                .binary_search(&first)
                .map(|i| i as u64 + 1)
                .unwrap_or(c.id);
            conns.push((key, c));
        }
        untied_transfers.extend(ut);
        if !st.undecoded.is_empty() {
            undecoded = st.undecoded.clone();
        }
        add_stats(&mut stats, st, w == 0);
    }
    stats.packets = reader.packets;
    stats.bytes = reader.bytes;
    stats.non_tcp_packets = stats
        .non_tcp_packets
        .saturating_sub((n.saturating_sub(1)) * reader.broadcast);
    stats.undecoded = undecoded;
    stats.ftp_port_probes = ftp_probes;
    stats.port_scans = scans;
    for sc in stats.port_scans.iter_mut() {
        sc.first.digits = digits;
        sc.last.digits = digits;
    }
    // Top-level findings as a whole run lists them: those made while reading, then the
    // port scans, then the limits the probe book hit.
    let mut anomalies: Vec<Anomaly> = findings.into_iter().flatten().collect();
    for sc in &stats.port_scans {
        anomalies.push(port_scan_finding(sc));
    }
    for detail in limits {
        anomalies.push(Anomaly {
            ts: Time::new(last_close, digits),
            kind: AnomalyKind::ProbeLimit,
            detail,
            sessions: Vec::new(),
            finding: None,
        });
    }
    sessions.sort_by_key(|s| s.id);
    conns.sort_by_key(|c| c.0);
    conns.truncate(MAX_CONN_LIST);
    let mut tcp_connections: Vec<_> = conns.into_iter().map(|c| c.1).collect();
    tcp_connections.sort_by_key(|c| c.id);
    Ok(Report {
        extract: None,
        schema: "ftptrace/1",
        sessions,
        anomalies,
        stats,
        tcp_connections,
        errors: Vec::new(),
        untied_transfers,
    })
}

/// The top-level finding for a port scan (as [`crate::analyzer`] words it).
fn port_scan_finding(sc: &crate::model::PortScan) -> Anomaly {
    crate::analyzer::port_scan_finding(sc)
}

/// Add one part's counters to the whole (`first`: the part that also counts what every
/// part saw, DNS messages).
fn add_stats(to: &mut Stats, s: Stats, first: bool) {
    let Stats {
        packets: _,
        bytes: _,
        tcp_connections,
        ftp_sessions,
        data_connections,
        unmatched_data_connections,
        capture_gaps,
        non_tcp_packets,
        dns_messages,
        undecodable_packets,
        ip_fragments,
        ip_reassembled,
        timing_data_connections,
        encrypted_data_connections,
        tls_linger_evictions,
        limits,
        duplicate_syns,
        duplicate_segments,
        ftp_port_probes: _,
        port_scans: _,
        control_connections,
        tied_data_connections,
        untied_data_connections,
        other_connections,
        empty_connections,
        reordered_segments,
        reorder_window_expiries,
        reassembly_buffer_giveups,
        undecoded_packets,
        undecoded: _,
    } = s;
    to.tcp_connections += tcp_connections;
    to.ftp_sessions += ftp_sessions;
    to.data_connections += data_connections;
    to.unmatched_data_connections += unmatched_data_connections;
    to.capture_gaps += capture_gaps;
    to.non_tcp_packets += non_tcp_packets;
    if first {
        to.dns_messages = dns_messages;
    }
    to.undecodable_packets += undecodable_packets;
    to.ip_fragments += ip_fragments;
    to.ip_reassembled += ip_reassembled;
    to.timing_data_connections += timing_data_connections;
    to.encrypted_data_connections += encrypted_data_connections;
    to.tls_linger_evictions += tls_linger_evictions;
    for (k, v) in limits {
        *to.limits.entry(k).or_default() += v;
    }
    to.duplicate_syns += duplicate_syns;
    to.duplicate_segments += duplicate_segments;
    to.control_connections += control_connections;
    to.tied_data_connections += tied_data_connections;
    to.untied_data_connections += untied_data_connections;
    to.other_connections += other_connections;
    to.empty_connections += empty_connections;
    to.reordered_segments += reordered_segments;
    to.reorder_window_expiries += reorder_window_expiries;
    to.reassembly_buffer_giveups += reassembly_buffer_giveups;
    to.undecoded_packets += undecoded_packets;
}

/// `--shard K/N`: read the whole of `src`, analyse the packets of shard K with `an` (a
/// traced analysis: session ids are keys of the whole input). Like
/// [`Analyzer::run_with`]: `every` each 4096 records, reading stops when it returns false.
pub fn run_shard(
    an: &mut Analyzer<'_>,
    src: &mut dyn PacketSource,
    spec: ShardSpec,
    ignore_tunnel_ids: bool,
    mut on_error: impl FnMut(&CaptureError),
    mut every: impl FnMut(&dyn PacketSource) -> bool,
) -> u64 {
    let mut router = Router::new(spec.n, ignore_tunnel_ids);
    let mut stamp: u64 = 0;
    let mut max_ts = i64::MIN;
    let mut n: u64 = 0;
    loop {
        an.set_digits(src.ts_digits());
        match src.next_packet() {
            Ok(Some(pkt)) => {
                stamp += 1;
                max_ts = max_ts.max(pkt.ts.0);
                let keep = match router.route(&pkt) {
                    Route::Shard(s) => s == spec.k,
                    Route::All | Route::Fragment => true,
                    Route::First => spec.k == 0,
                };
                if keep {
                    an.set_stamp(stamp, max_ts);
                    an.packet(&pkt);
                } else {
                    an.tick(pkt.ts);
                }
            }
            Ok(None) => break,
            Err(e) => {
                on_error(&e);
                an.error(e.to_string());
            }
        }
        n += 1;
        if n & 0xfff == 0 && !every(src) {
            break;
        }
    }
    stamp
}
