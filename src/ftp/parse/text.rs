//! Wire text decoding (UTF-8, else Latin-1) and working-directory path arithmetic.

use std::borrow::Cow;

/// Decode wire bytes: valid UTF-8 as is (borrowed), otherwise Latin-1 byte for
/// byte. The flag is true for Latin-1 (SPEC: the object gets
/// `"encoding": "latin1"`, and the exact bytes can be recovered as
/// `s.chars().map(|c| c as u8)`).
pub fn decode_text(bytes: &[u8]) -> (Cow<'_, str>, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (Cow::Borrowed(s), false),
        Err(_) => (
            Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
            true,
        ),
    }
}

/// The path an argument names, given the working directory.
///
/// Absolute arguments (`/…`) are normalized as is; relative ones are joined
/// to `cwd` first. Normalizing collapses `//`, drops `.`, and lets `..` remove
/// the previous component (never above `/`). `None` when the argument is
/// relative and the cwd unknown, or starts with `~` (a home directory we do
/// not know). An empty argument names the cwd itself.
pub fn resolve_path(cwd: Option<&str>, arg: &str) -> Option<String> {
    if arg.starts_with('/') {
        return Some(normalize(arg));
    }
    if arg.starts_with('~') {
        return None;
    }
    let cwd = cwd?;
    if arg.is_empty() {
        return Some(normalize(cwd));
    }
    let mut joined = String::with_capacity(cwd.len() + 1 + arg.len());
    joined.push_str(cwd);
    joined.push('/');
    joined.push_str(arg);
    Some(normalize(&joined))
}

/// The working directory after a successful `CWD arg` (also XCWD).
pub fn cwd_after_cwd(cwd: Option<&str>, arg: &str) -> Option<String> {
    resolve_path(cwd, arg)
}

/// The working directory after a successful CDUP (also XCUP).
pub fn cwd_after_cdup(cwd: Option<&str>) -> Option<String> {
    resolve_path(cwd, "..")
}

/// LIST/NLST arguments often start with ls options (`-la /pub`): skip leading
/// words that start with `-` and return the rest (`"/pub"`, or `""`).
pub fn strip_list_options(arg: &str) -> &str {
    let mut rest = arg.trim_start_matches(' ');
    while rest.starts_with('-') {
        rest = match rest.find(' ') {
            Some(p) => rest[p..].trim_start_matches(' '),
            None => "",
        };
    }
    rest
}

/// Collapse `//`, `.` and `..`; keeps a leading `/`; no trailing `/` except
/// for the root. A relative path stays relative (leading `..` kept).
fn normalize(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if absolute => {}
                _ => parts.push(".."),
            },
            s => parts.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    if absolute {
        out.push('/');
    }
    out.push_str(&parts.join("/"));
    if out.is_empty() {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode() {
        assert_eq!(decode_text(b"hello"), (Cow::Borrowed("hello"), false));
        assert_eq!(decode_text("café".as_bytes()).0, "café");
        assert!(!decode_text("café".as_bytes()).1);
        let (s, latin1) = decode_text(b"caf\xe9 \xff");
        assert!(latin1);
        assert_eq!(s, "caf\u{e9} \u{ff}");
        let back: Vec<u8> = s.chars().map(|c| c as u8).collect();
        assert_eq!(back, b"caf\xe9 \xff");
        assert_eq!(decode_text(b""), (Cow::Borrowed(""), false));
    }

    #[test]
    fn resolve() {
        assert_eq!(resolve_path(None, "/pub/x").as_deref(), Some("/pub/x"));
        assert_eq!(resolve_path(None, "x"), None);
        assert_eq!(
            resolve_path(Some("/home/ftp"), "readme.txt").as_deref(),
            Some("/home/ftp/readme.txt")
        );
        assert_eq!(
            resolve_path(Some("/"), "readme.txt").as_deref(),
            Some("/readme.txt")
        );
        assert_eq!(
            resolve_path(Some("/a/b"), "../c/./d//e/").as_deref(),
            Some("/a/c/d/e")
        );
        assert_eq!(resolve_path(Some("/a"), "../../..").as_deref(), Some("/"));
        assert_eq!(resolve_path(Some("/a/"), "").as_deref(), Some("/a"));
        assert_eq!(resolve_path(None, "//pub//./x/..").as_deref(), Some("/pub"));
        assert_eq!(resolve_path(Some("/a"), "~/x"), None);
        assert_eq!(
            resolve_path(Some("/a"), "my file.txt").as_deref(),
            Some("/a/my file.txt")
        );
        // A cwd that is not a Unix path stays relative.
        assert_eq!(
            resolve_path(Some("dir"), "../../x").as_deref(),
            Some("../x")
        );
    }

    #[test]
    fn cwd_helpers() {
        assert_eq!(
            cwd_after_cwd(Some("/pub"), "FreeBSD").as_deref(),
            Some("/pub/FreeBSD")
        );
        assert_eq!(cwd_after_cwd(None, "/etc").as_deref(), Some("/etc"));
        assert_eq!(cwd_after_cwd(None, "etc"), None);
        assert_eq!(
            cwd_after_cdup(Some("/pub/FreeBSD")).as_deref(),
            Some("/pub")
        );
        assert_eq!(cwd_after_cdup(Some("/")).as_deref(), Some("/"));
        assert_eq!(cwd_after_cdup(None), None);
    }

    #[test]
    fn list_options() {
        assert_eq!(strip_list_options("-la /pub"), "/pub");
        assert_eq!(strip_list_options("-l -a  x y"), "x y");
        assert_eq!(strip_list_options("-la"), "");
        assert_eq!(strip_list_options(""), "");
        assert_eq!(strip_list_options("/pub"), "/pub");
    }
}
