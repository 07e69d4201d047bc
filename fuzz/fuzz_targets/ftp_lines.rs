//! Fuzz target: control-connection bytes → LineAssembler (chunked, with gaps) → commands, replies, data-channel addresses.
#![no_main]

use ftptrace::ftp::parse::*;
use libfuzzer_sys::fuzz_target;

fn per_line(line: Line<'_>, replies: &mut ReplyAssembler) {
    assert!(line.bytes.len() <= MAX_LINE_LEN);
    assert!(line.too_long || line.bytes.len() == line.orig_len);

    // As a client line.
    let cmd = parse_command(line.bytes);
    let verb = cmd.known();
    let up = uppercase_verb(cmd.verb);
    assert!(up.len() == cmd.verb.len() || up.chars().count() == cmd.verb.len());
    let _ = (verb.uses_data_channel(), verb.direction());
    let _ = parse_port(cmd.arg);
    let _ = parse_eprt(cmd.arg);
    let _ = parse_lprt(cmd.arg);
    let (arg, _latin1) = decode_text(cmd.arg);
    let _ = resolve_path(Some("/home/ftp"), &arg);
    let _ = cwd_after_cdup(resolve_path(None, &arg).as_deref());
    let _ = strip_list_options(&arg);

    // As a server line.
    if let Some(r) = parse_reply_line(line.bytes) {
        assert!((100..600).contains(&r.code));
    }
    if let ReplyEvent::Reply(r) = replies.feed(line.bytes) {
        assert!(r.text.len() <= MAX_REPLY_BYTES);
        assert!(r.lines >= 1 && r.lines <= MAX_REPLY_LINES);
        let t = &r.text;
        let _ = parse_pasv_reply(t);
        let _ = parse_epsv_reply(t);
        let _ = parse_lpsv_reply(t);
        let _ = parse_transfer_size(t);
        let _ = parse_size_reply(t);
        let _ = parse_257_path(t);
        let _ = ReplyCode(r.code).is_completion();
    }
}

fuzz_target!(|data: &[u8]| {
    // First byte: chunk size seed; bit 7 of the second: insert a gap once.
    let (ctl, body) = match data {
        [a, b, rest @ ..] => ((*a, *b), rest),
        _ => ((0, 0), data),
    };
    let chunk = usize::from(ctl.0 % 64) + 1;
    let gap_at = (ctl.1 & 0x80 != 0).then(|| usize::from(ctl.1 & 0x7f));

    let mut lines = LineAssembler::new();
    let mut replies = ReplyAssembler::new();
    for (i, piece) in body.chunks(chunk).enumerate() {
        if gap_at == Some(i) {
            let _ = lines.gap(17);
        }
        lines.feed(piece, |l| per_line(l, &mut replies));
    }
    lines.finish(|l| per_line(l, &mut replies));
    let _ = replies.finish();

    // The address parsers on the raw input too.
    let _ = parse_pasv_reply(body);
    let _ = parse_epsv_reply(body);
    let _ = parse_eprt(body);
    let _ = parse_port(body);
    let _ = parse_transfer_size(body);
    let _ = parse_257_path(body);
});
