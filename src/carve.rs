//! Carving: transferred payloads written into the extract directory — never through a
//! link, never over an existing file, never outside the directory — with their manifest.
//!
//! A payload is written while its data connection runs into a temporary file created
//! with `O_CREAT|O_EXCL` (which refuses any existing name, a symbolic link included).
//! When its session ends and the transfer's outcome is known, the file gets its final
//! name by a hard link that also refuses existing names (a collision takes a suffix),
//! partial files end in `.partial`, and one line goes to `manifest.jsonl`.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Default bound on one carved file's length (`--extract-max-bytes`).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 16 << 30;
/// Default bound on the bytes written into the directory in one run (`--extract-max-total`).
pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 64 << 30;
/// Longest file name written (bytes); longer names are shortened with a hash.
pub const MAX_NAME_BYTES: usize = 200;
/// Most holes listed per file in the manifest (all are counted).
pub const MAX_HOLES_LISTED: usize = 1000;
/// Most suffixes tried when a final name is taken.
const MAX_COLLISIONS: u32 = 1000;
/// Most write errors kept for the report (all are counted).
const MAX_ERRORS: usize = 100;
/// Most stored files remembered as the start of a later resumed (REST) or appended (APPE)
/// transfer of the same server and path; the oldest is forgotten first.
pub const MAX_JOIN_CANDIDATES: usize = 1024;

/// The manifest's file name inside the extract directory.
pub const MANIFEST: &str = "manifest.jsonl";

/// A file stored from the start of a path, which a later resumed or appended transfer of
/// the same server and path continues.
#[derive(Debug, Clone)]
struct Stored {
    file: String,
    /// The file holds payload offsets `0..end` without a hole.
    end: u64,
    pieces: Vec<(u64, usize)>,
}

/// The server and path a stored file came from.
pub type JoinKey = (String, String);

/// A kept file, for [`Carver::join`].
#[derive(Debug, Clone)]
pub struct Kept<'a> {
    /// The server and path it came from.
    pub key: JoinKey,
    /// Its name in the directory.
    pub file: &'a str,
    /// The file offsets holding its data without a hole.
    pub extent: (u64, u64),
    /// The payload offset it continues the file at (REST n, APPE); `None`: from the start.
    pub at: Option<u64>,
    /// (session, transfer index from 0).
    pub id: (u64, usize),
}

/// What joining a resumed or appended piece to the stored start of its file made.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The joined file, relative to the directory (null when it could not be written).
    pub file: Option<String>,
    pub bytes: u64,
    pub sha256: String,
    /// (session, transfer index from 0) of every piece, in order.
    pub pieces: Vec<(u64, usize)>,
    /// Bytes where the pieces overlap and differ.
    pub conflicts: u64,
    /// Bytes where the pieces overlap (compared byte for byte).
    pub overlap: u64,
}

/// Bounds of a carving run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_total_bytes: DEFAULT_MAX_TOTAL_BYTES,
        }
    }
}

/// One payload being written (a temporary file until [`Carver::keep`]).
#[derive(Debug)]
pub struct Piece {
    tmp: PathBuf,
    file: Option<File>,
    /// Offset of the next byte in the payload.
    pos: u64,
    /// Bytes of payload written to the file.
    written: u64,
    holes: Vec<(u64, u64)>,
    holes_total: u64,
    /// Bytes not written because a limit was hit.
    cut: u64,
    /// Payload offset of the first byte (REST n: n).
    base: u64,
    /// Payload offset of the first hole, if any.
    first_hole: Option<u64>,
}

impl Piece {
    /// The holes (offset, length) listed so far.
    pub fn holes(&self) -> &[(u64, u64)] {
        &self.holes
    }
    /// Bytes of payload in the file.
    pub fn written(&self) -> u64 {
        self.written
    }
    /// Whether a limit stopped the writing.
    pub fn cut(&self) -> bool {
        self.cut > 0
    }
    /// Payload bytes not written because a limit was hit.
    pub fn cut_bytes(&self) -> u64 {
        self.cut
    }
    /// Holes seen (all of them, listed or not).
    pub fn holes_total(&self) -> u64 {
        self.holes_total
    }
    /// The payload offsets the file holds without a hole: `base..end`.
    pub fn extent(&self) -> (u64, u64) {
        let end = self.first_hole.unwrap_or(self.pos);
        (self.base, end.min(self.base + self.written))
    }
}

/// What the manifest records of one carved transfer.
#[derive(Debug, Clone, Serialize)]
pub struct Entry<'a> {
    pub session: u64,
    pub transfer: usize,
    pub command: &'a str,
    pub arg: &'a str,
    pub path: Option<&'a str>,
    pub direction: crate::model::Direction,
    pub bytes: Option<u64>,
    pub captured: Option<u64>,
    pub missing: Option<u64>,
    pub holes: Vec<[u64; 2]>,
    pub holes_listed: usize,
    pub holes_total: u64,
    pub sha256: Option<&'a str>,
    pub status: crate::model::TransferStatus,
    pub partial: bool,
    /// Bytes left out because `--extract-max-bytes`/`--extract-max-total` was reached.
    pub cut_by_limit: u64,
    /// The file written, relative to the directory; null when it could not be written.
    pub file: Option<String>,
    /// Set on a line for a joined file: the transfers whose pieces it joins, as
    /// `[session, transfer]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joined: Option<Vec<[u64; 2]>>,
    /// On a joined file: overlapping bytes compared, and how many differed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overlap_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflicting_bytes: Option<u64>,
}

/// Why a carve directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CarveError {
    #[error("{0}: cannot create the extract directory: {1}")]
    CreateDir(PathBuf, std::io::Error),
    #[error("{0}: not a directory")]
    NotDir(PathBuf),
    #[error("{0}: cannot create the manifest: {1}")]
    Manifest(PathBuf, std::io::Error),
}

/// Totals of a carving run.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub files: u64,
    pub bytes: u64,
    pub manifest: PathBuf,
    /// Write errors, one line each naming the file (bounded; `error_count` counts all).
    pub errors: Vec<String>,
    pub error_count: u64,
}

/// Writes payloads into one directory.
#[derive(Debug)]
pub struct Carver {
    dir: PathBuf,
    limits: Limits,
    manifest: Option<File>,
    next_tmp: u64,
    total: u64,
    summary: Summary,
    stored: std::collections::HashMap<JoinKey, Stored>,
    stored_order: std::collections::VecDeque<JoinKey>,
}

impl Carver {
    /// Use `dir` (created when missing; it must be a directory).
    pub fn new(dir: &Path, limits: Limits) -> Result<Self, CarveError> {
        std::fs::create_dir_all(dir).map_err(|e| CarveError::CreateDir(dir.to_path_buf(), e))?;
        if !std::fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
            return Err(CarveError::NotDir(dir.to_path_buf()));
        }
        let mpath = dir.join(MANIFEST);
        // The manifest is appended to when it exists (a directory shared by several runs),
        // but never through a symbolic link.
        if std::fs::symlink_metadata(&mpath).is_ok_and(|m| !m.file_type().is_file()) {
            return Err(CarveError::Manifest(
                mpath,
                std::io::Error::other("exists and is not a regular file"),
            ));
        }
        let manifest = OpenOptions::new()
            .append(true)
            .create(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&mpath)
            .map_err(|e| CarveError::Manifest(mpath.clone(), e))?;
        Ok(Carver {
            dir: dir.to_path_buf(),
            limits,
            manifest: Some(manifest),
            next_tmp: 0,
            total: 0,
            stored: Default::default(),
            stored_order: Default::default(),
            summary: Summary {
                manifest: mpath,
                ..Summary::default()
            },
        })
    }

    fn error(&mut self, path: &Path, e: impl std::fmt::Display) {
        self.summary.error_count += 1;
        if self.summary.errors.len() < MAX_ERRORS {
            self.summary
                .errors
                .push(format!("{}: cannot write: {e}", path.display()));
        }
    }

    /// Start a payload: a new temporary file in the directory.
    pub fn open(&mut self) -> Piece {
        self.open_at(0)
    }

    /// Start a payload whose first byte is at `offset` of the file (a `REST n` download is
    /// written at offset n; what comes before is a sparse region, not data).
    pub fn open_at(&mut self, offset: u64) -> Piece {
        let piece = Piece {
            tmp: PathBuf::new(),
            file: None,
            pos: 0,
            written: 0,
            holes: Vec::new(),
            holes_total: 0,
            cut: 0,
            base: offset,
            first_hole: None,
        };
        let mut piece = self.create_tmp(piece);
        if offset > 0 {
            piece.pos = offset;
            let max = self.limits.max_file_bytes;
            if let Some(f) = piece.file.as_mut().filter(|_| offset <= max) {
                let _ = f.seek(SeekFrom::Start(offset));
            }
        }
        piece
    }

    fn create_tmp(&mut self, mut piece: Piece) -> Piece {
        for _ in 0..MAX_COLLISIONS {
            self.next_tmp += 1;
            let tmp = self.dir.join(format!(
                ".ftptrace-{}-{}.tmp",
                std::process::id(),
                self.next_tmp
            ));
            match OpenOptions::new().write(true).create_new(true).open(&tmp) {
                Ok(f) => {
                    piece.tmp = tmp;
                    piece.file = Some(f);
                    return piece;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    self.error(&tmp, e);
                    return piece;
                }
            }
        }
        let dir = self.dir.clone();
        self.error(&dir, "no free temporary name");
        piece
    }

    /// Payload bytes that follow what was written (or the last hole).
    pub fn write(&mut self, p: &mut Piece, bytes: &[u8]) {
        let start = p.pos;
        p.pos += bytes.len() as u64;
        let Some(f) = p.file.as_mut() else {
            return;
        };
        let room_file = self.limits.max_file_bytes.saturating_sub(start);
        let room_total = self.limits.max_total_bytes.saturating_sub(self.total);
        let n = (bytes.len() as u64).min(room_file).min(room_total) as usize;
        p.cut += (bytes.len() - n) as u64;
        if n == 0 {
            return;
        }
        if let Err(e) = f.write_all(&bytes[..n]) {
            let tmp = p.tmp.clone();
            p.file = None;
            self.error(&tmp, e);
            return;
        }
        p.written += n as u64;
        self.total += n as u64;
        if n < bytes.len() {
            // The rest of the payload would pass a limit: stop here.
            if let Some(f) = p.file.as_mut() {
                let _ = f.flush();
            }
        }
    }

    /// A hole of `len` bytes in the payload: the next bytes go that much further on (a
    /// sparse region of the file, never written zeros; nothing past the last byte).
    pub fn hole(&mut self, p: &mut Piece, len: u64) {
        p.first_hole.get_or_insert(p.pos);
        if p.holes.len() < MAX_HOLES_LISTED {
            p.holes.push((p.pos, len));
        }
        p.holes_total += 1;
        p.pos = p.pos.saturating_add(len);
        if let Some(f) = p.file.as_mut() {
            if p.pos <= self.limits.max_file_bytes {
                let _ = f.seek(SeekFrom::Start(p.pos));
            }
        }
    }

    /// Drop a payload that is not kept (the other direction of a data connection).
    pub fn discard(&mut self, p: Piece) {
        self.total = self.total.saturating_sub(p.written);
        if p.file.is_some() || p.written > 0 {
            let _ = std::fs::remove_file(&p.tmp);
        }
    }

    /// Give a payload its final name (`stem`, plus `.partial` when `partial`), never
    /// replacing an existing file; returns the name relative to the directory.
    pub fn keep(&mut self, p: Piece, stem: &str, partial: bool) -> Option<String> {
        let file = p.file?;
        if let Err(e) = file.sync_data().and(Ok(())) {
            self.error(&p.tmp, e);
        }
        drop(file);
        let ext = if partial { ".partial" } else { "" };
        for n in 0..MAX_COLLISIONS {
            let name = if n == 0 {
                format!("{stem}{ext}")
            } else {
                format!("{stem}-{n}{ext}")
            };
            let dest = self.dir.join(&name);
            match std::fs::hard_link(&p.tmp, &dest) {
                Ok(()) => {
                    let _ = std::fs::remove_file(&p.tmp);
                    self.summary.files += 1;
                    self.summary.bytes += p.written;
                    return Some(name);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    // Hard links refused (some file systems): the name is only taken
                    // if it is free, checked without following links.
                    if std::fs::symlink_metadata(&dest).is_ok() {
                        continue;
                    }
                    if std::fs::rename(&p.tmp, &dest).is_ok() {
                        self.summary.files += 1;
                        self.summary.bytes += p.written;
                        return Some(name);
                    }
                    self.error(&dest, e);
                    let _ = std::fs::remove_file(&p.tmp);
                    return None;
                }
            }
        }
        let dest = self.dir.join(stem);
        self.error(&dest, "every name with a suffix is taken");
        let _ = std::fs::remove_file(&p.tmp);
        None
    }

    /// A kept file `file` of `key` whose data sits at file offsets `extent` and belongs at
    /// payload offset `at` (`REST n`: n; `APPE`: where the stored file ends; a plain
    /// transfer: 0). A file from the start is remembered; a later piece that continues a
    /// remembered one (no gap between them) is joined with it into a new file named
    /// `stem`, overlaps compared byte for byte. `expected`: the whole file's size
    /// when known (a shorter join is partial).
    pub fn join(&mut self, p: Kept<'_>, stem: &str, expected: Option<u64>) -> Option<Joined> {
        let Kept {
            key,
            file,
            extent,
            at,
            id,
        } = p;
        let Some(at) = at else {
            // A plain transfer from offset 0: the start of a file.
            if extent.0 == 0 {
                self.remember(
                    key,
                    Stored {
                        file: file.to_string(),
                        end: extent.1,
                        pieces: vec![id],
                    },
                );
            }
            return None;
        };
        let prev = self.stored.get(&key)?.clone();
        if prev.end < at || extent.1 <= extent.0 {
            return None;
        }
        let mut src_prev = self.open_read(&prev.file)?;
        let mut src_new = self.open_read(file)?;
        let new_end = at + (extent.1 - extent.0);
        let total = prev.end.max(new_end);
        let mut out = self.open();
        let mut hash = Sha256::new();
        let mut conflicts = 0u64;
        let overlap = prev.end.min(new_end).saturating_sub(at);
        let mut buf_a = vec![0u8; 1 << 16];
        let mut buf_b = vec![0u8; 1 << 16];
        let mut off = 0u64;
        let ok = (|| -> std::io::Result<()> {
            src_new.seek(SeekFrom::Start(extent.0))?;
            while off < total {
                let n = ((total - off).min(buf_a.len() as u64)) as usize;
                // Up to the next boundary (at, the end of the overlap, new_end).
                let bound = [at, at + overlap, new_end, total]
                    .into_iter()
                    .filter(|&b| b > off)
                    .min()
                    .unwrap_or(total);
                let n = n.min((bound - off) as usize);
                let from_new = off >= at && off < new_end;
                let from_prev = off < prev.end;
                if from_prev {
                    src_prev.read_exact(&mut buf_a[..n])?;
                }
                if from_new {
                    src_new.read_exact(&mut buf_b[..n])?;
                    if from_prev {
                        conflicts += buf_a[..n]
                            .iter()
                            .zip(&buf_b[..n])
                            .filter(|(x, y)| x != y)
                            .count() as u64;
                    }
                }
                let chunk = if from_new { &buf_b[..n] } else { &buf_a[..n] };
                hash.update(chunk);
                self.write(&mut out, chunk);
                off += n as u64;
            }
            Ok(())
        })();
        if let Err(e) = ok {
            let path = self.dir.join(file);
            self.error(&path, e);
            self.discard(out);
            return None;
        }
        let partial = out.cut() || expected.is_some_and(|e| total < e);
        let joined = self.keep(out, stem, partial);
        let mut pieces = prev.pieces;
        pieces.push(id);
        if let Some(j) = &joined {
            self.remember(
                key,
                Stored {
                    file: j.clone(),
                    end: total,
                    pieces: pieces.clone(),
                },
            );
        }
        Some(Joined {
            file: joined,
            bytes: total,
            sha256: hash.finalize().iter().map(|b| format!("{b:02x}")).collect(),
            pieces,
            conflicts,
            overlap,
        })
    }

    /// Where a stored file of `key` ends (for APPE), when one is remembered.
    pub fn stored_end(&self, key: &JoinKey) -> Option<u64> {
        self.stored.get(key).map(|s| s.end)
    }

    fn remember(&mut self, key: JoinKey, s: Stored) {
        if !self.stored.contains_key(&key) {
            if self.stored_order.len() >= MAX_JOIN_CANDIDATES {
                if let Some(old) = self.stored_order.pop_front() {
                    self.stored.remove(&old);
                }
            }
            self.stored_order.push_back(key.clone());
        }
        self.stored.insert(key, s);
    }

    /// Open a file this run wrote, never through a link.
    fn open_read(&mut self, name: &str) -> Option<File> {
        let path = self.dir.join(name);
        match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(f) => Some(f),
            Err(e) => {
                self.error(&path, e);
                None
            }
        }
    }

    /// One manifest line.
    pub fn record(&mut self, entry: &Entry<'_>) {
        let Some(m) = self.manifest.as_mut() else {
            return;
        };
        let mut line = match serde_json::to_vec(entry) {
            Ok(l) => l,
            Err(_) => return,
        };
        line.push(b'\n');
        if let Err(e) = m.write_all(&line) {
            self.manifest = None;
            let path = self.summary.manifest.clone();
            self.error(&path, e);
        }
    }

    /// End of the run.
    pub fn finish(mut self) -> Summary {
        if let Some(m) = self.manifest.as_mut() {
            if let Err(e) = m.sync_data() {
                let path = self.summary.manifest.clone();
                self.error(&path, e);
            }
        }
        self.summary
    }
}

/// A file name for a transfer: `s{session}-d{transfer}-{base name of the path}` with only
/// `[A-Za-z0-9._-]`, no leading dot, at most [`MAX_NAME_BYTES`] (longer names keep their
/// start and end around a hash of the whole).
pub fn file_stem(session: u64, transfer: usize, named: &str, fallback: &str) -> String {
    let base = named.rsplit(['/', '\\']).next().unwrap_or("");
    let safe: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_start_matches('.');
    let safe = if safe.is_empty() { fallback } else { safe };
    let stem = format!("s{session}-d{transfer}-{safe}");
    if stem.len() <= MAX_NAME_BYTES {
        return stem;
    }
    let digest = Sha256::digest(stem.as_bytes());
    let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    // ASCII only, so byte slicing is on character boundaries.
    let keep = (MAX_NAME_BYTES - tag.len() - 2) / 2;
    format!("{}~{tag}~{}", &stem[..keep], &stem[stem.len() - keep..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn carver(dir: &Path) -> Carver {
        Carver::new(dir, Limits::default()).unwrap()
    }

    #[test]
    fn names_stay_inside_and_short() {
        assert_eq!(file_stem(1, 2, "../../etc/passwd", "retr"), "s1-d2-passwd");
        assert_eq!(file_stem(1, 2, "/tmp/x", "retr"), "s1-d2-x");
        assert_eq!(file_stem(1, 2, "..", "retr"), "s1-d2-retr");
        assert_eq!(file_stem(1, 2, "a\\..\\b c", "retr"), "s1-d2-b_c");
        assert_eq!(file_stem(3, 1, "", "list"), "s3-d1-list");
        let long = "y".repeat(400);
        let s = file_stem(1, 1, &long, "retr");
        assert!(s.len() <= MAX_NAME_BYTES, "{}", s.len());
        assert!(s.starts_with("s1-d1-yyy") && s.contains('~'));
        assert_ne!(s, file_stem(1, 1, &"y".repeat(401), "retr"));
    }

    #[test]
    fn never_over_a_file_or_through_a_link() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("victim");
        std::fs::write(&target, b"keep").unwrap();
        std::os::unix::fs::symlink(&target, d.path().join("s1-d1-f")).unwrap();
        std::fs::write(d.path().join("s1-d1-f-1"), b"planted").unwrap();
        let mut c = carver(d.path());
        let mut p = c.open();
        c.write(&mut p, b"payload");
        let name = c.keep(p, "s1-d1-f", false).unwrap();
        assert_eq!(name, "s1-d1-f-2");
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        assert_eq!(
            std::fs::read(d.path().join("s1-d1-f-1")).unwrap(),
            b"planted"
        );
        assert_eq!(std::fs::read(d.path().join(&name)).unwrap(), b"payload");
        let s = c.finish();
        assert_eq!((s.files, s.bytes, s.error_count), (1, 7, 0));
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty());
    }

    #[test]
    fn holes_are_sparse_and_listed_and_partial_is_marked() {
        let d = tempfile::tempdir().unwrap();
        let mut c = carver(d.path());
        let mut p = c.open();
        c.write(&mut p, b"abc");
        c.hole(&mut p, 5);
        c.write(&mut p, b"xyz");
        c.hole(&mut p, 1000); // trailing: never materialised
        assert_eq!(p.holes(), &[(3, 5), (11, 1000)]);
        let name = c.keep(p, "s1-d1-f", true).unwrap();
        assert_eq!(name, "s1-d1-f.partial");
        let got = std::fs::read(d.path().join(name)).unwrap();
        assert_eq!(got, b"abc\0\0\0\0\0xyz");
    }

    #[test]
    fn limits_bound_a_file_and_the_total() {
        let d = tempfile::tempdir().unwrap();
        let mut c = Carver::new(
            d.path(),
            Limits {
                max_file_bytes: 4,
                max_total_bytes: 6,
            },
        )
        .unwrap();
        let mut a = c.open();
        c.write(&mut a, b"123456");
        assert!(a.cut());
        let mut b = c.open();
        c.write(&mut b, b"abcdef");
        c.hole(&mut b, 1 << 40); // a huge hole is never a huge file
        c.write(&mut b, b"zz");
        let na = c.keep(a, "a", true).unwrap();
        let nb = c.keep(b, "b", true).unwrap();
        assert_eq!(std::fs::read(d.path().join(na)).unwrap(), b"1234");
        assert_eq!(std::fs::read(d.path().join(nb)).unwrap(), b"ab");
    }

    #[test]
    fn a_file_where_the_directory_should_be_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("plain");
        std::fs::write(&f, b"x").unwrap();
        assert!(matches!(
            Carver::new(&f, Limits::default()),
            Err(CarveError::CreateDir(..) | CarveError::NotDir(..))
        ));
    }

    #[test]
    fn manifest_is_never_written_through_a_link() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("victim");
        std::fs::write(&target, b"keep").unwrap();
        std::os::unix::fs::symlink(&target, d.path().join(MANIFEST)).unwrap();
        assert!(matches!(
            Carver::new(d.path(), Limits::default()),
            Err(CarveError::Manifest(..))
        ));
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    }
}
