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
/// Records the guess reaches beyond the scout: the next [`GUESS`] records are guessed to
/// span what the last [`GUESS`] did (exact for any repeating pattern of record sizes whose
/// period divides it: 1, 2, 3, 4, 6, 8, 12 or 24 records, as a bulk transfer's segments
/// and its delayed ACKs make).
const GUESS: usize = 24;

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
    /// Where the scout's next records are likely to be.
    guess: Guess,
}

/// Guesses where a record [`GUESS`] records further on starts, from where the last
/// [`GUESS`] records started (offsets in the window).
#[derive(Debug, Clone, Copy)]
struct Guess {
    /// A ring of the last offsets.
    seen: [usize; GUESS],
    /// The ring's oldest entry.
    oldest: usize,
}

impl Guess {
    const NEW: Guess = Guess {
        seen: [0; GUESS],
        oldest: 0,
    };

    /// A record starts at `at`: the guess for the one [`GUESS`] records after it is that
    /// the next [`GUESS`] records span what the last [`GUESS`] did.
    #[inline]
    fn next(&mut self, at: usize) -> usize {
        let back = std::mem::replace(&mut self.seen[self.oldest], at);
        self.oldest = if self.oldest + 1 == GUESS {
            0
        } else {
            self.oldest + 1
        };
        at.saturating_add(at - back.min(at))
    }
}

impl Mapping {
    /// Map the start of `file`, a regular file of `size` bytes (`None`: not a regular
    /// file), when it has at least [`MIN_MAP`]; `None` when it should be read instead (a
    /// pipe, a device, a small file, or a failed mmap).
    pub fn of(file: &File, size: Option<u64>) -> Option<Mapping> {
        let size = size.filter(|&n| n >= MIN_MAP)?;
        let map = window(file, size, 0, WINDOW)?;
        Some(Mapping {
            file: file.try_clone().ok()?,
            size,
            map,
            start: 0,
            scout: 0,
            lead: 0,
            guess: Guess::NEW,
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
                self.guess = Guess::NEW;
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
    /// record's headers into the CPU cache as it finds it. Its one read per record is of
    /// a line it asked for only a record earlier, too late to hide a miss, so it also asks
    /// for the lines where it guesses a record [`GUESS`] records further on starts (see
    /// [`Guess`]). A length it does not believe (damage: the
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
            // The scout's own next read is of a line asked for only one record earlier;
            // the guess asks for lines [`GUESS`] records further on, so that when the
            // scout gets there (and the guess was right) its read finds them waiting.
            // A wrong guess costs a line read for nothing.
            let guess = self.guess.next(self.scout);
            for line in (0..HEADERS).step_by(64) {
                prefetch(self.map.get(self.scout + line..).unwrap_or(&[]));
                prefetch(self.map.get(guess + line..).unwrap_or(&[]));
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

    /// What the reader passes: the size of a regular file.
    fn regular_size(f: &File) -> Option<u64> {
        f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len())
    }

    /// Where 200 records start whose sizes repeat `pattern`.
    fn starts_of(pattern: &[usize]) -> Vec<usize> {
        (0..200)
            .scan(0, |at, i| {
                let this = *at;
                *at += pattern[i % pattern.len()];
                Some(this)
            })
            .collect()
    }

    #[test]
    fn the_guess_is_exact_for_repeating_record_sizes() {
        // A download's frames with an ACK after every second one (period 3), a period of
        // 8, and one size: after one ring of records, every guess is where the record
        // GUESS further on starts.
        for pattern in [
            &[1530, 1530, 82][..],
            &[100, 200, 300, 400, 50, 60, 70, 80],
            &[9],
        ] {
            let starts = starts_of(pattern);
            let mut g = Guess::NEW;
            for (i, &at) in starts.iter().enumerate().take(200 - GUESS) {
                let guess = g.next(at);
                if i >= GUESS {
                    assert_eq!(guess, starts[i + GUESS], "{pattern:?} record {i}");
                }
            }
        }
        // A period that does not divide it is guessed wrong (the lines are asked for in vain).
        let starts = starts_of(&[1530, 82, 82, 82, 82]);
        let mut g = Guess::NEW;
        let mut wrong = 0;
        for (i, &at) in starts.iter().enumerate().take(200 - GUESS) {
            let guess = g.next(at);
            wrong += usize::from(i >= GUESS && guess != starts[i + GUESS]);
        }
        assert!(wrong > 0);
    }

    #[test]
    fn small_files_and_devices_are_not_mapped() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&[1u8; 1000]).unwrap();
        assert!(Mapping::of(&f, regular_size(&f)).is_none());
        let null = File::open("/dev/null").unwrap();
        assert!(Mapping::of(&null, regular_size(&null)).is_none());
    }

    #[test]
    fn windows_slide_over_the_whole_file() {
        let mut f = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..(2 * WINDOW + 4321))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        f.write_all(&data).unwrap();
        let mut m = Mapping::of(&f, regular_size(&f)).unwrap();
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
