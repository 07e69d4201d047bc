//! Several capture files read as one capture in time order (k-way merge by timestamp, ties by file order).

use super::file::{ReadMode, DEFAULT_BUFFER};
use super::{CaptureError, FileSource, Packet, PacketSource, Timestamp};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Open every path (`"-"` is stdin). Files that cannot be opened (or are not captures)
/// come back in the `Vec`, in the order given; the others are merged.
pub fn open_all(paths: &[String]) -> (MergedSource, Vec<CaptureError>) {
    open_all_with(paths, ReadMode::Map)
}

/// [`open_all`] with a chosen [`ReadMode`].
pub fn open_all_with(paths: &[String], mode: ReadMode) -> (MergedSource, Vec<CaptureError>) {
    let mut sources = Vec::with_capacity(paths.len());
    let mut errors = Vec::new();
    // Many files: smaller buffers, so that memory stays bounded (8 MiB in all).
    let capacity = (8 * DEFAULT_BUFFER / paths.len().max(1)).clamp(128 * 1024, DEFAULT_BUFFER);
    for p in paths {
        match FileSource::open_with(p, capacity, mode) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::testutil::{gzip, Pcap};
    use crate::capture::CaptureErrorKind;

    fn file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> String {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_string()
    }

    fn pcap(tag: u8, secs: &[u32], nanos: bool) -> Vec<u8> {
        let mut p = Pcap::new(false, nanos, 1);
        for (i, &s) in secs.iter().enumerate() {
            p = p.rec(s, 0, &[tag, i as u8]);
        }
        p.out
    }

    type Seen = Vec<(i64, u8, u8)>;

    /// (seconds, file tag, index in file) of every packet, errors as (offset, packet).
    fn drain(m: &mut MergedSource) -> (Seen, Vec<(u64, u64)>) {
        let mut got = Vec::new();
        let mut errs = Vec::new();
        loop {
            match m.next_packet() {
                Ok(Some(p)) => got.push((p.ts.secs(), p.data[0], p.data[1])),
                Ok(None) => break,
                Err(e) => errs.push((e.offset, e.packet)),
            }
        }
        assert!(matches!(m.next_packet(), Ok(None)));
        (got, errs)
    }

    #[test]
    fn merges_in_time_order_ties_by_file_order() {
        let dir = tempfile::tempdir().unwrap();
        let a = file(&dir, "a.pcap", &pcap(b'a', &[1, 3, 5], false));
        let b = file(&dir, "b.pcap.gz", &gzip(&pcap(b'b', &[2, 3, 4, 9], true)));
        let c = file(&dir, "c.pcap", &pcap(b'c', &[3], false));
        let (mut m, errs) = open_all(&[a, b, c]);
        assert!(errs.is_empty());
        let (got, errs) = drain(&mut m);
        assert!(errs.is_empty());
        let want = vec![
            (1, b'a', 0),
            (2, b'b', 0),
            (3, b'a', 1),
            (3, b'b', 1),
            (3, b'c', 0),
            (4, b'b', 2),
            (5, b'a', 2),
            (9, b'b', 3),
        ];
        assert_eq!(got, want);
        assert_eq!(m.ts_digits(), 9);
        let (done, total) = m.progress();
        assert_eq!(Some(done), total);
    }

    #[test]
    fn unopenable_files_are_returned_and_the_rest_read() {
        let dir = tempfile::tempdir().unwrap();
        let a = file(&dir, "a.pcap", &pcap(b'a', &[1, 2], false));
        let bad = file(&dir, "bad.pcap", b"this is not a capture");
        let missing = dir
            .path()
            .join("missing.pcap")
            .to_str()
            .unwrap()
            .to_string();
        let (mut m, errs) = open_all(&[bad.clone(), a, missing.clone()]);
        assert_eq!(errs.len(), 2);
        assert!(errs.iter().all(|e| e.is_unreadable()));
        assert_eq!(errs[0].path, bad);
        assert!(matches!(errs[0].kind, CaptureErrorKind::BadMagic(_)));
        assert_eq!(errs[1].path, missing);
        assert_eq!(m.len(), 1);
        let (got, errs) = drain(&mut m);
        assert_eq!(got.len(), 2);
        assert!(errs.is_empty());
    }

    #[test]
    fn damaged_file_reports_once_and_merge_continues() {
        let dir = tempfile::tempdir().unwrap();
        let full = pcap(b'a', &[1, 2, 6, 7], false);
        let cut = &full[..full.len() - 3]; // last record cut
        let a = file(&dir, "a.pcap", cut);
        let b = file(&dir, "b.pcap", &pcap(b'b', &[3, 4, 5, 8], false));
        let (mut m, errs) = open_all(&[a, b]);
        assert!(errs.is_empty());
        let (got, errs) = drain(&mut m);
        assert_eq!(errs, vec![(24 + 3 * 18, 4)]);
        let secs: Vec<i64> = got.iter().map(|g| g.0).collect();
        assert_eq!(secs, vec![1, 2, 3, 4, 5, 6, 8]);
    }

    #[test]
    fn single_file_and_empty_merge() {
        let dir = tempfile::tempdir().unwrap();
        let a = file(&dir, "a.pcap", &pcap(b'a', &[5, 4, 6], false));
        let (mut m, _) = open_all(&[a]);
        // one file: its own order, untouched
        let (got, _) = drain(&mut m);
        let secs: Vec<i64> = got.iter().map(|g| g.0).collect();
        assert_eq!(secs, vec![5, 4, 6]);
        let (mut m, errs) = open_all(&[]);
        assert!(errs.is_empty() && m.is_empty());
        assert!(matches!(m.next_packet(), Ok(None)));
        assert_eq!(m.progress(), (0, Some(0)));
    }
}
