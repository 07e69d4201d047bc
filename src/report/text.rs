//! Terminal-safe text: wire strings are shown with their control characters escaped.

use std::borrow::Cow;

/// True for characters that must never reach a terminal raw: C0 controls
/// (tab and newline included), DEL, C1 controls, and the Unicode bidi
/// overrides/isolates that can reorder what is displayed.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Show every control character of a wire string escaped: ESC as `\x1b`,
/// NUL as `\0`, CR `\r`, LF `\n`, TAB `\t`, DEL `\x7f`, other C0 as `\xNN`,
/// C1 controls and bidi overrides as `\u{NN}`. Everything else (backslashes
/// and printable Unicode included) is kept. Borrows when nothing changes.
pub fn escape_terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !needs_escape(c) {
            out.push(c);
            continue;
        }
        match c {
            '\0' => out.push_str("\\0"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        let s = "230 Anonymous user logged in. ✓ C:\\dir";
        assert!(matches!(escape_terminal(s), Cow::Borrowed(_)));
        assert_eq!(escape_terminal(s), s);
    }

    #[test]
    fn ansi_and_c0() {
        assert_eq!(
            escape_terminal("\x1b[2J\x1b]0;pwned\x07"),
            "\\x1b[2J\\x1b]0;pwned\\x07"
        );
        assert_eq!(escape_terminal("a\0b\rc\nd\te"), "a\\0b\\rc\\nd\\te");
        assert_eq!(escape_terminal("\x7f\x01\x1f"), "\\x7f\\x01\\x1f");
    }

    #[test]
    fn c1_and_bidi() {
        assert_eq!(escape_terminal("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(escape_terminal("\u{85}"), "\\u{85}");
        assert_eq!(escape_terminal("abc\u{202e}txt.exe"), "abc\\u{202e}txt.exe");
    }

    #[test]
    fn output_never_contains_controls() {
        let all: String = (0u32..0x300).filter_map(char::from_u32).collect();
        let e = escape_terminal(&all);
        assert!(!e.chars().any(needs_escape));
    }
}
