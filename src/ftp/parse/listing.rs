//! Directory listings as servers send them on the data connection: MLSD/MLST facts
//! (RFC 3659), Unix `ls -l` lines, Windows/IIS DOS-style lines, and NLST names.

pub use crate::model::EntryKind;

/// One entry, borrowed from the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub name: &'a [u8],
    pub kind: EntryKind,
    pub size: Option<u64>,
    /// The time as the listing writes it (`Jan 02  2024`, `01-02-24  03:04AM`,
    /// `20240102030405`).
    pub time: Option<&'a [u8]>,
}

/// Which format a listing line is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// LIST output: Unix or DOS lines, told apart line by line.
    List,
    /// MLSD: facts, a space, the name.
    Mlsd,
    /// NLST: one name per line.
    Nlst,
}

const MONTHS: [&[u8]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn number(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    b.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Parse one listing line (`Style::List` tries Unix then DOS). Headers such as
/// `total 12` and empty lines give `None`.
pub fn parse_line(style: Style, line: &[u8]) -> Option<Entry<'_>> {
    let line = trim_eol(line);
    if line.is_empty() {
        return None;
    }
    match style {
        Style::Mlsd => parse_mlsd(line),
        Style::Nlst => Some(Entry {
            name: line,
            kind: EntryKind::Unknown,
            size: None,
            time: None,
        }),
        Style::List => parse_unix(line).or_else(|| parse_dos(line)),
    }
}

/// `type=file;size=1715;modify=20240102030405;perm=r; readme.txt`
pub fn parse_mlsd(line: &[u8]) -> Option<Entry<'_>> {
    let sp = line.iter().position(|&b| b == b' ')?;
    let (facts, name) = (&line[..sp], &line[sp + 1..]);
    if name.is_empty() || !facts.contains(&b'=') {
        return None;
    }
    let mut e = Entry {
        name,
        kind: EntryKind::Unknown,
        size: None,
        time: None,
    };
    for fact in facts.split(|&b| b == b';').filter(|f| !f.is_empty()) {
        let eq = fact.iter().position(|&b| b == b'=')?;
        let (k, v) = (&fact[..eq], &fact[eq + 1..]);
        if k.eq_ignore_ascii_case(b"type") {
            e.kind = if v.eq_ignore_ascii_case(b"file") {
                EntryKind::File
            } else if v.eq_ignore_ascii_case(b"dir") {
                EntryKind::Dir
            } else if v.len() >= 7 && v[..7].eq_ignore_ascii_case(b"os.unix") {
                if v.windows(7).any(|w| w.eq_ignore_ascii_case(b"symlink")) {
                    EntryKind::Link
                } else {
                    EntryKind::Other
                }
            } else {
                EntryKind::Other
            };
        } else if k.eq_ignore_ascii_case(b"size") || k.eq_ignore_ascii_case(b"sizd") {
            e.size = number(v);
        } else if k.eq_ignore_ascii_case(b"modify") {
            e.time = Some(v);
        }
    }
    Some(e)
}

/// Split off the next whitespace-separated field: (field, rest after the whitespace).
fn field(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let start = s.iter().position(|b| !b.is_ascii_whitespace())?;
    let s = &s[start..];
    let end = s
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(s.len());
    let rest = &s[end..];
    let skip = rest
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(rest.len());
    // One separator only before the name: names may start with spaces in theory, but
    // every server pads the date columns, so all leading blanks are skipped.
    Some((&s[..end], &rest[skip..]))
}

/// `-rw-r--r--    1 0        0            1715 Jan 02  2024 readme.txt`
/// (owner and group columns optional; links: `name -> target`).
pub fn parse_unix(line: &[u8]) -> Option<Entry<'_>> {
    let (perm, mut rest) = field(line)?;
    if perm.len() < 10 || !b"-dlbcpsD".contains(&perm[0]) {
        return None;
    }
    let kind = match perm[0] {
        b'-' => EntryKind::File,
        b'd' => EntryKind::Dir,
        b'l' => EntryKind::Link,
        _ => EntryKind::Other,
    };
    // Fields up to the month: links, owner, group, size (some servers omit some).
    let mut prev: Option<&[u8]> = None;
    for _ in 0..6 {
        let time_start = rest;
        let (f, r) = field(rest)?;
        let is_month = f.len() == 3 && MONTHS.iter().any(|m| f.eq_ignore_ascii_case(m));
        if is_month {
            let size = number(prev?)?;
            let (_day, r) = field(r)?;
            let (_year_or_time, r) = field(r)?;
            if r.is_empty() {
                return None;
            }
            let time_len = time_start.len() - r.len();
            let time = trim_blanks(&time_start[..time_len]);
            let name = match kind {
                EntryKind::Link => r
                    .windows(4)
                    .position(|w| w == b" -> ")
                    .map_or(r, |i| &r[..i]),
                _ => r,
            };
            return Some(Entry {
                name,
                kind,
                size: Some(size),
                time: Some(time),
            });
        }
        prev = Some(f);
        rest = r;
    }
    None
}

fn trim_blanks(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |e| e + 1);
    &b[s..e]
}

/// `01-02-24  03:04AM       <DIR>          docs` or `01-02-24  03:04AM   1715 readme.txt`
/// (IIS; four-digit years and 24-hour times too).
pub fn parse_dos(line: &[u8]) -> Option<Entry<'_>> {
    let (date, r) = field(line)?;
    let ok_date = (8..=10).contains(&date.len())
        && date
            .iter()
            .all(|c| c.is_ascii_digit() || *c == b'-' || *c == b'/')
        && date.iter().filter(|c| **c == b'-' || **c == b'/').count() == 2;
    if !ok_date {
        return None;
    }
    let (time, r) = field(r)?;
    if !time.contains(&b':') {
        return None;
    }
    let (what, name) = field(r)?;
    if name.is_empty() {
        return None;
    }
    let stamp = trim_blanks(&line[..line.len() - r.len()]);
    let (kind, size) = if what.eq_ignore_ascii_case(b"<DIR>") {
        (EntryKind::Dir, None)
    } else {
        let digits: Vec<u8> = what.iter().copied().filter(|c| *c != b',').collect();
        (EntryKind::File, Some(number(&digits)?))
    };
    Some(Entry {
        name,
        kind,
        size,
        time: Some(stamp),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e<'a>(name: &'a [u8], kind: EntryKind, size: Option<u64>, time: &'a [u8]) -> Entry<'a> {
        Entry {
            name,
            kind,
            size,
            time: Some(time),
        }
    }

    #[test]
    fn unix_lines_from_vsftpd_and_pyftpdlib() {
        // vsftpd (samples/documented-active.pcap)
        assert_eq!(
            parse_line(
                Style::List,
                b"-rw-r--r--    1 0        0            1715 Jan 02  2024 readme.txt\r\n"
            ),
            Some(e(
                b"readme.txt",
                EntryKind::File,
                Some(1715),
                b"Jan 02  2024"
            ))
        );
        assert_eq!(
            parse_line(
                Style::List,
                b"drwxr-xr-x    2 0        0            4096 Jan 02 03:04 docs"
            ),
            Some(e(b"docs", EntryKind::Dir, Some(4096), b"Jan 02 03:04"))
        );
        // pyftpdlib: owner and group names
        assert_eq!(
            parse_line(
                Style::List,
                b"-rw-r--r--   1 root     root       102400 Jan 02  2024 data 100k.bin\r\n"
            ),
            Some(e(
                b"data 100k.bin",
                EntryKind::File,
                Some(102400),
                b"Jan 02  2024"
            ))
        );
        // no group column; a link
        assert_eq!(
            parse_line(Style::List, b"lrwxrwxrwx 1 ftp 7 Mar 1 2020 latest -> v1.2"),
            Some(e(b"latest", EntryKind::Link, Some(7), b"Mar 1 2020"))
        );
        assert_eq!(parse_line(Style::List, b"total 12\r\n"), None);
        assert_eq!(parse_line(Style::List, b""), None);
        assert_eq!(
            parse_line(
                Style::List,
                b"-rw-r--r-- 1 a b 99999999999999999999 Jan 1 2020 x"
            ),
            None
        );
    }

    #[test]
    fn dos_lines_from_iis() {
        assert_eq!(
            parse_line(
                Style::List,
                b"01-02-24  03:04AM       <DIR>          docs\r\n"
            ),
            Some(e(b"docs", EntryKind::Dir, None, b"01-02-24  03:04AM"))
        );
        assert_eq!(
            parse_line(
                Style::List,
                b"01-02-2024  15:04            1,715 read me.txt"
            ),
            Some(e(
                b"read me.txt",
                EntryKind::File,
                Some(1715),
                b"01-02-2024  15:04"
            ))
        );
        assert_eq!(parse_line(Style::List, b"01-02-24 junk"), None);
    }

    #[test]
    fn mlsd_facts() {
        assert_eq!(
            parse_line(
                Style::Mlsd,
                b"type=file;size=1715;modify=20240102030405;perm=r; readme.txt\r\n"
            ),
            Some(e(
                b"readme.txt",
                EntryKind::File,
                Some(1715),
                b"20240102030405"
            ))
        );
        let d = parse_line(Style::Mlsd, b"type=cdir;modify=20240102030405; .").unwrap();
        assert_eq!((d.name, d.kind), (&b"."[..], EntryKind::Other));
        let d = parse_line(Style::Mlsd, b"Type=dir;Modify=20240102030405; my docs").unwrap();
        assert_eq!(
            (d.name, d.kind, d.size),
            (&b"my docs"[..], EntryKind::Dir, None)
        );
        assert_eq!(parse_line(Style::Mlsd, b"no facts here"), None);
        assert_eq!(parse_line(Style::Mlsd, b"type=file;size=1;"), None);
    }

    #[test]
    fn nlst_names() {
        assert_eq!(
            parse_line(Style::Nlst, b"readme.txt\r\n"),
            Some(Entry {
                name: b"readme.txt",
                kind: EntryKind::Unknown,
                size: None,
                time: None
            })
        );
    }

    proptest::proptest! {
        #![proptest_config(crate::testing::prop_config(256))]
        #[test]
        fn never_panics(style in 0..3u8, line in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let style = [Style::List, Style::Mlsd, Style::Nlst][style as usize];
            if let Some(e) = parse_line(style, &line) {
                proptest::prop_assert!(!e.name.is_empty());
            }
        }
    }
}
