//! Every login attempt of a session (USER, PASS, ACCT and the replies that decided them),
//! read back from its kept commands.

use crate::model::{Command, Login, LoginAttempt};

/// The attempts in `commands`, in order. An attempt opens at USER (or at a PASS with no
/// USER before it), takes the PASS and ACCT that follow, and closes at the first final
/// reply to one of them that is not 3xx (230 success, 4xx/5xx failure); an attempt the
/// capture never saw closed is `none`. Passwords are as the commands hold them (masked
/// unless `--show-passwords`).
pub fn attempts(commands: &[Command]) -> Vec<LoginAttempt> {
    let mut out: Vec<LoginAttempt> = Vec::new();
    let mut open = false;
    for c in commands {
        let verb = c.command.as_str();
        if !matches!(verb, "USER" | "PASS" | "ACCT") {
            continue;
        }
        if verb == "USER" || !open {
            out.push(LoginAttempt {
                ts: c.ts,
                user: (verb == "USER").then(|| c.arg.clone()),
                password: None,
                code: None,
                outcome: Login::None,
            });
            open = true;
        }
        let Some(a) = out.last_mut() else { continue };
        if verb == "PASS" {
            a.password = Some(c.arg.clone());
        }
        let Some(r) = c.replies.iter().find(|r| r.code >= 200) else {
            continue;
        };
        a.code = Some(r.code);
        a.ts = r.ts;
        match r.code {
            200..=299 => {
                a.outcome = Login::Success;
                open = false;
            }
            300..=399 => {}
            _ => {
                a.outcome = Login::Failed;
                open = false;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Timestamp;
    use crate::model::{Reply, Time};

    fn cmd(t: i64, verb: &str, arg: &str, code: u16) -> Command {
        Command {
            ts: Time::new(Timestamp(t), 6),
            command: verb.into(),
            arg: arg.into(),
            replies: vec![Reply {
                ts: Time::new(Timestamp(t + 1), 6),
                code,
                text: String::new(),
                encoding: None,
            }],
            cwd: None,
            encoding: None,
        }
    }

    #[test]
    fn brute_force_then_success() {
        let cmds = vec![
            cmd(0, "", "", 220),
            cmd(10, "USER", "root", 331),
            cmd(20, "PASS", "<hidden>", 530),
            cmd(30, "USER", "root", 331),
            cmd(40, "PASS", "<hidden>", 530),
            cmd(50, "PASS", "again", 503),
            cmd(60, "USER", "alice", 331),
            cmd(70, "PASS", "s3cret", 230),
            cmd(80, "PWD", "", 257),
        ];
        let a = attempts(&cmds);
        type Row<'a> = (Option<&'a str>, Option<&'a str>, Option<u16>, Login);
        let got: Vec<Row> = a
            .iter()
            .map(|a| (a.user.as_deref(), a.password.as_deref(), a.code, a.outcome))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("root"), Some("<hidden>"), Some(530), Login::Failed),
                (Some("root"), Some("<hidden>"), Some(530), Login::Failed),
                (None, Some("again"), Some(503), Login::Failed),
                (Some("alice"), Some("s3cret"), Some(230), Login::Success),
            ]
        );
        assert_eq!(a[3].ts.ts, Timestamp(71), "the time of the deciding reply");
    }

    #[test]
    fn user_alone_and_unanswered() {
        let a = attempts(&[cmd(0, "USER", "anonymous", 230)]);
        assert_eq!(a[0].outcome, Login::Success);
        assert_eq!(a[0].password, None);
        let mut c = cmd(0, "USER", "bob", 331);
        c.replies.clear();
        let a = attempts(&[c]);
        assert_eq!((a[0].code, a[0].outcome), (None, Login::None));
        let a = attempts(&[
            cmd(0, "USER", "x", 331),
            cmd(5, "PASS", "p", 332),
            cmd(9, "ACCT", "acc", 230),
        ]);
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].code, a[0].outcome), (Some(230), Login::Success));
    }
}
