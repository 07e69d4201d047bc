//! The FTP session's phases — greeting, login, the control channel's TLS, its end — as
//! explicit states, and the one pure transition function every change of them goes
//! through ([`transition`]); [`super::session::Session`] carries out what it returns.

use super::parse::Verb;
use crate::capture::Timestamp;
use crate::model::{Close, Login};

/// Where the control connection's life is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    /// Connected; the server has not replied yet.
    Connected,
    /// The server replied (its greeting, or the first reply the capture holds).
    Greeted,
    /// The client sent QUIT; its reply has not come yet.
    Quitting,
    /// The server answered QUIT with 221.
    Quit,
    /// The control connection ended: with a FIN, a RST, or with the capture (`Open`).
    Closed(Close),
    /// Ended, and kept open until then for late data connections of its TLS.
    Lingering(Close, Timestamp),
}

/// The control channel's security.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Cleartext FTP; TLS never negotiated.
    Clear,
    /// TLS negotiated (AUTH accepted with 234, or implicit FTPS from the first byte);
    /// `after_ccc`: the channel had left TLS before (a CCC, then AUTH again).
    Tls { after_ccc: bool },
    /// Left TLS for cleartext (CCC, RFC 2228).
    Cleared,
}

/// A session's phase: three independent parts, each an explicit state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase {
    pub life: Life,
    /// The outcome of the latest login attempt (`None`: none yet, or REIN).
    pub login: Login,
    pub channel: Channel,
}

impl Phase {
    /// A session whose control connection just opened.
    pub const START: Phase = Phase {
        life: Life::Connected,
        login: Login::None,
        channel: Channel::Clear,
    };

    /// Whether the control connection has ended.
    pub fn closed(&self) -> bool {
        matches!(self.life, Life::Closed(_) | Life::Lingering(..))
    }

    /// How the control connection ended (`Open`: it has not, or the capture ended first).
    pub fn close(&self) -> Close {
        match self.life {
            Life::Closed(c) | Life::Lingering(c, _) => c,
            _ => Close::Open,
        }
    }

    /// Whether TLS was ever negotiated on the control connection.
    pub fn tls(&self) -> bool {
        self.channel != Channel::Clear
    }

    /// Whether the control connection ever left TLS for cleartext (CCC).
    pub fn cleared(&self) -> bool {
        matches!(
            self.channel,
            Channel::Cleared | Channel::Tls { after_ccc: true }
        )
    }
}

/// What changes a session's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A side's first bytes, before any command, are TLS records (`implicit`: a handshake
    /// record, i.e. implicit FTPS; otherwise a capture that began after AUTH).
    TlsFromStart { implicit: bool },
    /// The client sent a command.
    Command(Verb),
    /// A reply to a command the session keeps (`Verb::Other`: the greeting or an
    /// unsolicited reply); `encrypted`: the control connection still carries TLS records.
    Reply {
        verb: Verb,
        code: u16,
        encrypted: bool,
    },
    /// A final reply to a command beyond the session's limit: only a failed login counts.
    UnkeptReply { verb: Verb, code: u16 },
    /// One side of the control connection left TLS for cleartext.
    Ccc,
    /// The control connection ended.
    Closed(Close),
    /// The capture ended with the control connection still open.
    CaptureEnded,
    /// Keep the ended session open for late data connections until then.
    Linger(Timestamp),
}

/// What the session must do as a phase changes (at most one per input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// TLS starts on the control connection: (re)start its record streams.
    StartTls { implicit: bool },
    /// The control connection left TLS for the first time: a finding.
    LeftTls,
    /// A login attempt failed: count it.
    LoginFailed,
    /// REIN was accepted: user and password are forgotten.
    LoginReset,
    /// The session lingers for late data connections.
    Lingers,
}

fn login_verb(v: Verb) -> bool {
    matches!(v, Verb::User | Verb::Pass | Verb::Acct)
}

/// The session state machine: the phase after `input`, and what the session must do.
/// Pure; every change of a session's phase goes through it.
#[inline(always)]
pub fn transition(p: Phase, input: Input) -> (Phase, Option<Output>) {
    let mut next = p;
    let out = match input {
        Input::TlsFromStart { implicit } => match p.channel {
            Channel::Clear => {
                next.channel = Channel::Tls { after_ccc: false };
                Some(Output::StartTls { implicit })
            }
            _ => None,
        },
        Input::Command(verb) => {
            if verb == Verb::Quit && matches!(p.life, Life::Connected | Life::Greeted) {
                next.life = Life::Quitting;
            }
            None
        }
        Input::Reply {
            verb,
            code,
            encrypted,
        } => {
            next.life = match (p.life, verb, code) {
                (Life::Connected, _, _) => Life::Greeted,
                (Life::Quitting, Verb::Quit, 221) => Life::Quit,
                (Life::Quitting, Verb::Quit, 200..=599) => Life::Greeted,
                (l, _, _) => l,
            };
            match (verb, code) {
                (Verb::User | Verb::Pass | Verb::Acct, 230) | (Verb::Pass, 202) => {
                    next.login = Login::Success;
                    None
                }
                (v, 400..=599) if login_verb(v) => {
                    next.login = Login::Failed;
                    Some(Output::LoginFailed)
                }
                (Verb::Auth, 234) if !encrypted => {
                    next.channel = Channel::Tls {
                        after_ccc: p.cleared(),
                    };
                    Some(Output::StartTls { implicit: false })
                }
                (Verb::Rein, 220) => {
                    next.login = Login::None;
                    Some(Output::LoginReset)
                }
                _ => None,
            }
        }
        Input::UnkeptReply { verb, code } => {
            if login_verb(verb) && (400..600).contains(&code) {
                next.login = Login::Failed;
                Some(Output::LoginFailed)
            } else {
                None
            }
        }
        Input::Ccc => match p.channel {
            Channel::Tls { after_ccc } => {
                next.channel = Channel::Cleared;
                (!after_ccc).then_some(Output::LeftTls)
            }
            _ => None,
        },
        Input::Closed(c) => {
            next.life = match p.life {
                Life::Lingering(_, until) => Life::Lingering(c, until),
                _ => Life::Closed(c),
            };
            None
        }
        Input::CaptureEnded => {
            if !p.closed() {
                next.life = Life::Closed(Close::Open);
            }
            None
        }
        Input::Linger(until) => match p.life {
            Life::Closed(c) => {
                next.life = Life::Lingering(c, until);
                Some(Output::Lingers)
            }
            _ => None,
        },
    };
    (next, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Channel::*;
    use Life::*;

    fn at(life: Life, login: Login, channel: Channel) -> Phase {
        Phase {
            life,
            login,
            channel,
        }
    }

    fn reply(verb: Verb, code: u16) -> Input {
        Input::Reply {
            verb,
            code,
            encrypted: false,
        }
    }

    const T: Timestamp = Timestamp(7);
    const TLS: Channel = Tls { after_ccc: false };
    const TLS2: Channel = Tls { after_ccc: true };

    /// Phase × input → phase and output, one row per transition.
    #[test]
    fn transition_table() {
        use Login::{Failed, None as No, Success};
        #[rustfmt::skip]
        let table: Vec<(Phase, Input, Phase, Option<Output>)> = vec![
            // Greeting.
            (Phase::START, reply(Verb::Other, 220), at(Greeted, No, Clear), None),
            (Phase::START, reply(Verb::Other, 421), at(Greeted, No, Clear), None),
            (at(Greeted, No, Clear), reply(Verb::Other, 220), at(Greeted, No, Clear), None),
            // Login: USER/331, PASS/230; failures counted; 202 for PASS; ACCT.
            (at(Greeted, No, Clear), Input::Command(Verb::User), at(Greeted, No, Clear), None),
            (at(Greeted, No, Clear), reply(Verb::User, 331), at(Greeted, No, Clear), None),
            (at(Greeted, No, Clear), reply(Verb::User, 332), at(Greeted, No, Clear), None),
            (at(Greeted, No, Clear), reply(Verb::Pass, 230), at(Greeted, Success, Clear), None),
            (at(Greeted, No, Clear), reply(Verb::User, 230), at(Greeted, Success, Clear), None),
            (at(Greeted, No, Clear), reply(Verb::Pass, 202), at(Greeted, Success, Clear), None),
            (at(Greeted, No, Clear), reply(Verb::User, 202), at(Greeted, No, Clear), None),
            (at(Greeted, Failed, Clear), reply(Verb::Acct, 230), at(Greeted, Success, Clear), None),
            (at(Greeted, No, Clear), reply(Verb::Pass, 530), at(Greeted, Failed, Clear), Some(Output::LoginFailed)),
            (at(Greeted, Success, Clear), reply(Verb::User, 530), at(Greeted, Failed, Clear), Some(Output::LoginFailed)),
            (at(Greeted, No, Clear), reply(Verb::Acct, 421), at(Greeted, Failed, Clear), Some(Output::LoginFailed)),
            (at(Greeted, Failed, Clear), reply(Verb::Pass, 331), at(Greeted, Failed, Clear), None),
            // A new USER after a login keeps its outcome until the next one.
            (at(Greeted, Success, Clear), reply(Verb::User, 331), at(Greeted, Success, Clear), None),
            // Other commands' failures are no login failures.
            (at(Greeted, Success, Clear), reply(Verb::Retr, 550), at(Greeted, Success, Clear), None),
            // Beyond the command limit only failures count.
            (at(Greeted, No, Clear), Input::UnkeptReply { verb: Verb::Pass, code: 530 }, at(Greeted, Failed, Clear), Some(Output::LoginFailed)),
            (at(Greeted, No, Clear), Input::UnkeptReply { verb: Verb::Pass, code: 230 }, at(Greeted, No, Clear), None),
            (at(Greeted, No, Clear), Input::UnkeptReply { verb: Verb::Cwd, code: 550 }, at(Greeted, No, Clear), None),
            // REIN.
            (at(Greeted, Success, Clear), reply(Verb::Rein, 220), at(Greeted, No, Clear), Some(Output::LoginReset)),
            (at(Greeted, Success, Clear), reply(Verb::Rein, 502), at(Greeted, Success, Clear), None),
            // AUTH TLS, implicit TLS, CCC, AUTH again.
            (at(Greeted, No, Clear), reply(Verb::Auth, 234), at(Greeted, No, TLS), Some(Output::StartTls { implicit: false })),
            (at(Greeted, No, Clear), reply(Verb::Auth, 504), at(Greeted, No, Clear), None),
            (at(Greeted, No, TLS), Input::Reply { verb: Verb::Auth, code: 234, encrypted: true }, at(Greeted, No, TLS), None),
            (at(Greeted, No, TLS), reply(Verb::Auth, 234), at(Greeted, No, TLS), Some(Output::StartTls { implicit: false })),
            (Phase::START, Input::TlsFromStart { implicit: true }, at(Connected, No, TLS), Some(Output::StartTls { implicit: true })),
            (Phase::START, Input::TlsFromStart { implicit: false }, at(Connected, No, TLS), Some(Output::StartTls { implicit: false })),
            (at(Connected, No, TLS), Input::TlsFromStart { implicit: true }, at(Connected, No, TLS), None),
            (at(Greeted, Success, TLS), Input::Ccc, at(Greeted, Success, Cleared), Some(Output::LeftTls)),
            (at(Greeted, Success, Cleared), Input::Ccc, at(Greeted, Success, Cleared), None),
            (at(Greeted, Success, Clear), Input::Ccc, at(Greeted, Success, Clear), None),
            (at(Greeted, Success, Cleared), reply(Verb::Auth, 234), at(Greeted, Success, TLS2), Some(Output::StartTls { implicit: false })),
            (at(Greeted, Success, TLS2), Input::Ccc, at(Greeted, Success, Cleared), None),
            // QUIT / 221.
            (at(Greeted, Success, Clear), Input::Command(Verb::Quit), at(Quitting, Success, Clear), None),
            (at(Connected, No, Clear), Input::Command(Verb::Quit), at(Quitting, No, Clear), None),
            (at(Quitting, Success, Clear), reply(Verb::Quit, 221), at(Quit, Success, Clear), None),
            (at(Quitting, Success, Clear), reply(Verb::Quit, 500), at(Greeted, Success, Clear), None),
            (at(Quitting, Success, Clear), reply(Verb::Retr, 226), at(Quitting, Success, Clear), None),
            (at(Quit, Success, Clear), Input::Command(Verb::Quit), at(Quit, Success, Clear), None),
            // The end of the control connection, the capture's end, lingering.
            (at(Quit, Success, Clear), Input::Closed(Close::Fin), at(Closed(Close::Fin), Success, Clear), None),
            (at(Greeted, No, Clear), Input::Closed(Close::Rst), at(Closed(Close::Rst), No, Clear), None),
            (at(Greeted, No, Clear), Input::CaptureEnded, at(Closed(Close::Open), No, Clear), None),
            (at(Closed(Close::Fin), No, Clear), Input::CaptureEnded, at(Closed(Close::Fin), No, Clear), None),
            (at(Closed(Close::Fin), No, TLS), Input::Linger(T), at(Lingering(Close::Fin, T), No, TLS), Some(Output::Lingers)),
            (at(Lingering(Close::Fin, T), No, TLS), Input::Linger(Timestamp(9)), at(Lingering(Close::Fin, T), No, TLS), None),
            (at(Lingering(Close::Fin, T), No, TLS), Input::CaptureEnded, at(Lingering(Close::Fin, T), No, TLS), None),
            (at(Greeted, No, TLS), Input::Linger(T), at(Greeted, No, TLS), None),
            (at(Closed(Close::Fin), No, Clear), Input::Command(Verb::Quit), at(Closed(Close::Fin), No, Clear), None),
            (at(Closed(Close::Fin), No, Clear), reply(Verb::Quit, 221), at(Closed(Close::Fin), No, Clear), None),
        ];
        for (i, (from, input, to, out)) in table.into_iter().enumerate() {
            assert_eq!(
                transition(from, input),
                (to, out),
                "row {i}: {from:?} + {input:?}"
            );
        }
    }

    #[test]
    fn derived_facts() {
        assert!(!Phase::START.closed());
        assert_eq!(Phase::START.close(), Close::Open);
        assert!(at(Lingering(Close::Rst, T), Login::None, TLS).closed());
        assert_eq!(
            at(Lingering(Close::Rst, T), Login::None, TLS).close(),
            Close::Rst
        );
        assert!(!Phase::START.tls() && at(Greeted, Login::None, Cleared).tls());
        assert!(!at(Greeted, Login::None, TLS).cleared());
        assert!(at(Greeted, Login::None, TLS2).cleared());
        assert!(at(Greeted, Login::None, Cleared).cleared());
    }
}
