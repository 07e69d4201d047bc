//! Several capture files read as one capture in time order (k-way merge by timestamp, ties by file order).

use super::{CaptureError, FileSource, Packet, PacketSource, Timestamp};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Open every path (`"-"` is stdin). Files that cannot be opened (or are not captures)
/// come back in the `Vec`, in the order given; the others are merged.
pub fn open_all(paths: &[String]) -> (MergedSource, Vec<CaptureError>) {
    let mut sources = Vec::with_capacity(paths.len());
    let mut errors = Vec::new();
    for p in paths {
        match FileSource::open(p) {
            Ok(s) => sources.push(s),
            Err(e) => errors.push(e),
        }
    }
    (MergedSource::new(sources), errors)
}

/// Packets of several [`FileSource`]s in timestamp order. A damaged input reports its
/// error once through `next_packet`; the merge then continues with the others.
pub struct MergedSource {
    sources: Vec<FileSource>,
    /// (timestamp of the source's current packet, source index), smallest first.
    heap: BinaryHeap<Reverse<(Timestamp, usize)>>,
    /// Sources whose current packet was handed out (or never read): advance them first.
    pending: Vec<usize>,
}

impl MergedSource {
    /// Merge already opened sources; ties in time go to the earlier source.
    pub fn new(sources: Vec<FileSource>) -> Self {
        let n = sources.len();
        MergedSource {
            sources,
            heap: BinaryHeap::with_capacity(n),
            // Popped from the back: reverse so that sources are first read in order.
            pending: (0..n).rev().collect(),
        }
    }

    /// The merged sources, in the order given.
    pub fn sources(&self) -> &[FileSource] {
        &self.sources
    }

    /// Number of sources.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// True when there is nothing to read.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

impl PacketSource for MergedSource {
    #[inline]
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        if self.sources.len() == 1 {
            // One file: no merge work at all.
            return match self.sources.first_mut() {
                Some(s) => s.next_packet(),
                None => Ok(None),
            };
        }
        while let Some(i) = self.pending.pop() {
            let Some(s) = self.sources.get_mut(i) else {
                continue;
            };
            // On error the source is finished: it is not pushed back.
            if s.advance()? {
                if let Some(ts) = s.current_ts() {
                    self.heap.push(Reverse((ts, i)));
                }
            }
        }
        match self.heap.pop() {
            None => Ok(None),
            Some(Reverse((_, i))) => {
                self.pending.push(i);
                Ok(self.sources.get(i).and_then(|s| s.current()))
            }
        }
    }

    fn ts_digits(&self) -> u8 {
        self.sources
            .iter()
            .map(|s| s.ts_digits())
            .max()
            .unwrap_or(0)
    }

    fn progress(&self) -> (u64, Option<u64>) {
        let mut done = 0u64;
        let mut total = Some(0u64);
        for s in &self.sources {
            let (d, t) = s.progress();
            done = done.saturating_add(d);
            total = match (total, t) {
                (Some(a), Some(b)) => Some(a.saturating_add(b)),
                _ => None,
            };
        }
        (done, total)
    }
}
