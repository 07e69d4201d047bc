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
//!   ack, so holes before it are capture loss and are delivered as gaps right away.
//!   Callers should feed a segment before the acks that follow it in the capture.
//!
//! Call [`HalfStream::flush`] before dropping a stream that still buffers data, or
//! the shared budget stays charged for it.

use std::collections::BTreeMap;

/// What the reassembler hands the application, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Bytes at stream `offset` (0 = first byte after the SYN / first byte seen).
    Data { offset: u64, bytes: &'a [u8] },
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
    /// Captured bytes that arrived ahead of the delivered point.
    Data(Vec<u8>),
    /// Bytes known to be missing from the capture (snap-length cut tail).
    Gap(u64),
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Data(v) => v.len() as u64,
            Piece::Gap(n) => *n,
        }
    }

    fn cost(&self) -> usize {
        match self {
            Piece::Data(v) => v.len().saturating_add(HalfStream::ENTRY_OVERHEAD),
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
        }
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
        if s == self.delivered {
            self.pass(s, data, hi, budget, out);
        } else {
            self.insert_or_give_up(s, data, hi, budget, out);
        }
        self.finish(out);
    }

    /// The peer acknowledged everything before `ack`: bytes before it that the capture
    /// missed will never arrive; deliver what is buffered and report the holes as gaps.
    ///
    /// Acks at or behind the delivered point, before the origin is known, or more than
    /// [`Self::MAX_ACK_AHEAD`] beyond the highest offset seen are ignored. An ack
    /// beyond the FIN counts up to the FIN.
    pub fn acked(&mut self, ack: u32, budget: &mut MemBudget, out: &mut dyn FnMut(Chunk<'_>)) {
        let Some(origin) = self.origin else {
            return;
        };
        let a = self.unwrap(origin, ack);
        if a <= i128::from(self.delivered) {
            return;
        }
        let Ok(a) = u64::try_from(a) else {
            return;
        };
        if a > self.max_end.saturating_add(Self::MAX_ACK_AHEAD) {
            return;
        }
        let target = self.fin.map_or(a, |f| a.min(f));
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
        let target = self.max_end.max(last);
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

    /// Next stream offset to be delivered (everything before it has been handed out).
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Stream offset of the FIN, once one was seen.
    pub fn fin_offset(&self) -> Option<u64> {
        self.fin
    }

    /// Whether everything up to a FIN has been delivered.
    pub fn is_finished(&self) -> bool {
        self.fin.is_some_and(|f| self.delivered >= f)
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
                self.emit_data(from, bytes, out);
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
                        Piece::Data(bytes.to_vec())
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
            let Piece::Data(v) = p else { continue };
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
            if let Piece::Data(_) = piece {
                self.captured = self
                    .captured
                    .saturating_sub(skip.min(end.saturating_sub(k)));
            }
            if end <= self.delivered {
                continue;
            }
            let from = self.delivered;
            match piece {
                Piece::Data(v) => {
                    let bytes = v.get(idx(skip)..).unwrap_or(&[]);
                    self.emit_data(from, bytes, out);
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

    fn emit_data(&mut self, offset: u64, bytes: &[u8], out: &mut dyn FnMut(Chunk<'_>)) {
        if bytes.is_empty() {
            return;
        }
        self.finish(out);
        out(Chunk::Data { offset, bytes });
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
