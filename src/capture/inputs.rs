//! Capture names as given on the command line → capture files: a directory stands for
//! every capture file directly in it (rotated `tcpdump -C`/`-G` files).

use super::{CaptureError, CaptureErrorKind};
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::Path;

/// Most capture files one directory may give: they are all open at once while they are
/// merged by time (a file descriptor and a read buffer each), so a directory with more is
/// refused rather than running out of descriptors half-way.
pub const MAX_DIR_FILES: usize = 512;

/// The capture files named, with directories replaced by their captures.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Files (and `-`) to read, in the order given; a directory's in name order.
    pub files: Vec<String>,
    /// One line per directory that held files that are not captures (skipped).
    pub notes: Vec<String>,
    /// Directories that give nothing to read (unreadable, empty of captures, too many).
    pub errors: Vec<CaptureError>,
}

/// Replace every directory among `paths` by the capture files directly in it (by
/// content: pcap, pcapng, gzip of either; other files are skipped with a note). Not
/// recursive: a rotation writes one directory, and a tree of captures is more likely
/// several unrelated captures than one.
pub fn expand(paths: &[String]) -> Inputs {
    let mut out = Inputs::default();
    for p in paths {
        if p == "-" || !Path::new(p).is_dir() {
            out.files.push(p.clone());
            continue;
        }
        match directory(p) {
            Ok((files, skipped)) => {
                if !skipped.is_empty() {
                    out.notes.push(skipped_note(p, &skipped));
                }
                if files.is_empty() {
                    out.errors
                        .push(dir_error(p, "no capture file in this directory".into()));
                } else if files.len() > MAX_DIR_FILES {
                    out.errors.push(dir_error(
                        p,
                        format!(
                            "{} capture files in this directory, more than the {MAX_DIR_FILES} read at once; merge them first (mergecap) or name fewer",
                            files.len()
                        ),
                    ));
                } else {
                    out.files.extend(files);
                }
            }
            Err(e) => out.errors.push(CaptureError {
                path: p.clone(),
                offset: 0,
                packet: 1,
                kind: CaptureErrorKind::Io(e),
            }),
        }
    }
    out
}

fn dir_error(path: &str, what: String) -> CaptureError {
    CaptureError {
        path: path.to_string(),
        offset: 0,
        packet: 1,
        kind: CaptureErrorKind::Corrupt(what),
    }
}

fn skipped_note(dir: &str, skipped: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut names = skipped
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if skipped.len() > SHOWN {
        names.push_str(", …");
    }
    format!(
        "{dir}: skipped {} file{} that {} not a capture ({names})",
        skipped.len(),
        if skipped.len() == 1 { "" } else { "s" },
        if skipped.len() == 1 { "is" } else { "are" },
    )
}

/// The capture files of one directory in name order (numbers compared as numbers), and
/// the names of the other regular files.
fn directory(dir: &str) -> std::io::Result<(Vec<String>, Vec<String>)> {
    let mut entries = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let path = e.path();
        // Regular files (through links); subdirectories and devices are not looked into.
        if !path.is_file() {
            continue;
        }
        entries.push((e.file_name().to_string_lossy().into_owned(), path));
    }
    entries.sort_by(|a, b| natural_cmp(&a.0, &b.0));
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for (name, path) in entries {
        if is_capture(&path) {
            files.push(path.to_string_lossy().into_owned());
        } else {
            skipped.push(name);
        }
    }
    Ok((files, skipped))
}

/// True when the file starts like a pcap or pcapng file, or a gzip stream of one.
fn is_capture(path: &Path) -> bool {
    let Ok(f) = std::fs::File::open(path) else {
        // Unreadable: let the reader say why.
        return true;
    };
    let mut head = [0u8; 4];
    let mut r = f.take(4096);
    if r.read_exact(&mut head).is_err() {
        return false;
    }
    if head[..2] == [0x1f, 0x8b] {
        let Ok(f) = std::fs::File::open(path) else {
            return true;
        };
        let mut z = MultiGzDecoder::new(f);
        return z.read_exact(&mut head).is_ok() && capture_magic(head);
    }
    capture_magic(head)
}

/// The first four bytes of a pcap (any byte order and precision, modified pcap) or pcapng file.
pub fn capture_magic(m: [u8; 4]) -> bool {
    const MAGICS: [u32; 3] = [0xa1b2_c3d4, 0xa1b2_3c4d, 0xa1b2_cd34];
    let le = u32::from_le_bytes(m);
    let be = u32::from_be_bytes(m);
    m == [0x0a, 0x0d, 0x0d, 0x0a] || MAGICS.contains(&le) || MAGICS.contains(&be)
}

/// Names compared with runs of digits as numbers: `x.pcap2` before `x.pcap10`.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (trim_zeros(&a[..da]), trim_zeros(&b[..db]));
                let ord = na.len().cmp(&nb.len()).then(na.cmp(nb)).then(da.cmp(&db));
                if ord.is_ne() {
                    return ord;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let z = d.iter().take_while(|&&c| c == b'0').count();
    &d[z..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::testutil::{gzip, Pcap};

    fn s(p: &Path) -> String {
        p.to_str().unwrap().to_string()
    }

    #[test]
    fn natural_order_puts_rotations_in_sequence() {
        let mut v = vec!["t.pcap10", "t.pcap2", "t.pcap", "t.pcap1", "a"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, vec!["a", "t.pcap", "t.pcap1", "t.pcap2", "t.pcap10"]);
        assert!(natural_cmp("x01", "x1").is_gt());
        assert!(natural_cmp("x_00002", "x_00010").is_lt());
    }

    #[test]
    fn magics() {
        assert!(capture_magic([0xd4, 0xc3, 0xb2, 0xa1]));
        assert!(capture_magic([0xa1, 0xb2, 0x3c, 0x4d]));
        assert!(capture_magic([0x0a, 0x0d, 0x0d, 0x0a]));
        assert!(!capture_magic(*b"GIF8"));
        assert!(!capture_magic([0x1f, 0x8b, 8, 0]));
    }

    #[test]
    fn directory_gives_its_captures_skips_the_rest_and_files_pass_through() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let pcap = Pcap::new(false, false, 1).rec(1, 0, &[1, 2]).out;
        std::fs::write(d.join("cap.pcap2"), &pcap).unwrap();
        std::fs::write(d.join("cap.pcap10"), &pcap).unwrap();
        std::fs::write(d.join("cap.pcap.gz"), gzip(&pcap)).unwrap();
        std::fs::write(d.join("notes.txt"), b"hello world").unwrap();
        std::fs::write(d.join("text.gz"), gzip(b"not a capture")).unwrap();
        std::fs::write(d.join("tiny"), b"ab").unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/inner.pcap"), &pcap).unwrap();
        let got = expand(&[s(d), "-".into(), "plain.pcap".into()]);
        let names: Vec<String> = got
            .files
            .iter()
            .map(|f| f.rsplit('/').next().unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            vec!["cap.pcap.gz", "cap.pcap2", "cap.pcap10", "-", "plain.pcap"]
        );
        assert!(got.errors.is_empty());
        assert_eq!(got.notes.len(), 1);
        assert!(
            got.notes[0]
                .ends_with("skipped 3 files that are not a capture (notes.txt, text.gz, tiny)"),
            "{}",
            got.notes[0]
        );
    }

    #[test]
    fn a_directory_without_captures_is_an_unreadable_input() {
        let dir = tempfile::tempdir().unwrap();
        let got = expand(&[s(dir.path())]);
        assert!(got.files.is_empty());
        assert_eq!(got.errors.len(), 1);
        assert!(got.errors[0].is_unreadable());
        assert!(got.errors[0].to_string().contains("no capture file"));
    }
}
