//! A capture file mapped into memory read-only, a window at a time: the reader parses the page cache in place instead of copying it with `read()`.
//!
//! This is the crate's one module with `unsafe` code, for a measured win: on a 1.15 GB
//! capture the kernel's copy into a read buffer was over half of a whole analysis
//! (BENCHMARKS.md has the figures).
//!
//! The soundness condition of a file mapping is that nobody changes the file while it
//! is mapped. Captures are not rewritten in place; a file that *grows* while it is read
//! is harmless (it is read up to its size at open). A file truncated by another process
//! while it is read ends the process with SIGBUS, as in ripgrep, git and every mmap
//! reader; `--no-mmap` reads with `read()` instead, for files that may shrink.
//!
//! The file is mapped [`WINDOW`] bytes at a time (more when one record needs it), and
//! each window's pages get their page-table entries when it is mapped; unmapping the
//! window behind gives its pages back, so the mapping adds a bounded amount to the
//! resident set whatever the file size (a file mapping's pages count in RSS).
#![allow(unsafe_code)]

use memmap2::{Advice, Mmap, MmapOptions};
use std::fs::File;

/// Files smaller than this are read, not mapped (a mapping costs more than a copy).
pub const MIN_MAP: u64 = 1 << 20;
/// Bytes mapped at a time (the mapping's share of the resident set).
pub const WINDOW: usize = 4 << 20;
/// Windows start on a multiple of this (a page size on every platform; the size of a
/// huge page, so that a window does not cut a large page-cache folio).
const ALIGN: u64 = 2 << 20;
/// Bytes of a record asked into the CPU cache ahead of the parser: its record header and
/// the link, IP and TCP headers behind it.
const HEADERS: usize = 128;
/// Records the scout keeps ahead of the parser.
const SCOUT_AHEAD: u32 = 8;

/// Where a record's length is, to find the next record without parsing this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Offset of the 32-bit length in the record.
    pub len_at: usize,
    /// Bytes of the record besides that length (a pcap record header; 0 for a pcapng
    /// block, whose length counts the whole block).
    pub extra: usize,
    /// Byte order of the length.
    pub big_endian: bool,
    /// Longest record believed; a longer one stops the scout until the parser passes it.
    pub max: usize,
}

/// A read-only window onto a regular file.
pub struct Mapping {
    file: File,
    /// The file's size at open: nothing past it is read.
    size: u64,
    map: Mmap,
    /// File offset of `map[0]`.
    start: u64,
    /// The next record the scout reads (an offset in the window) ...
    scout: usize,
    /// ... and how many records it is ahead of the parser.
    lead: u32,
}

impl Mapping {
    /// Map the start of `file` when it is a regular file of at least [`MIN_MAP`] bytes;
    /// `None` when it should be read instead (a pipe, a device, a small file, or a
    /// failed mmap).
    pub fn of(file: &File) -> Option<Mapping> {
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() < MIN_MAP {
            return None;
        }
        let map = window(file, meta.len(), 0, WINDOW)?;
        Some(Mapping {
            file: file.try_clone().ok()?,
            size: meta.len(),
            map,
            start: 0,
            scout: 0,
            lead: 0,
        })
    }

    /// The bytes of the current window.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// File offset of the window's first byte.
    #[inline]
    pub fn start(&self) -> u64 {
        self.start
    }

    /// True when the window reaches the end of the file.
    #[inline]
    pub fn at_end(&self) -> bool {
        self.start + self.map.len() as u64 >= self.size
    }

    /// Map a new window holding at least `need` bytes from file offset `from` (fewer at
    /// the end of the file), unmapping the old one. False when mapping fails (the old
    /// window stays).
    pub fn slide(&mut self, from: u64, need: usize) -> bool {
        if from >= self.size {
            return false;
        }
        let start = from - from % ALIGN;
        let len = (need + (from - start) as usize).max(WINDOW);
        match window(&self.file, self.size, start, len) {
            Some(map) => {
                self.map = map;
                self.start = start;
                self.scout = 0;
                self.lead = 0;
                true
            }
            None => false,
        }
    }

    /// The parser took one record and the next starts at `pos` (in the window).
    ///
    /// The parser touches a packet's headers once, at offsets no hardware prefetcher can
    /// guess, so without help every packet began with a wait on memory. A scout walks
    /// the records' lengths [`SCOUT_AHEAD`] records ahead of the parser and asks each
    /// record's headers into the CPU cache as it finds it; its one read per record is
    /// of a line it asked for a record earlier. A length it does not believe (damage: the
    /// parser will report it) stops it until the parser is past.
    #[inline]
    pub fn next_at(&mut self, pos: usize, shape: Shape) {
        if self.scout <= pos {
            self.scout = pos;
            self.lead = 0;
        } else {
            self.lead = self.lead.saturating_sub(1);
        }
        while self.lead < SCOUT_AHEAD {
            let at = self.scout;
            let len_at = at.saturating_add(shape.len_at);
            let Some(&[a, b, c, d]) = self.map.get(len_at..len_at.saturating_add(4)) else {
                return;
            };
            let len = if shape.big_endian {
                u32::from_be_bytes([a, b, c, d])
            } else {
                u32::from_le_bytes([a, b, c, d])
            } as usize;
            if len == 0 || len > shape.max {
                return;
            }
            self.scout = at + shape.extra + len;
            self.lead += 1;
            for line in (0..HEADERS).step_by(64) {
                prefetch(self.map.get(self.scout + line..).unwrap_or(&[]));
            }
        }
    }
}

/// Map `len` bytes of `file` from `start` (fewer at the end of the file, which is `size`
/// bytes long), page-table entries filled in.
fn window(file: &File, size: u64, start: u64, len: usize) -> Option<Mmap> {
    let len = usize::try_from(size.saturating_sub(start))
        .unwrap_or(usize::MAX)
        .min(len);
    if len == 0 {
        return None;
    }
    // SAFETY: the mapping is read-only; this process never writes the file. Another
    // process truncating it while it is mapped is the documented SIGBUS case above
    // (`--no-mmap` avoids it). Slices of the map are only handed out as borrows of
    // `Mapping`, so none outlives the map they point into.
    let map = unsafe {
        MmapOptions::new()
            .offset(start)
            .len(len)
            .populate()
            .map(file)
    }
    .ok()?;
    // Readahead hint only: failure changes nothing.
    let _ = map.advise(Advice::Sequential);
    Some(map)
}

/// Ask the cache line holding `b[0]` into the CPU cache (a hint: no fault, no effect
/// on what is read; nothing for an empty slice).
#[inline(always)]
fn prefetch(b: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        if let Some(first) = b.first() {
            // SAFETY: a prefetch reads nothing and never faults; the address is in `b`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(first).cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = b;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn small_files_and_devices_are_not_mapped() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&[1u8; 1000]).unwrap();
        assert!(Mapping::of(&f).is_none());
        assert!(Mapping::of(&File::open("/dev/null").unwrap()).is_none());
    }

    #[test]
    fn windows_slide_over_the_whole_file() {
        let mut f = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..(2 * WINDOW + 4321))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        f.write_all(&data).unwrap();
        let mut m = Mapping::of(&f).unwrap();
        assert_eq!(m.bytes(), &data[..WINDOW]);
        assert!(!m.at_end());
        // A window from an unaligned offset starts at the huge-page boundary before it.
        let from = WINDOW as u64 + 12345;
        assert!(m.slide(from, 100));
        assert_eq!(m.start(), WINDOW as u64);
        assert_eq!(m.bytes(), &data[WINDOW..2 * WINDOW]);
        // One record larger than a window gets a window that holds it.
        assert!(m.slide(1, WINDOW + 3000));
        assert_eq!(m.start(), 0);
        assert_eq!(m.bytes().len(), WINDOW + 3001);
        // The last window ends with the file.
        assert!(m.slide(2 * WINDOW as u64 + 10, 10));
        assert!(m.at_end());
        assert_eq!(m.bytes(), &data[2 * WINDOW..]);
        let shape = Shape {
            len_at: 8,
            extra: 16,
            big_endian: false,
            max: 1000,
        };
        m.next_at(0, shape);
        m.next_at(usize::MAX, shape);
        // Past the end there is nothing to map.
        assert!(!m.slide(data.len() as u64, 1));
    }
}
