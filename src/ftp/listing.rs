//! A listing transfer's payload (LIST, NLST, MLSD) → its entries, under bounds.

use super::parse::{self, ListingStyle};
use crate::model::{Listing, ListingEntry};

/// Most payload bytes of one listing kept to be read.
pub const MAX_LISTING_BYTES: usize = 1 << 20;
/// Most entries listed per listing.
pub const MAX_LISTING_ENTRIES: usize = 10_000;

/// The listing style a command's data is in, or `None` for a command that moves a file.
pub fn style_of(command: &str) -> Option<ListingStyle> {
    match command {
        "LIST" | "STAT" => Some(ListingStyle::List),
        "NLST" => Some(ListingStyle::Nlst),
        "MLSD" => Some(ListingStyle::Mlsd),
        _ => None,
    }
}

/// Read a listing; `cut` says the payload was longer than what was kept.
pub fn read(style: ListingStyle, payload: &[u8], cut: bool) -> Listing {
    let mut l = Listing {
        truncated: cut,
        ..Listing::default()
    };
    for line in payload.split(|&b| b == b'\n') {
        let Some(e) = parse::parse_listing_line(style, line) else {
            if !line.is_empty() && line != b"\r" {
                l.other_lines += 1;
            }
            continue;
        };
        if l.entries.len() >= MAX_LISTING_ENTRIES {
            l.truncated = true;
            break;
        }
        l.entries.push(ListingEntry {
            name: parse::decode_text(e.name).0.into_owned(),
            kind: e.kind,
            size: e.size,
            time: e.time.map(|t| parse::decode_text(t).0.into_owned()),
        });
    }
    // A cut payload's last line may be cut too.
    if cut && payload.last() != Some(&b'\n') {
        l.entries.pop();
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vsftpd_list() {
        let l = read(
            ListingStyle::List,
            b"drwxr-xr-x    2 0        0            4096 Jan 02  2024 docs\r\n-rw-r--r--    1 0        0            1715 Jan 02  2024 readme.txt\r\n",
            false,
        );
        assert_eq!(l.entries.len(), 2);
        assert_eq!(l.entries[1].name, "readme.txt");
        assert_eq!(l.entries[1].size, Some(1715));
        assert_eq!(l.entries[0].kind, crate::model::EntryKind::Dir);
        assert!(!l.truncated);
    }

    #[test]
    fn a_cut_listing_drops_its_cut_line() {
        let l = read(ListingStyle::Nlst, b"a\r\nb\r\nc", true);
        assert_eq!(l.entries.len(), 2);
        assert!(l.truncated);
        let l = read(ListingStyle::List, b"total 3\r\n", false);
        assert_eq!((l.entries.len(), l.other_lines), (0, 1));
    }
}
