//! The reorder window: holes the peer has acknowledged wait, bounded, for late segments.
//!
//! Captures from multi-queue NICs, span ports that merge both directions, or cloud
//! mirrors can show a data segment *after* the receiver's ACK that covers it. An ACK
//! therefore does not prove a hole is capture loss at once: [`AckHolds`] remembers each
//! acknowledged point with the connection's [`Clock`] at that moment, and a hold
//! *expires* (the reassembler then delivers the hole as a gap, exactly as if the ACK had
//! closed it) once the connection has moved on by more than the [`ReorderWindow`] in
//! packets, payload bytes or capture time. Holds that late segments fill simply resolve.

use std::collections::VecDeque;

/// Packets of a connection (both directions) after the ACK during which an
/// acknowledged hole still waits for its late segment.
pub const REORDER_WINDOW_PACKETS: u64 = 256;

/// Payload bytes of a connection (both directions, wire lengths) after the ACK during
/// which an acknowledged hole still waits. Equal to the per-direction buffer cap: data
/// buffered behind the hole cannot exceed it anyway.
pub const REORDER_WINDOW_BYTES: u64 = 1 << 20;

/// Capture time (nanoseconds) after the ACK during which an acknowledged hole still
/// waits. Reordering by capture hardware (NIC queues, span ports merging directions)
/// is microseconds to a few milliseconds; data behind a real loss is delivered this
/// much later than without the window.
pub const REORDER_WINDOW_TIME_NS: i64 = 10_000_000;

/// Most acknowledged points one direction remembers at once; one more closes the
/// oldest hold early (counted as a window expiry). An ack whose new range the
/// capture has already shown in full extends the last hold instead of adding one, so
/// this bounds the holes waiting, not the acks.
pub const MAX_ACK_HOLDS: usize = 256;

/// How far a connection may move on before an acknowledged hole becomes a gap.
///
/// A hold expires when *any* bound is exceeded. `packets == 0` turns the window off:
/// an ACK closes the holes before it at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReorderWindow {
    pub packets: u64,
    pub bytes: u64,
    pub time_ns: i64,
}

impl ReorderWindow {
    /// No window: an ACK makes the holes before it gaps at once.
    pub const OFF: ReorderWindow = ReorderWindow {
        packets: 0,
        bytes: 0,
        time_ns: 0,
    };

    /// Whether holes wait at all.
    pub fn is_off(&self) -> bool {
        self.packets == 0
    }
}

impl Default for ReorderWindow {
    fn default() -> Self {
        ReorderWindow {
            packets: REORDER_WINDOW_PACKETS,
            bytes: REORDER_WINDOW_BYTES,
            time_ns: REORDER_WINDOW_TIME_NS,
        }
    }
}

/// Where a connection is: packets and payload bytes seen on it so far (both
/// directions, the current packet included) and the current capture time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Clock {
    pub packets: u64,
    pub bytes: u64,
    pub ts_ns: i64,
}

impl Clock {
    /// Whether `self` is beyond `since` by more than the window in any dimension.
    fn beyond(&self, since: &Clock, w: &ReorderWindow) -> bool {
        self.packets.saturating_sub(since.packets) > w.packets
            || self.bytes.saturating_sub(since.bytes) > w.bytes
            || self.ts_ns.saturating_sub(since.ts_ns) > w.time_ns
    }
}

/// One acknowledged point still waiting: everything before `target` was acknowledged
/// when the connection was at `opened`.
#[derive(Debug, Clone, Copy)]
struct Hold {
    target: u64,
    opened: Clock,
}

/// Acknowledged points of one direction, oldest first, targets strictly increasing.
#[derive(Debug, Default)]
pub struct AckHolds {
    q: VecDeque<Hold>,
}

impl AckHolds {
    /// Nothing waits (the per-packet fast check).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// Highest acknowledged point waiting.
    pub fn max_target(&self) -> Option<u64> {
        self.q.back().map(|h| h.target)
    }

    /// Remember that everything before `target` was acknowledged at `now`. A target
    /// at or below one already waiting adds nothing. When [`MAX_ACK_HOLDS`] are
    /// waiting, returns the oldest target, which the caller must close now.
    pub fn push(&mut self, target: u64, now: Clock) -> Option<u64> {
        if self.max_target().is_some_and(|t| t >= target) {
            return None;
        }
        let evicted = if self.q.len() >= MAX_ACK_HOLDS {
            self.q.pop_front().map(|h| h.target)
        } else {
            None
        };
        self.q.push_back(Hold {
            target,
            opened: now,
        });
        evicted
    }

    /// Raise the last hold's point to `target` (its clock stays): for an ack whose
    /// range beyond the last point holds no hole.
    pub fn extend_last(&mut self, target: u64) {
        if let Some(h) = self.q.back_mut() {
            h.target = h.target.max(target);
        }
    }

    /// Drop holds whose point has been delivered (late segments filled their holes).
    pub fn resolve(&mut self, delivered: u64) {
        while self.q.front().is_some_and(|h| h.target <= delivered) {
            self.q.pop_front();
        }
    }

    /// Remove the holds that are beyond the window at `now`; returns the highest
    /// expired target and how many expired.
    pub fn expire(&mut self, now: &Clock, w: &ReorderWindow) -> Option<(u64, u64)> {
        let mut last = None;
        let mut n = 0;
        while let Some(h) = self.q.front() {
            if !now.beyond(&h.opened, w) {
                break;
            }
            last = Some(h.target);
            n += 1;
            self.q.pop_front();
        }
        last.map(|t| (t, n))
    }

    /// Forget every hold; returns the highest target.
    pub fn take_all(&mut self) -> Option<u64> {
        let t = self.max_target();
        self.q.clear();
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(packets: u64, bytes: u64, ts_ns: i64) -> Clock {
        Clock {
            packets,
            bytes,
            ts_ns,
        }
    }

    const W: ReorderWindow = ReorderWindow {
        packets: 4,
        bytes: 100,
        time_ns: 1_000,
    };

    #[test]
    fn expires_on_each_bound_alone() {
        for (now, expired) in [
            (at(14, 150, 1_500), false),
            (at(15, 150, 1_500), true),
            (at(11, 201, 1_500), true),
            (at(11, 150, 2_001), true),
        ] {
            let mut h = AckHolds::default();
            h.push(7, at(10, 100, 1_000));
            assert_eq!(h.expire(&now, &W).is_some(), expired, "{now:?}");
        }
    }

    #[test]
    fn expires_oldest_first_and_reports_the_highest() {
        let mut h = AckHolds::default();
        h.push(10, at(1, 0, 0));
        h.push(20, at(2, 0, 0));
        h.push(30, at(9, 0, 0));
        assert_eq!(h.expire(&at(7, 0, 0), &W), Some((20, 2)));
        assert_eq!(h.max_target(), Some(30));
        assert_eq!(h.expire(&at(13, 0, 0), &W), None);
        assert_eq!(h.take_all(), Some(30));
        assert!(h.is_empty());
    }

    #[test]
    fn lower_targets_add_nothing_and_resolve_drops_filled() {
        let mut h = AckHolds::default();
        h.push(10, at(1, 0, 0));
        assert_eq!(h.push(10, at(2, 0, 0)), None);
        assert_eq!(h.push(5, at(2, 0, 0)), None);
        h.push(20, at(3, 0, 0));
        h.resolve(15);
        assert_eq!(h.max_target(), Some(20));
        assert_eq!(h.q.len(), 1);
        h.resolve(20);
        assert!(h.is_empty());
    }

    #[test]
    fn full_queue_hands_back_the_oldest() {
        let mut h = AckHolds::default();
        for i in 0..MAX_ACK_HOLDS as u64 {
            assert_eq!(h.push(i + 1, at(i, 0, 0)), None);
        }
        assert_eq!(h.push(1_000, at(99, 0, 0)), Some(1));
        assert_eq!(h.q.len(), MAX_ACK_HOLDS);
        h.extend_last(2_000);
        assert_eq!(h.max_target(), Some(2_000));
        assert_eq!(h.q.len(), MAX_ACK_HOLDS);
    }

    #[test]
    fn off_window() {
        assert!(ReorderWindow::OFF.is_off());
        assert!(!ReorderWindow::default().is_off());
    }
}
