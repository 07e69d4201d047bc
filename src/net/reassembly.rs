//! TCP stream reassembly for one direction: in-order data passes through borrowed,
//! out-of-order data is buffered under a memory cap, holes become gaps.
//!
//! # Model
//!
//! A [`HalfStream`] maps 32-bit sequence numbers to 64-bit *stream offsets* counted
//! from the origin (ISN+1 after a SYN, or the first segment's sequence number for a
//! stream picked up mid-way). Sequence numbers are unwrapped relative to the
//! *delivered point* (the next offset the application has not seen yet) within a
//! ±2 GiB window, so wrap-around is transparent and streams longer than 4 GiB keep
//! counting.
//!
//! The output is a sequence of [`Chunk`]s that tile `[0, seq_bytes())` in order,
//! contiguously, each offset exactly once: data the capture held is
//! [`Chunk::Data`], everything else is [`Chunk::Gap`]. Adjacent gaps produced by one
//! call are merged into one chunk.
//!
//! # Policies
//!
//! * **First copy wins.** Once a byte (or a known-missing byte, such as the tail of a
//!   segment cut by the snap length) has been delivered or buffered, later segments
//!   covering it are ignored for that byte. Buffered bytes that a later segment
//!   carries with *different* content are counted by
//!   [`HalfStream::overlap_conflicts`] (bytes already delivered are not kept, so
//!   they cannot be compared).
//! * **Retransmissions** (entirely before the delivered point) are dropped; partial
//!   overlaps deliver only the new part. A keep-alive (`seq = next-1`, 0 or 1 byte)
//!   therefore never produces data. Zero-length segments without FIN carry nothing
//!   and are ignored (they do not set the origin of a mid-way stream either).
//! * **FIN** ends the stream at the end of its segment's data (but never before data
//!   already seen); data at or after that offset is ignored. Only the first FIN counts.
//! * **Bounded memory.** Out-of-order data is copied into a buffer; each buffered
//!   piece costs its length plus [`HalfStream::ENTRY_OVERHEAD`], charged both to the
//!   per-direction cap and to the shared [`MemBudget`]. When a segment does not fit,
//!   the reassembler gives up on the oldest hole: it delivers a gap up to the earliest
//!   buffered piece and everything contiguous after it, and retries; when nothing
//!   buffered comes before the segment it delivers a gap up to the segment and passes
//!   the segment straight through. Bytes of a hole that arrive after it was given up
//!   are dropped as retransmissions.
//! * **Acknowledgements** ([`HalfStream::acked`]): the peer had every byte before the
//!   ack, so holes before it are capture loss — unless the capture reordered the
//!   segment behind the ack. An acknowledged hole waits for a late segment within the
//!   [`ReorderWindow`] (see [`super::reorder`]); when the window closes
//!   ([`HalfStream::tick`]), the per-direction hold list is full, or the stream is
//!   flushed, it is delivered as a gap, with the offsets the ack alone would have given.
//!   An ack that comes with the peer's own data (a reply) closes the holes at once:
//!   capture hardware reorders packets microseconds apart, not across a round trip,
//!   and a request/response dialogue must not see the reply before its request. With
//!   [`ReorderWindow::OFF`] every ack closes the holes at once. Callers should feed
//!   a segment before the acks that follow it in the capture.
//!
//! Call [`HalfStream::flush`] before dropping a stream that still buffers data, or
//! the shared budget stays charged for it.

use super::reorder::{AckHolds, Clock, ReorderWindow};
use crate::capture::Timestamp;
use std::collections::BTreeMap;

/// What the reassembler hands the application, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Bytes at stream `offset` (0 = first byte after the SYN / first byte seen); `ts`
    /// is the time of the packet that carried them (bytes buffered out of order keep
    /// theirs when a later packet, an ACK or the end releases them).
    /// `new_segment`: these bytes begin what one captured segment brought (once per
    /// segment that brought new bytes, also when it was buffered out of order), so
    /// counting them counts segments.
    Data {
        offset: u64,
        bytes: &'a [u8],
        ts: Timestamp,
        new_segment: bool,
    },
    /// `len` bytes at stream `offset` that the capture never held.
    Gap { offset: u64, len: u64 },
}

/// A global budget for buffered out-of-order bytes, shared by all connections.
///
/// `used` is the sum of [`HalfStream::buffered`] over all streams fed with it.
#[derive(Debug)]
pub struct MemBudget {
    pub limit: usize,
    pub used: usize,
}

impl MemBudget {
    pub fn new(limit: usize) -> Self {
        MemBudget { limit, used: 0 }
    }
}

/// One buffered piece of the stream, keyed by its offset.
#[derive(Debug)]
enum Piece {
    /// Captured bytes that arrived ahead of the delivered point, their packet's time, and
    /// `true` when they begin what their segment brought.
    Data(Vec<u8>, Timestamp, bool),
    /// Bytes known to be missing from the capture (snap-length cut tail).
    Gap(u64),
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Data(v, _, _) => v.len() as u64,
            Piece::Gap(n) => *n,
        }
    }

    fn cost(&self) -> usize {
        match self {
            Piece::Data(v, _, _) => v.len().saturating_add(HalfStream::ENTRY_OVERHEAD),
            Piece::Gap(_) => HalfStream::ENTRY_OVERHEAD,
        }
    }
}

/// Reassembly state for one direction of a TCP connection.
#[derive(Debug)]
pub struct HalfStream {
    /// Sequence number of stream offset 0; `None` until the first segment of a
    /// stream picked up mid-way.
    origin: Option<u32>,
    /// Next offset to deliver: everything before it has been handed out.
    delivered: u64,
    /// Highest offset end seen (segments, FIN, acknowledged gaps).
    max_end: u64,
    /// Offset where the FIN sits: the stream's data ends there.
    fin: Option<u64>,
    /// Out-of-order pieces, non-overlapping, all starting after `delivered`.
    buf: BTreeMap<u64, Piece>,
    /// Cost of `buf` (bytes + per-piece overhead).
    buffered: usize,
    /// Per-direction cap on `buffered`.
    cap: usize,
    /// Unique captured payload bytes, delivered or buffered.
    captured: u64,
    gaps: u64,
    gap_bytes: u64,
    conflicts: u64,
    /// A gap not handed out yet, so that adjacent gaps leave as one chunk.
    pending_gap: Option<(u64, u64)>,
    /// Time of the packet being fed ([`HalfStream::set_time`]).
    now: Timestamp,
    /// How long acknowledged holes wait for late segments.
    window: ReorderWindow,
    /// Acknowledged points whose holes are still waiting.
    holds: AckHolds,
    /// Segments that brought new bytes into an acknowledged hole.
    reordered: u64,
    /// The segment being fed has not handed out or buffered any of its bytes yet.
    fresh: bool,
    /// Acknowledged points closed as gaps by the window or the hold list's cap.
    expired: u64,
    /// Holes given up because buffering a segment would exceed the per-direction cap
    /// or the global budget.
    giveups: u64,
}

impl Default for HalfStream {
    fn default() -> Self {
        HalfStream::new(None)
    }
}

impl HalfStream {
    /// Per-direction cap on buffered out-of-order bytes.
    pub const MAX_BUFFERED: usize = 1 << 20;

    /// Bookkeeping cost charged per buffered piece on top of its bytes, so that many
    /// tiny out-of-order segments cannot make the real memory use exceed the caps.
    pub const ENTRY_OVERHEAD: usize = 64;

    /// Acks further than this beyond the highest offset seen are ignored as bogus.
    pub const MAX_ACK_AHEAD: u64 = 1 << 30;

    /// Start with the initial sequence number from a SYN (`isn`: data starts at isn+1),
    /// or, for a stream picked up mid-way, `None`: the first segment seen sets the origin.
    pub fn new(isn: Option<u32>) -> Self {
        HalfStream {
            origin: isn.map(|i| i.wrapping_add(1)),
            delivered: 0,
            max_end: 0,
            fin: None,
            buf: BTreeMap::new(),
            buffered: 0,
            cap: Self::MAX_BUFFERED,
            captured: 0,
            gaps: 0,
            gap_bytes: 0,
            conflicts: 0,
            pending_gap: None,
            now: Timestamp(0),
            window: ReorderWindow::default(),
            holds: AckHolds::default(),
            reordered: 0,
            fresh: false,
            expired: 0,
            giveups: 0,
        }
    }

    /// The time of the packet about to be fed: its bytes carry it in [`Chunk::Data`],
    /// also when they are buffered and handed out later.
    pub fn set_time(&mut self, ts: Timestamp) {
        self.now = ts;
    }

    /// Change how long acknowledged holes wait for late segments (default
    /// [`ReorderWindow::default`]). Takes effect for the next acks.
    pub fn set_reorder_window(&mut self, window: ReorderWindow) {
        self.window = window;
    }

    /// Lower (or raise) this direction's cap on buffered bytes (default
    /// [`Self::MAX_BUFFERED`]). Takes effect for the next segments.
    pub fn set_max_buffered(&mut self, cap: usize) {
        self.cap = cap;
    }

    /// Feed one segment: `seq` its sequence number, `payload` the captured bytes,
    /// `wire_len` its payload length on the wire (> payload.len() when snaplen cut it:
    /// the missing tail is a gap), `fin` whether it carries FIN.
    /// Calls `out` with every chunk that became deliverable, in order.
    ///
    /// For a segment carrying SYN, pass the sequence number of its first data byte
    /// (`seq + 1`). A `wire_len` smaller than the payload is taken as the payload length.
    pub fn segment(
        &mut self,
        seq: u32,
        payload: &[u8],
        wire_len: u32,
        fin: bool,
        budget: &mut MemBudget,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        let seg_len = u64::from(wire_len).max(payload.len() as u64);
        if seg_len == 0 && !fin {
            return;
        }
        let origin = *self.origin.get_or_insert(seq);
        let start = self.unwrap(origin, seq);
        let end = start + i128::from(seg_len);

        if fin && self.fin.is_none() {
            if let Ok(f) = u64::try_from(end) {
                let f = f.max(self.max_end);
                self.fin = Some(f);
                self.max_end = f;
            }
        }

        // Clip to [delivered, fin).
        let lo = i128::from(self.delivered);
        let mut hi = end;
        if let Some(f) = self.fin {
            hi = hi.min(i128::from(f));
        }
        if hi <= lo || start >= hi {
            return;
        }
        let (Ok(hi), Ok(s)) = (u64::try_from(hi), u64::try_from(start.max(lo))) else {
            return;
        };
        // Bytes of the payload before the delivered point (already delivered).
        let skip = if start < lo {
            idx((lo - start) as u64).min(payload.len())
        } else {
            0
        };
        let data = &payload[skip..];
        let keep = usize::try_from(hi - s)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let data = &data[..keep];
        self.max_end = self.max_end.max(hi);

        if !self.buf.is_empty() {
            self.count_conflicts(s, data);
        }
        self.fresh = true;
        let late = !self.holds.is_empty();
        if late && self.holds.max_target().is_some_and(|t| s < t) {
            self.reordered = self.reordered.saturating_add(1);
        }
        if s == self.delivered {
            self.pass(s, data, hi, budget, out);
        } else {
            self.insert_or_give_up(s, data, hi, budget, out);
        }
        if late {
            self.holds.resolve(self.delivered);
        }
        self.fresh = false;
        self.finish(out);
    }

    /// The peer acknowledged everything before `ack` (the connection being at `now`):
    /// bytes before it that the capture has not shown are capture loss, or a segment
    /// the capture reordered behind the ack. The holes wait for late segments until
    /// the reorder window closes ([`Self::tick`]); with [`ReorderWindow::OFF`], or when
    /// the ack came with data of the peer's own (`answered`: the peer replied to these
    /// bytes, and capture hardware does not reorder across a round trip), they are
    /// delivered as gaps at once, with what is buffered.
    ///
    /// Acks at or behind the delivered point, before the origin is known, or more than
    /// [`Self::MAX_ACK_AHEAD`] beyond the highest offset seen are ignored. An ack
    /// beyond the FIN counts up to the FIN.
    #[inline]
    pub fn acked(
        &mut self,
        ack: u32,
        answered: bool,
        now: Clock,
        budget: &mut MemBudget,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        let Some(origin) = self.origin else {
            return;
        };
        let a = self.unwrap(origin, ack);
        // The common case, in a clean capture every ack: nothing new.
        if a <= i128::from(self.delivered) {
            return;
        }
        self.acked_ahead(a, answered, now, budget, out);
    }

    /// [`Self::acked`] for an ack beyond the delivered point (`a`, unwrapped).
    fn acked_ahead(
        &mut self,
        a: i128,
        answered: bool,
        now: Clock,
        budget: &mut MemBudget,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        let Ok(a) = u64::try_from(a) else {
            return;
        };
        if a > self.max_end.saturating_add(Self::MAX_ACK_AHEAD) {
            return;
        }
        let target = self.fin.map_or(a, |f| a.min(f));
        if target <= self.delivered {
            // The ack of a FIN that everything before was delivered up to.
            return;
        }
        if self.window.is_off() || answered {
            self.close_holes(target, budget, out);
            self.holds.resolve(self.delivered);
            return;
        }
        if let Some(last) = self.holds.max_target() {
            if target > last && self.buffered_through(last, target) {
                // No hole beyond the last waiting point: it covers this ack too.
                self.holds.extend_last(target);
                return;
            }
        }
        if let Some(oldest) = self.holds.push(target, now) {
            self.expired = self.expired.saturating_add(1);
            self.close_holes(oldest, budget, out);
            self.holds.resolve(self.delivered);
        }
    }

    /// The connection is at `now`: acknowledged holes that have waited longer than the
    /// reorder window are delivered as gaps (with what is buffered after them).
    /// Costs one check when nothing waits.
    #[inline]
    pub fn tick(&mut self, now: Clock, budget: &mut MemBudget, out: &mut dyn FnMut(Chunk<'_>)) {
        if self.holds.is_empty() {
            return;
        }
        if let Some((target, n)) = self.holds.expire(&now, &self.window) {
            self.expired = self.expired.saturating_add(n);
            self.close_holes(target, budget, out);
            self.holds.resolve(self.delivered);
        }
    }

    /// Deliver everything before `target`, holes as gaps (what an ack used to do).
    fn close_holes(&mut self, target: u64, budget: &mut MemBudget, out: &mut dyn FnMut(Chunk<'_>)) {
        self.advance_to(target, budget, out);
        self.max_end = self.max_end.max(self.delivered);
        self.finish(out);
    }

    /// End of stream (RST, connection end, end of capture): deliver all buffered data,
    /// holes as gaps, and release the budget.
    ///
    /// Delivers up to [`Self::seq_bytes`]: no gap is invented after the last byte seen,
    /// except up to a FIN seen beyond it (the bytes before a FIN are known to exist).
    pub fn flush(&mut self, budget: &mut MemBudget, out: &mut dyn FnMut(Chunk<'_>)) {
        let last = self
            .buf
            .last_key_value()
            .map_or(0, |(&k, p)| k.saturating_add(p.len()));
        let acked = self.holds.take_all().unwrap_or(0);
        let target = self.max_end.max(last).max(acked);
        self.advance_to(target, budget, out);
        self.max_end = self.max_end.max(self.delivered);
        self.finish(out);
    }

    /// Payload bytes by sequence space so far (highest delivered/seen offset end, gaps included).
    ///
    /// The highest end of any segment's payload (snap-length cut tails included), of a
    /// FIN's position, or of an acknowledged range; the FIN itself is not counted.
    pub fn seq_bytes(&self) -> u64 {
        self.max_end
    }

    /// Payload bytes actually present in the capture and delivered (each byte once).
    ///
    /// Counts unique captured bytes whether already delivered or still buffered; after
    /// [`Self::flush`], `captured_bytes() + gap_bytes() == seq_bytes()`.
    pub fn captured_bytes(&self) -> u64 {
        self.captured
    }

    /// Bytes currently buffered out of order.
    ///
    /// Includes [`Self::ENTRY_OVERHEAD`] per buffered piece; this is what the stream
    /// charges to the per-direction cap and to the [`MemBudget`].
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Number of [`Chunk::Gap`] chunks delivered so far.
    pub fn gaps(&self) -> u64 {
        self.gaps
    }

    /// Total length of the gaps delivered so far.
    pub fn gap_bytes(&self) -> u64 {
        self.gap_bytes
    }

    /// Segments whose bytes overlapped buffered bytes with different content (the
    /// buffered copy was kept).
    pub fn overlap_conflicts(&self) -> u64 {
        self.conflicts
    }

    /// Segments that brought new bytes into a hole the peer had already acknowledged
    /// (capture reordering the window absorbed).
    pub fn reordered_segments(&self) -> u64 {
        self.reordered
    }

    /// Acknowledged points whose holes the reorder window (or the hold list's cap)
    /// closed as gaps; flushing at the end of the stream is not counted.
    pub fn window_expiries(&self) -> u64 {
        self.expired
    }

    /// Holes given up as gaps because the out-of-order buffer was full (the
    /// per-direction cap or the global budget): bounded memory, not loss.
    pub fn buffer_giveups(&self) -> u64 {
        self.giveups
    }

    /// Whether an acknowledged hole waits in the reorder window.
    pub fn holding(&self) -> bool {
        !self.holds.is_empty()
    }

    /// Next stream offset to be delivered (everything before it has been handed out).
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Whether the `len` bytes from sequence number `seq` all lie before the delivered
    /// point (a repeat of what was handed out). False while the origin is unknown.
    pub fn all_delivered(&self, seq: u32, len: u32) -> bool {
        let Some(origin) = self.origin else {
            return false;
        };
        let end = self.unwrap(origin, seq) + i128::from(len);
        len > 0 && end <= i128::from(self.delivered)
    }

    /// Stream offset of the FIN, once one was seen.
    pub fn fin_offset(&self) -> Option<u64> {
        self.fin
    }

    /// Whether everything up to a FIN has been delivered.
    pub fn is_finished(&self) -> bool {
        self.fin.is_some_and(|f| self.delivered >= f)
    }

    /// Structural invariants of the buffer (tests only).
    #[cfg(test)]
    fn check_invariants(&self) {
        let mut prev_end = self.delivered;
        let mut cost = 0usize;
        for (&k, p) in &self.buf {
            assert!(k > self.delivered, "piece at {k} not after delivered");
            assert!(k >= prev_end, "piece at {k} overlaps the previous one");
            assert!(p.len() > 0, "empty piece at {k}");
            prev_end = k + p.len();
            assert!(prev_end <= self.max_end, "piece beyond max_end");
            if let Some(f) = self.fin {
                assert!(prev_end <= f, "piece beyond FIN");
            }
            cost += p.cost();
        }
        assert_eq!(cost, self.buffered);
        assert!(self.delivered <= self.max_end);
        assert!(self.pending_gap.is_none());
    }

    // ---- internals ----

    /// Stream offset of `seq`, unwrapped relative to the delivered point (may be
    /// negative for sequence numbers before the origin).
    fn unwrap(&self, origin: u32, seq: u32) -> i128 {
        // Truncation intended: the 32-bit sequence number of the delivered point.
        let base = origin.wrapping_add(self.delivered as u32);
        let diff = seq.wrapping_sub(base) as i32;
        i128::from(self.delivered) + i128::from(diff)
    }

    /// Deliver an in-order segment (`s == delivered`), interleaved with buffered
    /// pieces (which win where they overlap), then whatever becomes contiguous.
    fn pass(
        &mut self,
        s: u64,
        data: &[u8],
        end: u64,
        budget: &mut MemBudget,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        loop {
            self.drain_ready(budget, out);
            if self.delivered >= end || self.delivered < s {
                break;
            }
            let next = self.buf.keys().next().copied().unwrap_or(u64::MAX).min(end);
            let from = self.delivered;
            self.emit_segment_part(s, data, from, next, out);
            self.delivered = next;
        }
    }

    /// Emit `[from, to)` of the segment whose data starts at `s` (tail past the data
    /// is a gap). Requires `s <= from <= to`.
    fn emit_segment_part(
        &mut self,
        s: u64,
        data: &[u8],
        from: u64,
        to: u64,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        let data_end = s.saturating_add(data.len() as u64);
        if from < data_end {
            let d_to = to.min(data_end);
            let a = usize::try_from(from - s).unwrap_or(usize::MAX);
            let b = usize::try_from(d_to - s).unwrap_or(usize::MAX);
            if let Some(bytes) = data.get(a..b) {
                self.captured = self.captured.saturating_add(bytes.len() as u64);
                let head = std::mem::take(&mut self.fresh);
                self.emit_data(from, bytes, self.now, head, out);
            }
        }
        let g = from.max(data_end);
        if to > g {
            self.emit_gap(g, to - g, out);
        }
    }

    /// Buffer an out-of-order segment (`s > delivered`), giving up holes as needed
    /// to stay within the caps.
    fn insert_or_give_up(
        &mut self,
        s: u64,
        data: &[u8],
        end: u64,
        budget: &mut MemBudget,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        let data_end = s.saturating_add(data.len() as u64);
        loop {
            if self.delivered >= end {
                return;
            }
            if s <= self.delivered {
                // Giving up holes made the segment in order: pass its new part.
                let from = self.delivered;
                let skip = usize::try_from(from - s)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                self.pass(from, &data[skip..], end, budget, out);
                return;
            }
            let pieces = self.uncovered(s, end, data_end);
            if pieces.is_empty() {
                return;
            }
            let cost = pieces.iter().fold(0usize, |acc, &(a, b, is_data)| {
                let bytes = if is_data {
                    usize::try_from(b - a).unwrap_or(usize::MAX)
                } else {
                    0
                };
                acc.saturating_add(bytes)
                    .saturating_add(Self::ENTRY_OVERHEAD)
            });
            let fits = self.buffered.saturating_add(cost) <= self.cap
                && budget.used.saturating_add(cost) <= budget.limit;
            if fits {
                for (a, b, is_data) in pieces {
                    let piece = if is_data {
                        let i = usize::try_from(a - s).unwrap_or(usize::MAX);
                        let j = usize::try_from(b - s).unwrap_or(usize::MAX);
                        let Some(bytes) = data.get(i..j) else {
                            continue;
                        };
                        self.captured = self.captured.saturating_add(bytes.len() as u64);
                        Piece::Data(bytes.to_vec(), self.now, std::mem::take(&mut self.fresh))
                    } else {
                        Piece::Gap(b - a)
                    };
                    let c = piece.cost();
                    self.buffered = self.buffered.saturating_add(c);
                    budget.used = budget.used.saturating_add(c);
                    self.buf.insert(a, piece);
                }
                return;
            }
            // Does not fit: give up the oldest hole.
            self.giveups += 1;
            let from = self.delivered;
            match self.buf.keys().next().copied() {
                Some(k) if k < s => {
                    self.emit_gap(from, k - from, out);
                    self.delivered = k;
                    self.drain_ready(budget, out);
                }
                _ => {
                    self.emit_gap(from, s - from, out);
                    self.delivered = s;
                }
            }
        }
    }

    /// Whether buffered pieces cover `[a, b)` without a hole.
    fn buffered_through(&self, a: u64, b: u64) -> bool {
        let mut cur = a;
        if let Some((&k, p)) = self.buf.range(..=a).next_back() {
            cur = cur.max(k.saturating_add(p.len()));
        }
        for (&k, p) in self.buf.range(a..b) {
            if k > cur {
                return false;
            }
            cur = cur.max(k.saturating_add(p.len()));
        }
        cur >= b
    }

    /// Sub-ranges of `[s, e)` not covered by buffered pieces, split at `data_end`
    /// into data pieces (`true`) and known-missing pieces (`false`).
    fn uncovered(&self, s: u64, e: u64, data_end: u64) -> Vec<(u64, u64, bool)> {
        if s >= e {
            return Vec::new();
        }
        let mut holes: Vec<(u64, u64)> = Vec::new();
        let mut cur = s;
        if let Some((&k, p)) = self.buf.range(..s).next_back() {
            cur = cur.max(k.saturating_add(p.len()));
        }
        for (&k, p) in self.buf.range(s..e) {
            if k > cur {
                holes.push((cur, k));
            }
            cur = cur.max(k.saturating_add(p.len()));
        }
        if cur < e {
            holes.push((cur, e));
        }
        let mut pieces = Vec::with_capacity(holes.len() + 1);
        for (a, b) in holes {
            if a < data_end {
                pieces.push((a, b.min(data_end), true));
            }
            if b > data_end {
                pieces.push((a.max(data_end), b, false));
            }
        }
        pieces
    }

    /// Count buffered data pieces that `data` (at offset `s`) overlaps with
    /// different content.
    fn count_conflicts(&mut self, s: u64, data: &[u8]) {
        let e = s.saturating_add(data.len() as u64);
        if s >= e {
            return;
        }
        let before = self.buf.range(..s).next_back();
        let mut differs = 0;
        for (&k, p) in before.into_iter().chain(self.buf.range(s..e)) {
            let Piece::Data(v, _, _) = p else { continue };
            let a = k.max(s);
            let b = k.saturating_add(v.len() as u64).min(e);
            if a >= b {
                continue;
            }
            let mine = data.get(idx(a - s)..idx(b - s));
            let theirs = v.get(idx(a - k)..idx(b - k));
            if mine != theirs {
                differs += 1;
            }
        }
        self.conflicts = self.conflicts.saturating_add(differs);
    }

    /// Deliver buffered pieces that start at or before the delivered point.
    fn drain_ready(&mut self, budget: &mut MemBudget, out: &mut dyn FnMut(Chunk<'_>)) {
        while let Some(entry) = self.buf.first_entry() {
            let k = *entry.key();
            if k > self.delivered {
                break;
            }
            let piece = entry.remove();
            let c = piece.cost();
            self.buffered = self.buffered.saturating_sub(c);
            budget.used = budget.used.saturating_sub(c);
            let end = k.saturating_add(piece.len());
            // Not expected (pieces start after the delivered point), but keep the
            // byte accounting exact if a piece was partly delivered another way.
            let skip = self.delivered - k;
            if let Piece::Data(..) = piece {
                self.captured = self
                    .captured
                    .saturating_sub(skip.min(end.saturating_sub(k)));
            }
            if end <= self.delivered {
                continue;
            }
            let from = self.delivered;
            match piece {
                Piece::Data(v, ts, head) => {
                    let bytes = v.get(idx(skip)..).unwrap_or(&[]);
                    self.emit_data(from, bytes, ts, head, out);
                }
                Piece::Gap(_) => self.emit_gap(from, end - from, out),
            }
            self.delivered = end;
        }
    }

    /// Deliver everything up to `target`: buffered pieces as they are, holes as gaps;
    /// then whatever is contiguous after.
    fn advance_to(&mut self, target: u64, budget: &mut MemBudget, out: &mut dyn FnMut(Chunk<'_>)) {
        loop {
            self.drain_ready(budget, out);
            if self.delivered >= target {
                break;
            }
            let stop = self
                .buf
                .keys()
                .next()
                .copied()
                .unwrap_or(u64::MAX)
                .min(target);
            let from = self.delivered;
            self.emit_gap(from, stop - from, out);
            self.delivered = stop;
        }
    }

    fn emit_data(
        &mut self,
        offset: u64,
        bytes: &[u8],
        ts: Timestamp,
        new_segment: bool,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        if bytes.is_empty() {
            return;
        }
        self.finish(out);
        out(Chunk::Data {
            offset,
            bytes,
            ts,
            new_segment,
        });
    }

    fn emit_gap(&mut self, offset: u64, len: u64, out: &mut dyn FnMut(Chunk<'_>)) {
        if len == 0 {
            return;
        }
        match &mut self.pending_gap {
            Some((o, l)) if o.saturating_add(*l) == offset => *l = l.saturating_add(len),
            _ => {
                self.finish(out);
                self.pending_gap = Some((offset, len));
            }
        }
    }

    /// Hand out the pending gap, if any.
    fn finish(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        if let Some((offset, len)) = self.pending_gap.take() {
            self.gaps = self.gaps.saturating_add(1);
            self.gap_bytes = self.gap_bytes.saturating_add(len);
            out(Chunk::Gap { offset, len });
        }
    }
}

/// A stream distance as a slice index (saturating; callers bound it by a slice length).
fn idx(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An owned copy of a chunk, for assertions.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum O {
        D(u64, Vec<u8>),
        G(u64, u64),
    }

    fn own(c: Chunk<'_>) -> O {
        match c {
            Chunk::Data { offset, bytes, .. } => O::D(offset, bytes.to_vec()),
            Chunk::Gap { offset, len } => O::G(offset, len),
        }
    }

    fn d(off: u64, b: &[u8]) -> O {
        O::D(off, b.to_vec())
    }

    /// A stream plus its budget, with helpers that collect the chunks of one call.
    /// Without a reorder window (acks close holes at once) unless [`T::window`] says.
    struct T {
        h: HalfStream,
        b: MemBudget,
        now: Clock,
    }

    impl T {
        fn syn(isn: u32) -> Self {
            T::new(Some(isn))
        }
        fn mid() -> Self {
            T::new(None)
        }
        fn new(isn: Option<u32>) -> Self {
            let mut h = HalfStream::new(isn);
            h.set_reorder_window(ReorderWindow::OFF);
            T {
                h,
                b: MemBudget::new(usize::MAX),
                now: Clock::default(),
            }
        }
        fn window(mut self, packets: u64, bytes: u64, time_ns: i64) -> Self {
            self.h.set_reorder_window(ReorderWindow {
                packets,
                bytes,
                time_ns,
            });
            self
        }
        /// The connection moves on by one packet of `bytes` payload bytes, `ns` later;
        /// returns what the window closed.
        fn tick(&mut self, bytes: u64, ns: i64) -> Vec<O> {
            self.now.packets += 1;
            self.now.bytes += bytes;
            self.now.ts_ns += ns;
            let mut v = Vec::new();
            self.h.tick(self.now, &mut self.b, &mut |c| v.push(own(c)));
            v
        }
        fn seg(&mut self, seq: u32, p: &[u8]) -> Vec<O> {
            self.seg_full(seq, p, p.len() as u32, false)
        }
        fn seg_full(&mut self, seq: u32, p: &[u8], wire: u32, fin: bool) -> Vec<O> {
            let mut v = Vec::new();
            self.h
                .segment(seq, p, wire, fin, &mut self.b, &mut |c| v.push(own(c)));
            v
        }
        fn ack(&mut self, ack: u32) -> Vec<O> {
            let mut v = Vec::new();
            self.h
                .acked(ack, false, self.now, &mut self.b, &mut |c| v.push(own(c)));
            v
        }
        /// An ack that came with the peer's own data.
        fn ack_answered(&mut self, ack: u32) -> Vec<O> {
            let mut v = Vec::new();
            self.h
                .acked(ack, true, self.now, &mut self.b, &mut |c| v.push(own(c)));
            v
        }
        fn flush(&mut self) -> Vec<O> {
            let mut v = Vec::new();
            self.h.flush(&mut self.b, &mut |c| v.push(own(c)));
            assert_eq!(self.h.buffered(), 0);
            assert_eq!(self.b.used, 0);
            v
        }
    }

    const ISN: u32 = 1000;
    const S: u32 = ISN + 1; // sequence number of offset 0

    #[test]
    fn in_order_passes_through() {
        let mut t = T::syn(ISN);
        assert_eq!(t.seg(S, b"hello"), vec![d(0, b"hello")]);
        assert_eq!(t.seg(S + 5, b" world"), vec![d(5, b" world")]);
        assert_eq!(t.h.buffered(), 0);
        assert_eq!(t.h.seq_bytes(), 11);
        assert_eq!(t.h.captured_bytes(), 11);
        assert_eq!(t.h.delivered(), 11);
        assert_eq!(t.flush(), vec![]);
        assert_eq!(t.h.gaps(), 0);
    }

    #[test]
    fn bytes_keep_the_time_of_their_own_packet() {
        // Out of order, then released by the packet that fills the hole, or by an ACK
        // giving the hole up: each piece is handed out with its own packet's time.
        let mut h = HalfStream::new(Some(ISN));
        let mut b = MemBudget::new(usize::MAX);
        let mut got: Vec<(u64, i64)> = Vec::new();
        let feed = |h: &mut HalfStream, b: &mut MemBudget, t: i64, seq: u32, p: &[u8]| {
            let mut v = Vec::new();
            h.set_time(Timestamp(t));
            h.segment(seq, p, p.len() as u32, false, b, &mut |c| {
                if let Chunk::Data { offset, ts, .. } = c {
                    v.push((offset, ts.0));
                }
            });
            v
        };
        got.extend(feed(&mut h, &mut b, 20, S + 5, b"world"));
        assert!(got.is_empty());
        got.extend(feed(&mut h, &mut b, 30, S, b"hello"));
        assert_eq!(got, vec![(0, 30), (5, 20)]);
        // A piece after a hole that is never filled: released by the ACK with its time.
        let _ = feed(&mut h, &mut b, 40, S + 20, b"late");
        h.set_time(Timestamp(50));
        let mut v = Vec::new();
        h.acked(S + 24, true, Clock::default(), &mut b, &mut |c| {
            if let Chunk::Data { offset, ts, .. } = c {
                v.push((offset, ts.0));
            }
        });
        assert_eq!(v, vec![(20, 40)]);
    }

    #[test]
    fn in_order_borrows_caller_slice() {
        let mut h = HalfStream::new(Some(ISN));
        let mut b = MemBudget::new(0);
        let payload = b"abc".to_vec();
        let mut same = false;
        h.segment(S, &payload, 3, false, &mut b, &mut |c| {
            if let Chunk::Data { bytes, .. } = c {
                same = std::ptr::eq(bytes.as_ptr(), payload.as_ptr());
            }
        });
        assert!(same, "fast path must not copy");
    }

    #[test]
    fn retransmission_delivered_once() {
        let mut t = T::syn(ISN);
        assert_eq!(t.seg(S, b"hello"), vec![d(0, b"hello")]);
        assert_eq!(t.seg(S, b"hello"), vec![]);
        assert_eq!(t.seg(S + 1, b"ell"), vec![]);
        assert_eq!(t.h.captured_bytes(), 5);
    }

    #[test]
    fn overlap_left_delivers_new_part() {
        let mut t = T::syn(ISN);
        t.seg(S, b"hello");
        assert_eq!(t.seg(S + 3, b"lo wo"), vec![d(5, b" wo")]);
        assert_eq!(t.h.captured_bytes(), 8);
    }

    #[test]
    fn overlap_right_first_copy_wins() {
        let mut t = T::syn(ISN);
        assert_eq!(t.seg(S + 5, b"FGHIJ"), vec![]);
        // Overlaps the buffered piece with different bytes: only [3,5) is new.
        assert_eq!(t.seg(S + 3, b"xxxxx"), vec![]);
        assert_eq!(t.h.overlap_conflicts(), 1);
        assert_eq!(
            t.seg(S, b"abc"),
            vec![d(0, b"abc"), d(3, b"xx"), d(5, b"FGHIJ")]
        );
        assert_eq!(t.h.captured_bytes(), 10);
        assert_eq!(t.flush(), vec![]);
    }

    #[test]
    fn overlap_inside_and_in_order_over_buffer() {
        let mut t = T::syn(ISN);
        assert_eq!(t.seg(S + 2, b"cdefgh"), vec![]);
        assert_eq!(t.seg(S + 4, b"ef"), vec![]); // fully covered, same content
        assert_eq!(t.h.overlap_conflicts(), 0);
        // In-order segment spanning the buffered piece and beyond.
        assert_eq!(
            t.seg(S, b"abCDEFGHij"),
            vec![d(0, b"ab"), d(2, b"cdefgh"), d(8, b"ij")]
        );
        assert_eq!(t.h.overlap_conflicts(), 1);
        assert_eq!(t.h.captured_bytes(), 10);
        assert_eq!(t.h.buffered(), 0);
        assert_eq!(t.b.used, 0);
    }

    #[test]
    fn reorder_and_hole_filled_later() {
        let mut t = T::syn(ISN);
        assert_eq!(t.seg(S, b"abc"), vec![d(0, b"abc")]);
        assert_eq!(t.seg(S + 6, b"ghi"), vec![]);
        assert!(t.h.buffered() >= 3);
        assert_eq!(t.b.used, t.h.buffered());
        assert_eq!(t.seg(S + 9, b"jk"), vec![]);
        assert_eq!(
            t.seg(S + 3, b"def"),
            vec![d(3, b"def"), d(6, b"ghi"), d(9, b"jk")]
        );
        assert_eq!(t.h.buffered(), 0);
        assert_eq!(t.b.used, 0);
        assert_eq!(t.h.seq_bytes(), 11);
    }

    #[test]
    fn hole_never_filled_then_flush() {
        let mut t = T::syn(ISN);
        t.seg(S, b"abc");
        t.seg(S + 6, b"ghi");
        assert_eq!(t.flush(), vec![O::G(3, 3), d(6, b"ghi")]);
        assert_eq!(t.h.gaps(), 1);
        assert_eq!(t.h.gap_bytes(), 3);
        assert_eq!(t.h.captured_bytes(), 6);
        assert_eq!(t.h.seq_bytes(), 9);
        // Late arrival of the hole is a retransmission now.
        assert_eq!(t.seg(S + 3, b"def"), vec![]);
    }

    #[test]
    fn flush_invents_no_trailing_gap() {
        let mut t = T::syn(ISN);
        t.seg(S, b"abc");
        assert_eq!(t.flush(), vec![]);
        assert_eq!(t.h.seq_bytes(), 3);
    }

    #[test]
    fn hole_then_acked() {
        let mut t = T::syn(ISN);
        t.seg(S, b"abc");
        t.seg(S + 6, b"ghi");
        t.seg(S + 12, b"mn");
        // Ack inside the buffered piece: hole before it is a gap, piece and
        // everything contiguous after it is delivered.
        assert_eq!(t.ack(S + 7), vec![O::G(3, 3), d(6, b"ghi")]);
        assert_eq!(t.ack(S + 7), vec![]); // behind now
        assert_eq!(t.ack(S + 2), vec![]);
        // Ack past everything seen: gap up to the ack (bytes the peer got).
        assert_eq!(t.ack(S + 16), vec![O::G(9, 3), d(12, b"mn"), O::G(14, 2)]);
        assert_eq!(t.h.seq_bytes(), 16);
        assert_eq!(t.h.captured_bytes() + t.h.gap_bytes(), 16);
        assert_eq!(t.flush(), vec![]);
    }

    #[test]
    fn implausible_acks_ignored() {
        let mut t = T::syn(ISN);
        t.seg(S + 3, b"def");
        assert_eq!(t.ack(S.wrapping_add(0x7000_0000)), vec![]); // > 1 GiB ahead
        assert_eq!(t.ack(S.wrapping_sub(5)), vec![]); // behind origin
        assert_eq!(t.ack(S.wrapping_add(0x9000_0000)), vec![]); // "behind" by unwrap
        assert_eq!(t.h.delivered(), 0);
        // Mid-way stream: acks before any segment are ignored.
        let mut m = T::mid();
        assert_eq!(m.ack(12345), vec![]);
        assert_eq!(m.seg(20000, b"x"), vec![d(0, b"x")]);
    }

    #[test]
    fn ack_clamped_at_fin() {
        let mut t = T::syn(ISN);
        t.seg(S, b"ab");
        assert_eq!(t.seg_full(S + 4, b"ef", 2, true), vec![]);
        assert_eq!(t.h.fin_offset(), Some(6));
        // The ack of the FIN is one past the data.
        assert_eq!(t.ack(S + 7), vec![O::G(2, 2), d(4, b"ef")]);
        assert!(t.h.is_finished());
        assert_eq!(t.h.seq_bytes(), 6);
    }

    #[test]
    fn wrap_with_syn_near_max() {
        let isn = u32::MAX - 2; // offset 0 = u32::MAX - 1
        let mut t = T::syn(isn);
        let s0 = isn.wrapping_add(1);
        assert_eq!(t.seg(s0, b"ab"), vec![d(0, b"ab")]); // MAX-1, MAX
                                                         // Out of order across the wrap, then fill.
        assert_eq!(t.seg(3, b"fg"), vec![]); // offsets 5..7
        assert_eq!(t.seg(0, b"cde"), vec![d(2, b"cde"), d(5, b"fg")]);
        assert_eq!(t.seg(u32::MAX, b"b"), vec![]); // retransmission before the wrap
        assert_eq!(t.h.seq_bytes(), 7);
        assert_eq!(t.ack(5), vec![]);
        assert_eq!(t.ack(7), vec![O::G(7, 2)]);
    }

    #[test]
    fn wrap_mid_stream() {
        let mut t = T::mid();
        let s0 = u32::MAX - 3;
        assert_eq!(t.seg(s0, b"abcd"), vec![d(0, b"abcd")]);
        assert_eq!(t.seg(2, b"gh"), vec![]); // offsets 6..8
        assert_eq!(t.seg(0, b"ef"), vec![d(4, b"ef"), d(6, b"gh")]);
        // A segment before the mid-way origin is a retransmission.
        assert_eq!(t.seg(s0 - 10, b"0123456789"), vec![]);
        // Partly before the origin (starts 2 before): only the new part.
        assert_eq!(t.seg(s0 - 2, &[0u8; 12]), vec![d(8, &[0, 0])]);
    }

    #[test]
    fn stream_longer_than_4gib_keeps_counting() {
        let mut t = T::syn(7);
        let mut seq = 8u32;
        let step: u32 = 1 << 30;
        // Five 1 GiB segments the snap length cut to nothing.
        for i in 0..5u64 {
            assert_eq!(
                t.seg_full(seq, &[], step, false),
                vec![O::G(i << 30, 1 << 30)]
            );
            seq = seq.wrapping_add(step);
        }
        assert_eq!(t.seg(seq, b"z"), vec![d(5 << 30, b"z")]);
        assert_eq!(t.h.seq_bytes(), (5 << 30) + 1);
        assert_eq!(t.h.captured_bytes(), 1);
    }

    #[test]
    fn snaplen_cut_segment() {
        let mut t = T::syn(ISN);
        assert_eq!(
            t.seg_full(S, b"abc", 10, false),
            vec![d(0, b"abc"), O::G(3, 7)]
        );
        assert_eq!(t.h.seq_bytes(), 10);
        assert_eq!(t.h.captured_bytes(), 3);
        // Out of order cut segment: tail buffered as a known gap.
        assert_eq!(t.seg_full(S + 15, b"pq", 5, false), vec![]);
        assert_eq!(
            t.seg(S + 10, b"klmno"),
            vec![d(10, b"klmno"), d(15, b"pq"), O::G(17, 3)]
        );
        // A later full copy of the cut tail does not replace it (first copy wins).
        assert_eq!(t.seg(S + 17, b"rst"), vec![]);
        assert_eq!(t.h.seq_bytes(), 20);
        assert_eq!(t.h.captured_bytes() + t.h.gap_bytes(), 20);
        // wire_len below the payload length: payload wins.
        assert_eq!(t.seg_full(S + 20, b"uv", 0, false), vec![d(20, b"uv")]);
    }

    #[test]
    fn adjacent_gaps_merge_within_a_call() {
        let mut t = T::syn(ISN);
        t.seg_full(S + 5, b"", 5, false); // known gap [5,10)
        t.seg(S + 10, b"k");
        assert_eq!(t.flush(), vec![O::G(0, 10), d(10, b"k")]);
        assert_eq!(t.h.gaps(), 1);
    }

    #[test]
    fn fin_then_data_ignored() {
        let mut t = T::syn(ISN);
        assert_eq!(t.seg_full(S, b"abc", 3, true), vec![d(0, b"abc")]);
        assert!(t.h.is_finished());
        assert_eq!(t.seg(S + 3, b"zzz"), vec![]);
        assert_eq!(t.seg(S + 1, b"bcdef"), vec![]);
        assert_eq!(t.h.seq_bytes(), 3);
        assert_eq!(t.flush(), vec![]);
    }

    #[test]
    fn fin_ahead_of_hole() {
        let mut t = T::syn(ISN);
        t.seg(S, b"ab");
        // Bare FIN at offset 5: bytes 2..5 exist but were not captured.
        assert_eq!(t.seg_full(S + 5, b"", 0, true), vec![]);
        assert_eq!(t.h.seq_bytes(), 5);
        assert_eq!(t.seg(S + 3, b"de"), vec![]);
        assert_eq!(t.seg(S + 4, b"EFG"), vec![]); // clipped at the FIN
        assert_eq!(t.flush(), vec![O::G(2, 1), d(3, b"de")]);
        assert!(t.h.is_finished());
        assert_eq!(t.h.captured_bytes() + t.h.gap_bytes(), 5);
    }

    #[test]
    fn fin_never_cuts_data_already_seen() {
        let mut t = T::syn(ISN);
        t.seg(S + 5, b"fgh");
        t.seg_full(S, b"ab", 2, true); // bogus early FIN
        assert_eq!(t.h.fin_offset(), Some(8));
        assert_eq!(t.flush(), vec![O::G(2, 3), d(5, b"fgh")]);
    }

    #[test]
    fn keep_alive_is_not_data() {
        let mut t = T::syn(ISN);
        t.seg(S, b"hello");
        assert_eq!(t.seg(S + 4, b"\0"), vec![]);
        assert_eq!(t.seg(S + 4, b""), vec![]);
        assert_eq!(t.seg(S + 5, b""), vec![]);
        assert_eq!(t.h.seq_bytes(), 5);
        assert_eq!(t.h.captured_bytes(), 5);
        // Keep-alive right after the SYN (seq = isn).
        let mut u = T::syn(ISN);
        assert_eq!(u.seg(ISN, b"\0"), vec![]);
        assert_eq!(u.h.seq_bytes(), 0);
        // A zero-length keep-alive does not set the origin of a mid-way stream.
        let mut m = T::mid();
        assert_eq!(m.seg(499, b""), vec![]);
        assert_eq!(m.seg(500, b"x"), vec![d(0, b"x")]);
    }

    #[test]
    fn per_direction_cap_gives_up_hole() {
        let mut t = T::syn(ISN);
        let piece = vec![7u8; 64 * 1024];
        t.seg(S, b"a");
        // Hole at [1, 100); then 64 KiB pieces until the cap is hit.
        let mut off = 100u32;
        let mut outs = Vec::new();
        for _ in 0..20 {
            outs.extend(t.seg(S + off, &piece));
            assert!(t.h.buffered() <= HalfStream::MAX_BUFFERED);
            off += piece.len() as u32;
        }
        // The 16th piece did not fit: the hole became a gap and all buffered pieces
        // plus the rest passed through.
        assert_eq!(outs.first(), Some(&O::G(1, 99)));
        let data: u64 = outs
            .iter()
            .map(|o| match o {
                O::D(_, b) => b.len() as u64,
                O::G(..) => 0,
            })
            .sum();
        assert_eq!(data, 20 * 64 * 1024);
        assert_eq!(t.h.buffered(), 0);
        assert_eq!(t.b.used, 0);
    }

    #[test]
    fn small_per_direction_cap() {
        let mut t = T::syn(ISN);
        t.h.set_max_buffered(2 * (HalfStream::ENTRY_OVERHEAD + 2));
        assert_eq!(t.seg(S + 10, b"kl"), vec![]);
        assert_eq!(t.seg(S + 12, b"mn"), vec![]);
        // Cap reached: give up [0,10), deliver kl..mn, then this one in order.
        assert_eq!(
            t.seg(S + 14, b"op"),
            vec![O::G(0, 10), d(10, b"kl"), d(12, b"mn"), d(14, b"op")]
        );
        // Nothing buffered that could help: gap up to the segment, pass it.
        t.h.set_max_buffered(0);
        assert_eq!(t.seg(S + 20, b"uv"), vec![O::G(16, 4), d(20, b"uv")]);
        // Bytes of a given-up hole arriving later are dropped.
        assert_eq!(t.seg(S + 16, b"qrst"), vec![]);
    }

    #[test]
    fn global_budget_shared_between_streams() {
        let mut b = MemBudget::new(2 * (HalfStream::ENTRY_OVERHEAD + 10));
        let mut x = HalfStream::new(Some(0));
        let mut y = HalfStream::new(Some(0));
        let mut v = Vec::new();
        x.segment(11, &[1; 10], 10, false, &mut b, &mut |c| v.push(own(c)));
        x.segment(31, &[2; 10], 10, false, &mut b, &mut |c| v.push(own(c)));
        assert!(v.is_empty());
        assert_eq!(b.used, x.buffered());
        assert_eq!(b.used, b.limit);
        // y cannot buffer anything: gives up its hole and passes the segment.
        y.segment(6, &[3; 5], 5, false, &mut b, &mut |c| v.push(own(c)));
        assert_eq!(v, vec![O::G(0, 5), O::D(5, vec![3; 5])]);
        v.clear();
        // x's next out-of-order segment gives up x's oldest hole.
        x.segment(51, &[4; 1], 1, false, &mut b, &mut |c| v.push(own(c)));
        assert_eq!(v[0], O::G(0, 10));
        assert_eq!(v[1], O::D(10, vec![1; 10]));
        assert!(b.used <= b.limit);
        v.clear();
        x.flush(&mut b, &mut |c| v.push(own(c)));
        y.flush(&mut b, &mut |c| v.push(own(c)));
        assert_eq!(b.used, 0);
    }

    #[test]
    fn zero_budget_never_buffers() {
        let mut t = T::syn(ISN);
        t.b = MemBudget::new(0);
        assert_eq!(t.seg(S + 3, b"d"), vec![O::G(0, 3), d(3, b"d")]);
        assert_eq!(t.seg_full(S + 8, b"", 2, false), vec![O::G(4, 6)]);
        assert_eq!(t.h.buffered(), 0);
    }

    #[test]
    fn default_is_mid_way_stream() {
        let mut h = HalfStream::default();
        let mut b = MemBudget::new(1 << 20);
        let mut v = Vec::new();
        h.segment(42, b"x", 1, false, &mut b, &mut |c| v.push(own(c)));
        assert_eq!(v, vec![d(0, b"x")]);
    }

    #[test]
    fn extreme_values_do_not_panic() {
        let mut t = T::mid();
        t.seg_full(u32::MAX, &[], u32::MAX, true);
        t.seg_full(0, b"abc", u32::MAX, false);
        t.ack(u32::MAX);
        t.ack(0);
        t.seg_full(0x8000_0000, b"x", u32::MAX, true);
        let mut u = T::syn(u32::MAX);
        u.seg_full(0x7fff_ffff, &[1; 3], u32::MAX, false);
        u.seg_full(0x8000_0000, &[1; 3], u32::MAX, false);
        u.ack(0x7fff_ffff);
        u.flush();
        t.flush();
    }

    // ---- reorder window ----

    /// The window used by the reorder tests unless one bound is under test.
    const BIG: (u64, u64, i64) = (1_000, 1 << 20, 1_000_000_000);

    #[test]
    fn ack_before_late_segment_waits_and_the_segment_fills_the_hole() {
        let mut t = T::syn(ISN).window(BIG.0, BIG.1, BIG.2);
        assert_eq!(t.seg(S, b"abcd"), vec![d(0, b"abcd")]);
        assert_eq!(t.seg(S + 8, b"ijkl"), vec![]);
        // The receiver acknowledges all 12 bytes before the capture shows bytes 4..8.
        assert_eq!(t.ack(S + 12), vec![]);
        assert_eq!(t.tick(0, 1_000), vec![]);
        assert_eq!(t.seg(S + 4, b"efgh"), vec![d(4, b"efgh"), d(8, b"ijkl")]);
        assert_eq!(t.h.reordered_segments(), 1);
        assert_eq!(t.flush(), vec![]);
        assert_eq!(t.h.gaps(), 0);
        assert_eq!(t.h.window_expiries(), 0);
        assert_eq!(t.h.seq_bytes(), 12);
    }

    #[test]
    fn an_ack_with_the_peers_data_closes_holes_at_once() {
        let mut t = T::syn(ISN).window(BIG.0, BIG.1, BIG.2);
        t.seg(S, b"USER a\r\n");
        t.seg(S + 16, b"PWD\r\n");
        assert_eq!(t.ack(S + 12), vec![]);
        // The server's reply acknowledges the lost command: a gap now, not later.
        assert_eq!(t.ack_answered(S + 21), vec![O::G(8, 8), d(16, b"PWD\r\n")]);
        assert_eq!(t.h.window_expiries(), 0);
        assert_eq!(t.seg(S + 8, b"PASS b\r\n"), vec![]);
        assert_eq!(t.flush(), vec![]);
    }

    #[test]
    fn reordered_segments_each_begin_once() {
        let mut h = HalfStream::new(Some(ISN));
        let mut b = MemBudget::new(usize::MAX);
        let mut starts = 0;
        let mut count = |c: Chunk<'_>| {
            if let Chunk::Data {
                new_segment: true, ..
            } = c
            {
                starts += 1;
            }
        };
        for (off, p) in [
            (0u32, &b"ab"[..]),
            (4, b"ef"),
            (6, b"gh"),
            (2, b"cd"),
            (8, b"ij"),
        ] {
            h.segment(S + off, p, p.len() as u32, false, &mut b, &mut count);
        }
        // A retransmission brings nothing new and is not counted.
        h.segment(S + 2, b"cd", 2, false, &mut b, &mut count);
        assert_eq!(starts, 5);
    }

    #[test]
    fn the_ack_of_a_fin_after_all_data_leaves_nothing_waiting() {
        let mut t = T::syn(ISN).window(BIG.0, BIG.1, BIG.2);
        t.seg_full(S, b"abc", 3, true);
        assert_eq!(t.ack(S + 4), vec![]);
        assert!(!t.h.holding());
    }

    #[test]
    fn ack_beyond_everything_seen_waits_for_the_bytes() {
        let mut t = T::syn(ISN).window(BIG.0, BIG.1, BIG.2);
        t.seg(S, b"ab");
        assert_eq!(t.ack(S + 6), vec![]);
        assert_eq!(t.seg(S + 2, b"cdef"), vec![d(2, b"cdef")]);
        assert_eq!(t.flush(), vec![]);
        assert_eq!(t.h.gaps(), 0);
    }

    /// Real loss: the window closes by `tick_bytes`/`tick_ns` steps after `ticks_before`
    /// quiet ticks; the gaps are those an ack without a window gives.
    fn expiry_matches_immediate(window: (u64, u64, i64), ticks_before: usize, step: (u64, i64)) {
        let mut now = T::syn(ISN);
        now.seg(S, b"abcd");
        now.seg(S + 8, b"ijkl");
        let at_once = now.ack(S + 14);
        assert_eq!(at_once, vec![O::G(4, 4), d(8, b"ijkl"), O::G(12, 2)]);

        let mut t = T::syn(ISN).window(window.0, window.1, window.2);
        t.seg(S, b"abcd");
        t.seg(S + 8, b"ijkl");
        assert_eq!(t.ack(S + 14), vec![]);
        for i in 0..ticks_before {
            assert_eq!(t.tick(step.0, step.1), vec![], "tick {i}");
        }
        assert_eq!(t.tick(step.0, step.1), at_once);
        assert_eq!(t.h.window_expiries(), 1);
        assert_eq!(t.h.seq_bytes(), 14);
        // The late segment is a retransmission now.
        assert_eq!(t.seg(S + 4, b"efgh"), vec![]);
        assert_eq!(t.h.reordered_segments(), 0);
        assert_eq!(t.flush(), vec![]);
        assert_eq!(
            (t.h.gaps(), t.h.gap_bytes()),
            (now.h.gaps(), now.h.gap_bytes())
        );
    }

    #[test]
    fn window_expires_by_packets() {
        expiry_matches_immediate((3, BIG.1, BIG.2), 3, (0, 0));
    }

    #[test]
    fn window_expires_by_bytes() {
        expiry_matches_immediate((BIG.0, 100, BIG.2), 3, (30, 0));
    }

    #[test]
    fn window_expires_by_time() {
        expiry_matches_immediate((BIG.0, BIG.1, 1_000), 4, (0, 250));
    }

    #[test]
    fn each_ack_waits_its_own_window() {
        let mut t = T::syn(ISN).window(2, BIG.1, BIG.2);
        t.seg(S, b"a");
        t.seg(S + 2, b"c");
        t.ack(S + 3); // hole at 1 acknowledged at packet 0
        t.tick(0, 0);
        t.seg(S + 4, b"e");
        t.ack(S + 5); // hole at 3 acknowledged at packet 1
        assert_eq!(t.tick(0, 0), vec![]);
        assert_eq!(t.tick(0, 0), vec![O::G(1, 1), d(2, b"c")]);
        // Byte 3 still waits for its own window.
        assert_eq!(t.seg(S + 3, b"d"), vec![d(3, b"d"), d(4, b"e")]);
        assert_eq!(t.h.reordered_segments(), 1);
        assert_eq!(t.flush(), vec![]);
        assert_eq!(t.h.gaps(), 1);
    }

    #[test]
    fn buffer_cap_closes_an_acknowledged_hole_early() {
        let mut t = T::syn(ISN).window(BIG.0, BIG.1, BIG.2);
        t.h.set_max_buffered(200);
        t.seg(S, b"a");
        t.seg(S + 10, &[7; 100]);
        assert_eq!(t.ack(S + 110), vec![]);
        // The next piece does not fit beside the first: the hole is given up.
        let v = t.seg(S + 110, &[8; 100]);
        assert_eq!(v[0], O::G(1, 9));
        assert_eq!(v[1], O::D(10, vec![7; 100]));
        assert_eq!(v[2], O::D(110, vec![8; 100]));
        assert_eq!(t.seg(S + 1, &[9; 9]), vec![]);
        assert_eq!(t.flush(), vec![]);
        assert_eq!(t.h.gaps(), 1);
    }

    #[test]
    fn hold_list_cap_closes_the_oldest_hole() {
        use super::super::reorder::MAX_ACK_HOLDS;
        let mut t = T::syn(ISN).window(BIG.0, BIG.1, BIG.2);
        // Every other byte missing, each acknowledged separately.
        let mut out = Vec::new();
        for i in 0..=MAX_ACK_HOLDS as u32 {
            t.seg(S + 2 * i, b"x");
            out.extend(t.ack(S + 2 * i + 2));
        }
        assert_eq!(out, vec![O::G(1, 1), d(2, b"x")]);
        assert_eq!(t.h.window_expiries(), 1);
        // The next hole still waits.
        assert_eq!(t.seg(S + 3, b"y"), vec![d(3, b"y"), d(4, b"x")]);
    }

    #[test]
    fn flush_closes_waiting_holes_up_to_the_ack() {
        let mut t = T::syn(ISN).window(BIG.0, BIG.1, BIG.2);
        t.seg(S, b"abc");
        t.seg(S + 6, b"ghi");
        t.ack(S + 7);
        t.ack(S + 16);
        assert_eq!(t.flush(), vec![O::G(3, 3), d(6, b"ghi"), O::G(9, 7)]);
        assert_eq!(t.h.seq_bytes(), 16);
        assert_eq!(t.h.window_expiries(), 0);
    }

    #[test]
    fn an_ack_over_buffered_bytes_extends_the_last_hold() {
        let mut t = T::syn(ISN).window(2, BIG.1, BIG.2);
        t.seg(S, b"a");
        t.seg(S + 2, b"cdef");
        t.ack(S + 3);
        t.tick(0, 0);
        t.ack(S + 6); // 3..6 was shown: no new hole, no new hold
        t.tick(0, 0);
        assert_eq!(t.tick(0, 0), vec![O::G(1, 1), d(2, b"cdef")]);
        assert_eq!(t.h.window_expiries(), 1);
    }

    /// Segments of one direction in capture order, permuted within `dist` at `pct` %,
    /// some dropped, with the receiver's ACKs where the in-order capture had them.
    /// Returns the events and the per-byte "dropped" flags.
    fn reordered_capture(
        sizes: &[usize],
        dist: usize,
        pct: usize,
        drop_pct: usize,
        rng: &mut Rng,
    ) -> (Vec<RoEv>, Vec<bool>) {
        let mut segs = Vec::new();
        let mut pos = 0;
        for &n in sizes {
            segs.push((pos, pos + n));
            pos += n;
        }
        let mut dropped = vec![false; pos];
        // Displace a segment later by 1..=`dist` slots (after the segment whose slot
        // it takes); sorting keeps every segment within `dist` of its slot.
        let mut keyed: Vec<(usize, bool, usize)> = (0..segs.len())
            .map(|i| {
                let d = if rng.chance(pct) {
                    1 + rng.below(dist)
                } else {
                    0
                };
                (i + d, d > 0, i)
            })
            .collect();
        keyed.sort();
        assert!(keyed
            .iter()
            .enumerate()
            .all(|(s, k)| s.abs_diff(k.2) <= dist));
        let mut evs = Vec::new();
        for (slot, &(_, _, i)) in keyed.iter().enumerate() {
            let (a, b) = segs[i];
            if rng.chance(drop_pct) {
                dropped[a..b].iter_mut().for_each(|x| *x = true);
            } else {
                evs.push(RoEv::Seg(a, b));
            }
            // Delayed ACK after every second slot, of what the in-order capture
            // had delivered by then (the receiver got every segment).
            if slot % 2 == 1 || slot + 1 == segs.len() {
                evs.push(RoEv::Ack(segs[slot].1));
            }
        }
        (evs, dropped)
    }

    #[derive(Debug, Clone, Copy)]
    enum RoEv {
        Seg(usize, usize),
        Ack(usize),
    }

    /// Feed a reordered capture through a stream with the default window, one packet
    /// every 10 µs; returns the chunks and the stream.
    fn feed_reordered(stream: &[u8], isn: u32, evs: &[RoEv]) -> (Vec<O>, HalfStream) {
        let mut h = HalfStream::new(Some(isn));
        let mut b = MemBudget::new(usize::MAX);
        let base = isn.wrapping_add(1);
        let mut now = Clock::default();
        let mut v = Vec::new();
        for ev in evs {
            now.packets += 1;
            now.ts_ns += 10_000;
            if let RoEv::Seg(a, e) = ev {
                now.bytes += (e - a) as u64;
            }
            h.tick(now, &mut b, &mut |c| v.push(own(c)));
            match *ev {
                RoEv::Seg(a, e) => h.segment(
                    base.wrapping_add(a as u32),
                    &stream[a..e],
                    (e - a) as u32,
                    false,
                    &mut b,
                    &mut |c| v.push(own(c)),
                ),
                RoEv::Ack(x) => {
                    h.acked(base.wrapping_add(x as u32), false, now, &mut b, &mut |c| {
                        v.push(own(c))
                    })
                }
            }
            h.check_invariants();
        }
        h.flush(&mut b, &mut |c| v.push(own(c)));
        assert_eq!(b.used, 0);
        (v, h)
    }

    fn reorder_case() -> impl Strategy<Value = (Vec<usize>, usize, usize, u32, u64)> {
        (
            proptest::collection::vec(1usize..1_449, 2..200),
            1usize..=64,
            1usize..=50,
            isn(),
            any::<u64>(),
        )
    }

    proptest! {
        #![proptest_config(crate::testing::prop_config(200))]

        /// Capture reordering within the window loses nothing.
        #[test]
        fn prop_reordered_capture_reassembles_without_gaps(
            (sizes, dist, pct, isn, seed) in reorder_case(),
        ) {
            let mut rng = Rng(seed | 1);
            let total: usize = sizes.iter().sum();
            let stream: Vec<u8> = (0..total).map(|_| rng.next() as u8).collect();
            let (evs, _) = reordered_capture(&sizes, dist, pct, 0, &mut rng);
            let (chunks, h) = feed_reordered(&stream, isn, &evs);
            let mut all = Vec::with_capacity(total);
            for c in &chunks {
                match c {
                    O::D(off, b) => {
                        prop_assert_eq!(*off as usize, all.len());
                        all.extend_from_slice(b);
                    }
                    O::G(..) => prop_assert!(false, "gap without loss: {:?}", c),
                }
            }
            prop_assert!(all == stream, "stream differs");
            prop_assert_eq!(h.gaps(), 0);
            prop_assert_eq!(h.window_expiries(), 0);
        }

        /// With segments dropped as well, the gaps are exactly the dropped bytes.
        #[test]
        fn prop_reordered_capture_with_loss_has_exact_gaps(
            (sizes, dist, pct, isn, seed) in reorder_case(),
            drop_pct in 1usize..=20,
        ) {
            let mut rng = Rng(seed | 1);
            let total: usize = sizes.iter().sum();
            let stream: Vec<u8> = (0..total).map(|_| rng.next() as u8).collect();
            let (evs, dropped) = reordered_capture(&sizes, dist, pct, drop_pct, &mut rng);
            let (chunks, h) = feed_reordered(&stream, isn, &evs);
            // Expected: maximal runs of dropped bytes; ours: adjacent gap chunks merged.
            let mut want = Vec::new();
            let mut i = 0;
            while i < total {
                if dropped[i] {
                    let s = i;
                    while i < total && dropped[i] {
                        i += 1;
                    }
                    want.push((s as u64, (i - s) as u64));
                } else {
                    i += 1;
                }
            }
            let mut got: Vec<(u64, u64)> = Vec::new();
            let mut pos = 0u64;
            for c in &chunks {
                match c {
                    O::D(off, b) => {
                        prop_assert_eq!(*off, pos);
                        let o = *off as usize;
                        prop_assert!(b[..] == stream[o..o + b.len()], "data at {}", o);
                        pos += b.len() as u64;
                    }
                    O::G(off, n) => {
                        prop_assert_eq!(*off, pos);
                        match got.last_mut() {
                            Some((o, l)) if *o + *l == *off => *l += n,
                            _ => got.push((*off, *n)),
                        }
                        pos += n;
                    }
                }
            }
            prop_assert_eq!(pos, total as u64);
            prop_assert_eq!(got, want);
            prop_assert_eq!(h.captured_bytes() + h.gap_bytes(), total as u64);
        }
    }

    // ---- property tests ----

    use proptest::prelude::*;

    /// Small deterministic PRNG (xorshift64*) driven by a proptest seed.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        /// Uniform in [0, n) (n > 0).
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn chance(&mut self, pct: usize) -> bool {
            self.below(100) < pct
        }
    }

    #[derive(Debug, Clone)]
    struct Ev {
        a: usize,
        b: usize,
        /// Captured payload length (< b - a when the snap length cut it).
        cap: usize,
        drop: bool,
        fin: bool,
        /// Content of this copy: stream bytes XOR this (non-zero: a conflicting copy).
        xor: u8,
    }

    #[derive(Debug, Clone, Copy)]
    struct Knobs {
        syn: bool,
        drop_pct: usize,
        cut_pct: usize,
        acks: bool,
        fin: bool,
        conflict: bool,
        limit: usize,
        cap: usize,
    }

    /// Cut the stream into segments, add overlapping re-segmentations, reorder,
    /// and mark some as dropped / snap-length cut.
    fn scenario(len: usize, k: Knobs, rng: &mut Rng) -> Vec<Ev> {
        let max_seg = 1 + rng.below(2000);
        let mut evs = Vec::new();
        let mut pos = 0;
        while pos < len {
            let n = (1 + rng.below(max_seg)).min(len - pos);
            evs.push((pos, pos + n, 0u8));
            pos += n;
        }
        let dups = rng.below(evs.len() / 2 + 3);
        if len > 0 {
            for _ in 0..dups {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(3000)).min(len);
                let xor = if k.conflict && rng.chance(50) {
                    1 + rng.below(255) as u8
                } else {
                    0
                };
                evs.push((a, b, xor));
            }
        }
        let window = [0, 1, 3, 10, 50][rng.below(5)];
        let mut keyed: Vec<(usize, usize, usize, u8)> = evs
            .into_iter()
            .enumerate()
            .map(|(i, (a, b, x))| (i + rng.below(window + 1), a, b, x))
            .collect();
        keyed.sort_by_key(|e| e.0);
        let mut out: Vec<Ev> = keyed
            .into_iter()
            .map(|(_, a, b, xor)| {
                let cap = if rng.chance(k.cut_pct) {
                    rng.below(b - a)
                } else {
                    b - a
                };
                Ev {
                    a,
                    b,
                    cap,
                    drop: rng.chance(k.drop_pct),
                    fin: k.fin && b == len,
                    xor,
                }
            })
            .collect();
        if !k.syn && len > 0 {
            // A mid-way stream's origin is the first segment seen.
            let b = len.min(1 + rng.below(200));
            out.insert(
                0,
                Ev {
                    a: 0,
                    b,
                    cap: b,
                    drop: false,
                    fin: k.fin && b == len,
                    xor: 0,
                },
            );
        }
        out
    }

    struct Run {
        chunks: Vec<O>,
        /// Per offset, what the first fed segment covering it had: `None` (no fed
        /// segment covers it), `Some(None)` (in a cut tail), `Some(Some(byte))`.
        first: Vec<Option<Option<u8>>>,
        expected_end: usize,
        h: HalfStream,
        budget: MemBudget,
    }

    fn run(stream: &[u8], isn: u32, k: Knobs, evs: &[Ev], rng: &mut Rng) -> Run {
        let len = stream.len();
        let mut h = HalfStream::new(if k.syn { Some(isn) } else { None });
        h.set_max_buffered(k.cap);
        h.set_reorder_window(ReorderWindow::OFF);
        let base = isn.wrapping_add(1);
        let mut budget = MemBudget::new(k.limit);
        let mut chunks = Vec::new();
        let mut first: Vec<Option<Option<u8>>> = vec![None; len];
        let mut sent = vec![false; len];
        let mut prefix = 0; // contiguous prefix the receiver got (acks)
        let mut fin_sent = false;
        let mut expected_end = 0;
        let mut fed_any = false;
        for ev in evs {
            let seq = base.wrapping_add(ev.a as u32);
            if !ev.drop {
                let p: Vec<u8> = stream[ev.a..ev.a + ev.cap]
                    .iter()
                    .map(|x| x ^ ev.xor)
                    .collect();
                h.segment(
                    seq,
                    &p,
                    (ev.b - ev.a) as u32,
                    ev.fin,
                    &mut budget,
                    &mut |c| chunks.push(own(c)),
                );
                for (j, f) in first[ev.a..ev.b].iter_mut().enumerate() {
                    if f.is_none() {
                        *f = Some(p.get(j).copied());
                    }
                }
                expected_end = expected_end.max(ev.b);
                fed_any = true;
            }
            sent[ev.a..ev.b].iter_mut().for_each(|x| *x = true);
            // An ack of the FIN only when the capture saw it (otherwise the ack's
            // extra sequence number is indistinguishable from a lost byte).
            fin_sent |= ev.fin && !ev.drop;
            while prefix < len && sent[prefix] {
                prefix += 1;
            }
            if k.acks && fed_any && rng.chance(33) {
                let extra = u32::from(fin_sent && prefix == len && rng.chance(50));
                let ack = base.wrapping_add(prefix as u32).wrapping_add(extra);
                h.acked(ack, false, Clock::default(), &mut budget, &mut |c| {
                    chunks.push(own(c))
                });
                expected_end = expected_end.max(prefix);
            }
            h.check_invariants();
            assert!(h.buffered() <= k.cap, "per-direction cap exceeded");
            assert!(budget.used <= k.limit, "global budget exceeded");
            assert_eq!(budget.used, h.buffered());
        }
        h.flush(&mut budget, &mut |c| chunks.push(own(c)));
        h.check_invariants();
        Run {
            chunks,
            first,
            expected_end,
            h,
            budget,
        }
    }

    /// Checks that hold in every scenario; returns per-offset "is gap" flags.
    fn check_common(r: &Run) -> Vec<bool> {
        assert_eq!(r.budget.used, 0);
        assert_eq!(r.h.buffered(), 0);
        assert_eq!(r.h.seq_bytes(), r.expected_end as u64);
        let mut pos = 0u64;
        let mut gap = vec![false; r.expected_end];
        let (mut data_bytes, mut gap_bytes, mut gaps) = (0u64, 0u64, 0u64);
        for c in &r.chunks {
            match c {
                O::D(off, b) => {
                    assert_eq!(*off, pos, "chunks must tile");
                    assert!(!b.is_empty());
                    let o = *off as usize;
                    for (i, x) in b.iter().enumerate() {
                        assert_eq!(r.first[o + i], Some(Some(*x)), "data at {}", o + i);
                    }
                    pos += b.len() as u64;
                    data_bytes += b.len() as u64;
                }
                O::G(off, n) => {
                    assert_eq!(*off, pos, "chunks must tile");
                    assert!(*n > 0);
                    gap[*off as usize..(*off + *n) as usize]
                        .iter_mut()
                        .for_each(|x| *x = true);
                    pos += n;
                    gap_bytes += n;
                    gaps += 1;
                }
            }
        }
        assert_eq!(pos, r.expected_end as u64, "chunks must reach the end");
        assert_eq!(r.h.captured_bytes(), data_bytes);
        assert_eq!(r.h.gap_bytes(), gap_bytes);
        assert_eq!(r.h.gaps(), gaps);
        assert_eq!(data_bytes + gap_bytes, r.h.seq_bytes());
        // Every byte whose first copy was not captured is a gap.
        for (i, g) in gap.iter().enumerate() {
            if !matches!(r.first[i], Some(Some(_))) {
                assert!(*g, "uncaptured byte {i} delivered as data");
            }
        }
        gap
    }

    fn knobs() -> impl Strategy<Value = Knobs> {
        (
            any::<bool>(),
            prop_oneof![Just(0usize), Just(5), Just(20)],
            prop_oneof![Just(0usize), Just(10)],
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(syn, drop_pct, cut_pct, acks, fin, conflict)| Knobs {
                syn,
                drop_pct,
                cut_pct,
                acks,
                fin,
                conflict,
                limit: usize::MAX,
                cap: HalfStream::MAX_BUFFERED,
            })
    }

    fn isn() -> impl Strategy<Value = u32> {
        prop_oneof![any::<u32>(), (u32::MAX - 40_000)..=u32::MAX]
    }

    proptest! {
        #![proptest_config(crate::testing::prop_config(200))]

        #[test]
        fn prop_reassembles(
            stream in proptest::collection::vec(any::<u8>(), 0..30_000),
            isn in isn(),
            k in knobs(),
            seed in any::<u64>(),
        ) {
            let mut rng = Rng(seed | 1);
            let evs = scenario(stream.len(), k, &mut rng);
            let r = run(&stream, isn, k, &evs, &mut rng);
            let gap = check_common(&r);
            if !k.acks && r.h.buffer_giveups() == 0 {
                // Gaps are exactly the bytes whose first fed copy was not captured
                // (acks may give up holes that a later copy would have filled, and so
                // may a full buffer: thousands of 1-byte pieces exceed the cap).
                for (i, g) in gap.iter().enumerate() {
                    prop_assert_eq!(*g, !matches!(r.first[i], Some(Some(_))), "offset {}", i);
                }
            }
            if k.drop_pct == 0 && k.cut_pct == 0 && !k.conflict {
                // No loss: the output is exactly the stream.
                let mut all = Vec::new();
                for c in &r.chunks {
                    match c {
                        O::D(_, b) => all.extend_from_slice(b),
                        O::G(..) => prop_assert!(false, "gap without loss: {:?}", c),
                    }
                }
                prop_assert_eq!(all, stream);
            }
        }

        #[test]
        fn prop_tiny_budget_stays_bounded(
            stream in proptest::collection::vec(any::<u8>(), 0..20_000),
            isn in isn(),
            k in knobs(),
            limit in prop_oneof![Just(0usize), 0usize..200, 0usize..5_000],
            cap in prop_oneof![Just(HalfStream::MAX_BUFFERED), 0usize..3_000],
            seed in any::<u64>(),
        ) {
            let k = Knobs { limit, cap, ..k };
            let mut rng = Rng(seed | 1);
            let evs = scenario(stream.len(), k, &mut rng);
            let r = run(&stream, isn, k, &evs, &mut rng);
            check_common(&r);
        }

        /// Arbitrary (garbage) segments and acks: no panic, output still tiles,
        /// accounting stays consistent.
        #[test]
        fn prop_garbage_input_tiles(
            syn in proptest::option::of(any::<u32>()),
            ops in proptest::collection::vec(
                (any::<u8>(), any::<u32>(), 0usize..300, any::<u32>(), any::<bool>()),
                0..60,
            ),
            limit in 0usize..2_000,
        ) {
            let mut h = HalfStream::new(syn);
            h.set_max_buffered(1_000);
            h.set_reorder_window(ReorderWindow { packets: 3, bytes: 500, time_ns: 5 });
            let mut now = Clock::default();
            let mut budget = MemBudget::new(limit);
            let mut pos = 0u64;
            let mut data = 0u64;
            let buf = vec![0xabu8; 300];
            let mut check = |c: Chunk<'_>| match c {
                Chunk::Data { offset, bytes, .. } => {
                    assert_eq!(offset, pos);
                    assert!(!bytes.is_empty());
                    pos += bytes.len() as u64;
                    data += bytes.len() as u64;
                }
                Chunk::Gap { offset, len } => {
                    assert_eq!(offset, pos);
                    assert!(len > 0);
                    pos += len;
                }
            };
            for (kind, seq, plen, wire, fin) in ops {
                // Keep most sequence numbers near each other so overlaps happen.
                let seq = if kind & 0x80 == 0 { seq % 4_000 } else { seq };
                now.packets += 1;
                now.bytes += plen as u64;
                now.ts_ns += i64::from(kind & 3);
                match kind % 5 {
                    0 => h.acked(seq, plen > 0, now, &mut budget, &mut check),
                    4 => h.tick(now, &mut budget, &mut check),
                    1 => h.segment(seq, &buf[..plen], wire % 500, fin, &mut budget, &mut check),
                    2 => h.segment(seq, &buf[..plen], wire, fin, &mut budget, &mut check),
                    _ => h.segment(seq, &buf[..plen], plen as u32, false, &mut budget, &mut check),
                }
                prop_assert!(h.buffered() <= 1_000);
                prop_assert!(budget.used <= limit);
                prop_assert!(h.delivered() <= h.seq_bytes());
                h.check_invariants();
            }
            h.flush(&mut budget, &mut check);
            prop_assert_eq!(budget.used, 0);
            prop_assert_eq!(pos, h.seq_bytes());
            prop_assert_eq!(data, h.captured_bytes());
            prop_assert_eq!(data + h.gap_bytes(), h.seq_bytes());
        }
    }
}
