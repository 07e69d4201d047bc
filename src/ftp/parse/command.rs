//! Client command lines: verb and argument, the known verbs, and what they do with the data channel.

/// A command line split into its first word and the rest, both borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandLine<'a> {
    /// The first word: leading spaces skipped, up to the next space (or the
    /// end). Empty only for an empty or all-space line.
    pub verb: &'a [u8],
    /// Everything after the space that ends the verb, untouched ("" when none).
    pub arg: &'a [u8],
}

impl<'a> CommandLine<'a> {
    /// The verb as a [`Verb`] (case-insensitive).
    pub fn known(&self) -> Verb {
        Verb::from_bytes(self.verb)
    }
}

/// Split a command line (line ending already removed) into verb and argument.
///
/// `"RETR  my file "` gives verb `RETR` and arg `" my file "`: only the one
/// space after the verb is a separator, the argument is kept exactly.
pub fn parse_command(line: &[u8]) -> CommandLine<'_> {
    let start = line.iter().position(|&b| b != b' ').unwrap_or(line.len());
    let rest = &line[start..];
    match rest.iter().position(|&b| b == b' ') {
        Some(p) => CommandLine {
            verb: &rest[..p],
            arg: &rest[p + 1..],
        },
        None => CommandLine {
            verb: rest,
            arg: &[],
        },
    }
}

/// The verb upper-cased for the JSON `command` field, whatever its length.
/// Only ASCII letters change; other bytes are kept (decoded as Latin-1 when
/// the verb is not UTF-8, like [`super::decode_text`]).
pub fn uppercase_verb(verb: &[u8]) -> String {
    match std::str::from_utf8(verb) {
        Ok(s) => s.to_ascii_uppercase(),
        Err(_) => verb
            .iter()
            .map(|&b| char::from(b.to_ascii_uppercase()))
            .collect(),
    }
}

/// What a data-channel command moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Server → client file (RETR).
    Download,
    /// Client → server file (STOR, STOU, APPE).
    Upload,
    /// Server → client directory listing (LIST, NLST, MLSD).
    Listing,
}

impl Direction {
    /// The JSON spelling: `"download"`, `"upload"`, `"listing"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Download => "download",
            Direction::Upload => "upload",
            Direction::Listing => "listing",
        }
    }
}

/// A verb of up to 4 bytes as one integer: its length, then its bytes (distinct for every
/// byte string of length 0..=4, so `CWD` and `CWD\0` differ).
const fn verb_key(b: &[u8]) -> u64 {
    let mut k = b.len() as u64;
    let mut i = 0;
    while i < b.len() && i < 4 {
        k = (k << 8) | b[i] as u64;
        i += 1;
    }
    k
}

macro_rules! verbs {
    ($($v:ident => $s:literal),* $(,)?) => {
        /// FTP command verbs (RFC 959, 2228, 2389, 2428, 3659, 1639, 775 and
        /// common extensions). Open: anything else is [`Verb::Other`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Verb {
            $(
                #[doc = $s]
                $v,
            )*
            /// Any other verb (see the line for its spelling).
            Other,
        }

        /// Each verb's spelling as a [`verb_key`]: the patterns of [`Verb::from_bytes`].
        struct Key;

        #[allow(non_upper_case_globals)]
        impl Key {
            $(const $v: u64 = verb_key($s.as_bytes());)*
        }

        impl Verb {
            /// Every known verb (without `Other`).
            pub const ALL: &'static [Verb] = &[$(Verb::$v),*];

            /// The verb for `bytes`, case-insensitive; [`Verb::Other`] when unknown.
            /// One `match` on an integer (every command line of a session goes through here).
            pub fn from_bytes(bytes: &[u8]) -> Verb {
                if bytes.len() < 3 || bytes.len() > 4 {
                    return Verb::Other;
                }
                let mut up = [0u8; 4];
                for (d, s) in up.iter_mut().zip(bytes) {
                    *d = s.to_ascii_uppercase();
                }
                match verb_key(&up[..bytes.len()]) {
                    $(Key::$v => Verb::$v,)*
                    _ => Verb::Other,
                }
            }

            /// The canonical upper-case spelling (`""` for `Other`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Verb::$v => $s,)*
                    Verb::Other => "",
                }
            }
        }
    };
}

verbs! {
    User => "USER", Pass => "PASS", Acct => "ACCT", Cwd => "CWD", Cdup => "CDUP",
    Smnt => "SMNT", Rein => "REIN", Quit => "QUIT",
    Port => "PORT", Pasv => "PASV", Eprt => "EPRT", Epsv => "EPSV", Lprt => "LPRT",
    Lpsv => "LPSV", Type => "TYPE", Stru => "STRU", Mode => "MODE",
    Retr => "RETR", Stor => "STOR", Stou => "STOU", Appe => "APPE", Allo => "ALLO",
    Rest => "REST", Rnfr => "RNFR", Rnto => "RNTO", Abor => "ABOR", Dele => "DELE",
    Rmd => "RMD", Mkd => "MKD", Pwd => "PWD", List => "LIST", Nlst => "NLST",
    Site => "SITE", Syst => "SYST", Stat => "STAT", Help => "HELP", Noop => "NOOP",
    Xcwd => "XCWD", Xcup => "XCUP", Xpwd => "XPWD", Xmkd => "XMKD", Xrmd => "XRMD",
    Auth => "AUTH", Adat => "ADAT", Pbsz => "PBSZ", Prot => "PROT", Ccc => "CCC",
    Mic => "MIC", Conf => "CONF", Enc => "ENC",
    Feat => "FEAT", Opts => "OPTS", Lang => "LANG", Host => "HOST",
    Mdtm => "MDTM", Size => "SIZE", Mlsd => "MLSD", Mlst => "MLST",
    Mfmt => "MFMT", Mfct => "MFCT", Mff => "MFF", Clnt => "CLNT", Xcrc => "XCRC",
    Xmd5 => "XMD5", Hash => "HASH", Csid => "CSID", Avbl => "AVBL", Dsiz => "DSIZ",
    Rmda => "RMDA",
}

impl Verb {
    /// The command opens a data connection (RETR, STOR, STOU, APPE, LIST,
    /// NLST, MLSD).
    pub fn uses_data_channel(self) -> bool {
        self.direction().is_some()
    }

    /// What the data connection of this command carries, if it has one.
    pub fn direction(self) -> Option<Direction> {
        match self {
            Verb::Retr => Some(Direction::Download),
            Verb::Stor | Verb::Stou | Verb::Appe => Some(Direction::Upload),
            Verb::List | Verb::Nlst | Verb::Mlsd => Some(Direction::Listing),
            _ => None,
        }
    }

    /// The command announces an active-mode data port (PORT, EPRT, LPRT).
    pub fn is_active_setup(self) -> bool {
        matches!(self, Verb::Port | Verb::Eprt | Verb::Lprt)
    }

    /// The command asks for a passive-mode data port (PASV, EPSV, LPSV).
    pub fn is_passive_setup(self) -> bool {
        matches!(self, Verb::Pasv | Verb::Epsv | Verb::Lpsv)
    }

    /// The command changes the working directory (CWD, XCWD, CDUP, XCUP).
    pub fn changes_cwd(self) -> bool {
        matches!(self, Verb::Cwd | Verb::Xcwd | Verb::Cdup | Verb::Xcup)
    }

    /// The command's argument names a path (resolve it against the cwd).
    pub fn takes_path(self) -> bool {
        matches!(
            self,
            Verb::Cwd
                | Verb::Xcwd
                | Verb::Retr
                | Verb::Stor
                | Verb::Stou
                | Verb::Appe
                | Verb::List
                | Verb::Nlst
                | Verb::Mlsd
                | Verb::Mlst
                | Verb::Dele
                | Verb::Rnfr
                | Verb::Rnto
                | Verb::Mkd
                | Verb::Xmkd
                | Verb::Rmd
                | Verb::Xrmd
                | Verb::Size
                | Verb::Mdtm
                | Verb::Smnt
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_verb_and_arg() {
        let c = parse_command(b"USER anonymous");
        assert_eq!((c.verb, c.arg), (&b"USER"[..], &b"anonymous"[..]));
        assert_eq!(c.known(), Verb::User);
        let c = parse_command(b"PASV");
        assert_eq!((c.verb, c.arg), (&b"PASV"[..], &b""[..]));
        let c = parse_command(b"RETR  my file ");
        assert_eq!((c.verb, c.arg), (&b"RETR"[..], &b" my file "[..]));
        let c = parse_command(b"STOR ");
        assert_eq!((c.verb, c.arg), (&b"STOR"[..], &b""[..]));
        let c = parse_command(b"  cwd /pub");
        assert_eq!((c.verb, c.arg), (&b"cwd"[..], &b"/pub"[..]));
        let c = parse_command(b"");
        assert_eq!((c.verb, c.arg), (&b""[..], &b""[..]));
        let c = parse_command(b"   ");
        assert_eq!((c.verb, c.arg), (&b""[..], &b""[..]));
        // Tabs are not separators.
        let c = parse_command(b"RETR\tx y");
        assert_eq!((c.verb, c.arg), (&b"RETR\tx"[..], &b"y"[..]));
        // Zeek's missing-space capture: "RETR" alone.
        assert_eq!(parse_command(b"RETR").known(), Verb::Retr);
    }

    #[test]
    fn verbs_case_insensitive() {
        assert_eq!(Verb::from_bytes(b"retr"), Verb::Retr);
        assert_eq!(Verb::from_bytes(b"ReTr"), Verb::Retr);
        assert_eq!(Verb::from_bytes(b"CCC"), Verb::Ccc);
        assert_eq!(Verb::from_bytes(b"xpwd"), Verb::Xpwd);
        assert_eq!(Verb::from_bytes(b"RETRX"), Verb::Other);
        assert_eq!(Verb::from_bytes(b"RE"), Verb::Other);
        assert_eq!(Verb::from_bytes(b""), Verb::Other);
        assert_eq!(Verb::from_bytes(b"R\xc3\xa9T"), Verb::Other);
        assert_eq!(Verb::from_bytes(b"CWD\0"), Verb::Other);
        assert_eq!(Verb::from_bytes(b"\0CWD"), Verb::Other);
        assert_eq!(Verb::from_bytes(b"CW"), Verb::Other);
        assert_eq!(Verb::from_bytes(b"NOO"), Verb::Other);
        for &v in Verb::ALL {
            assert_eq!(Verb::from_bytes(v.as_str().as_bytes()), v);
            assert_eq!(
                Verb::from_bytes(v.as_str().to_ascii_lowercase().as_bytes()),
                v
            );
        }
    }

    #[test]
    fn uppercase_any_length() {
        assert_eq!(uppercase_verb(b"retr"), "RETR");
        assert_eq!(
            uppercase_verb(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        );
        assert_eq!(uppercase_verb("héllo".as_bytes()), "HéLLO");
        assert_eq!(uppercase_verb(b"x\xe9"), "X\u{e9}");
        assert_eq!(uppercase_verb(b""), "");
    }

    #[test]
    fn data_channel_helpers() {
        assert_eq!(Verb::Retr.direction(), Some(Direction::Download));
        for v in [Verb::Stor, Verb::Stou, Verb::Appe] {
            assert_eq!(v.direction(), Some(Direction::Upload));
        }
        for v in [Verb::List, Verb::Nlst, Verb::Mlsd] {
            assert_eq!(v.direction(), Some(Direction::Listing));
            assert!(v.uses_data_channel());
        }
        assert!(!Verb::Mlst.uses_data_channel());
        assert!(!Verb::Other.uses_data_channel());
        assert_eq!(Direction::Upload.as_str(), "upload");
        assert!(Verb::Eprt.is_active_setup() && Verb::Epsv.is_passive_setup());
        assert!(Verb::Xcup.changes_cwd());
    }
}
