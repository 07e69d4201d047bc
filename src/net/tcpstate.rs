//! A tracked TCP connection's state — handshake, each side's FIN, reset, finished,
//! replayed — as explicit states, and the one pure transition function every change of
//! them goes through ([`transition`]); [`super::tcp::TcpTracker`] carries out the rest.

use super::tcp::{CloseKind, Dir, TcpEvent};
use super::TcpFlags;

/// How far the three-way handshake got, as far as the capture shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// Picked up mid-stream: its first packet was no SYN.
    MidStream,
    /// The client's SYN seen.
    SynSent,
    /// The server's SYN+ACK seen; the handshake's last ACK not yet.
    SynReceived,
    /// Done: the client's ACK of the SYN+ACK, or (after a SYN) the client's data or FIN
    /// when that ACK is not in the capture. `synack`: the SYN+ACK was seen.
    Established { synack: bool },
}

impl Handshake {
    fn synack_seen(self) -> bool {
        matches!(
            self,
            Handshake::SynReceived | Handshake::Established { synack: true }
        )
    }

    fn done(self) -> bool {
        matches!(self, Handshake::Established { .. })
    }
}

/// One direction's teardown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fin {
    /// No FIN from this side yet.
    Open,
    /// This side's FIN, at this sequence number, not yet acknowledged by the peer.
    Sent(u32),
    /// This side's FIN, acknowledged by the peer.
    Acked(u32),
}

impl Fin {
    fn seq(self) -> Option<u32> {
        match self {
            Fin::Open => None,
            Fin::Sent(s) | Fin::Acked(s) => Some(s),
        }
    }
}

/// A connection's state in the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// Live: the handshake's progress and each direction's FIN [to server, to client]
    /// (one FIN: half-closed; both: closing; both acknowledged: closed, finished at once).
    /// `replayed`: its SYN came again with the same ISN after both FINs (a replayed
    /// copy follows; once finished, its segments are duplicates).
    Open {
        handshake: Handshake,
        fin: [Fin; 2],
        replayed: bool,
    },
    /// A RST ended it (finished at once).
    Reset { replayed: bool },
    /// Closed and reported to the handler; kept a while so stray late packets are not a
    /// new connection.
    Finished,
    /// Finished, and a replayed copy of it is going by: every segment is a duplicate.
    Replayed,
}

/// A segment as the transition sees it: flags, numbers, and what the reassembly knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seg {
    pub dir: Dir,
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    /// Sequence space the segment occupies (payload length on the wire).
    pub wire_len: u32,
    /// The segment carries captured payload.
    pub payload: bool,
    /// The connection's first packet was a SYN (or SYN+ACK).
    pub saw_syn: bool,
    /// The sending side's ISN (after this segment's SYN re-anchored it).
    pub own_isn: Option<u32>,
    /// The server's ISN, when its SYN+ACK was seen.
    pub server_isn: Option<u32>,
}

/// What changes a connection's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A segment of the live connection.
    Segment(Seg),
    /// A SYN with the client and ISN of this connection came again.
    DuplicateSyn,
    /// A SYN came from a side picked up mid-stream before any of its bytes: that side
    /// starts afresh (its FIN so far is forgotten).
    Reanchor(Dir),
    /// The connection is reported (closed and drained, evicted, idle, or the capture ended).
    Finish,
}

/// What the tracker must do after a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Output {
    /// Flag events to hand up before the payload (handshake or RST; a FIN's ACK).
    pub events: [Option<TcpEvent>; 2],
    /// The FIN event, handed up after the payload.
    pub fin: Option<TcpEvent>,
    /// Segments that repeated a flag already seen (a SYN+ACK, a bare FIN).
    pub duplicates: u8,
    /// The connection is over (RST, or both FINs acknowledged): finish it now.
    pub done: bool,
    /// How it ended, when the input finished it.
    pub close: Option<CloseKind>,
}

impl ConnState {
    /// A new connection: its first packet was a SYN (or SYN+ACK), or it was picked up
    /// mid-stream.
    pub fn new(saw_syn: bool) -> Self {
        ConnState::Open {
            handshake: if saw_syn {
                Handshake::SynSent
            } else {
                Handshake::MidStream
            },
            fin: [Fin::Open; 2],
            replayed: false,
        }
    }

    /// Reported to the handler (late packets are only counted).
    #[inline]
    pub fn finished(self) -> bool {
        matches!(self, ConnState::Finished | ConnState::Replayed)
    }

    /// Finished, and a replayed copy of it is going by.
    #[inline]
    pub fn replay(self) -> bool {
        matches!(
            self,
            ConnState::Replayed
                | ConnState::Open { replayed: true, .. }
                | ConnState::Reset { replayed: true }
        )
    }

    /// Whether a segment with these flags from `dir` leaves the state as it is and asks
    /// for nothing: the common case, a segment without SYN, FIN or RST of an established
    /// connection whose peer sent no FIN.
    #[inline(always)]
    pub fn unchanged_by(self, flags: TcpFlags, dir: Dir) -> bool {
        const FLAGS: u8 = TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST;
        match self {
            ConnState::Open {
                handshake: Handshake::Established { .. },
                fin,
                ..
            } => flags.0 & FLAGS == 0 && fin[dir.flip().idx()] == Fin::Open,
            _ => false,
        }
    }

    /// Reset, or both sides sent their FIN.
    pub fn closed(self) -> bool {
        match self {
            ConnState::Reset { .. } => true,
            ConnState::Open { fin, .. } => fin.iter().all(|f| f.seq().is_some()),
            ConnState::Finished | ConnState::Replayed => false,
        }
    }

    /// How the connection ended so far.
    fn close_kind(self) -> CloseKind {
        match self {
            ConnState::Reset { .. } => CloseKind::Rst,
            s if s.closed() => CloseKind::Fin,
            _ => CloseKind::Open,
        }
    }
}

/// The connection state machine: the state after `input`, and what the tracker must do.
/// Pure; every change of a connection's state goes through it. Inlined: called once per
/// segment, it then costs what the flags it replaced did.
#[inline(always)]
pub fn transition(state: ConnState, input: Input) -> (ConnState, Output) {
    // The common case first (the tracker asks before it builds the segment).
    if let Input::Segment(seg) = input {
        if state.unchanged_by(seg.flags, seg.dir) {
            return (state, Output::default());
        }
    }
    let mut out = Output::default();
    let next = match (state, input) {
        (ConnState::Finished | ConnState::Replayed, Input::DuplicateSyn) => ConnState::Replayed,
        (ConnState::Open { .. } | ConnState::Reset { .. }, Input::DuplicateSyn)
            if state.closed() =>
        {
            match state {
                ConnState::Open { handshake, fin, .. } => ConnState::Open {
                    handshake,
                    fin,
                    replayed: true,
                },
                _ => ConnState::Reset { replayed: true },
            }
        }
        (_, Input::DuplicateSyn) => state,
        (
            ConnState::Open {
                handshake,
                mut fin,
                replayed,
            },
            Input::Reanchor(dir),
        ) => {
            fin[dir.idx()] = Fin::Open;
            ConnState::Open {
                handshake,
                fin,
                replayed,
            }
        }
        (_, Input::Reanchor(_)) => state,
        (ConnState::Finished | ConnState::Replayed, Input::Finish) => state,
        (_, Input::Finish) => {
            out.close = Some(state.close_kind());
            if state.replay() {
                ConnState::Replayed
            } else {
                ConnState::Finished
            }
        }
        (
            ConnState::Open {
                handshake,
                fin,
                replayed,
            },
            Input::Segment(seg),
        ) => open_segment(handshake, fin, replayed, seg, &mut out),
        // Finished and reset connections take no more segments (the tracker counts them).
        (s, Input::Segment(_)) => s,
    };
    (next, out)
}

/// A segment of a live connection.
#[inline(always)]
fn open_segment(
    mut handshake: Handshake,
    mut fin: [Fin; 2],
    replayed: bool,
    seg: Seg,
    out: &mut Output,
) -> ConnState {
    let f = seg.flags;
    let (d, o) = (seg.dir.idx(), seg.dir.flip().idx());
    if f.rst() {
        out.events[0] = Some(TcpEvent::Rst);
        out.done = true;
        return ConnState::Reset { replayed };
    }
    if f.syn() {
        if f.ack() && handshake.synack_seen() && seg.own_isn == Some(seg.seq) {
            // The same SYN+ACK again: retransmitted or duplicated.
            out.duplicates += 1;
        } else {
            out.events[0] = Some(if f.ack() {
                TcpEvent::SynAck
            } else {
                TcpEvent::Syn
            });
        }
        if f.ack() {
            handshake = match handshake {
                Handshake::Established { .. } => Handshake::Established { synack: true },
                _ => Handshake::SynReceived,
            };
        }
    } else if f.ack()
        && handshake == Handshake::SynReceived
        && seg.dir == Dir::ToServer
        && seg.server_isn.map(|i| i.wrapping_add(1)) == Some(seg.ack)
    {
        handshake = Handshake::Established { synack: true };
        out.events[0] = Some(TcpEvent::HandshakeAck);
    }
    if seg.saw_syn
        && !handshake.done()
        && !f.syn()
        && seg.dir == Dir::ToServer
        && (seg.payload || f.fin())
    {
        // Handshake ACK never seen (lost) but traffic flows: consider it done.
        handshake = Handshake::Established {
            synack: handshake.synack_seen(),
        };
    }
    // ACK of the peer's FIN.
    if f.ack() {
        if let Fin::Sent(fs) = fin[o] {
            if seg.ack == fs.wrapping_add(1) {
                fin[o] = Fin::Acked(fs);
                if !f.fin() {
                    out.events[1] = Some(TcpEvent::FinAcked);
                }
            }
        }
    }
    if f.fin() {
        let fin_seq = seg.seq.wrapping_add(seg.wire_len);
        if fin[d].seq() == Some(fin_seq) {
            // The same FIN again (retransmitted or duplicated) is not a new event.
            if seg.wire_len == 0 {
                out.duplicates += 1;
            }
        } else {
            if fin[d] == Fin::Open {
                fin[d] = Fin::Sent(fin_seq);
            }
            out.fin = Some(if f.ack() {
                TcpEvent::FinAck
            } else {
                TcpEvent::Fin
            });
        }
    }
    out.done = fin.iter().all(|f| matches!(f, Fin::Acked(_)));
    ConnState::Open {
        handshake,
        fin,
        replayed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Handshake::*;

    const SYN: u8 = TcpFlags::SYN;
    const ACK: u8 = TcpFlags::ACK;
    const FIN: u8 = TcpFlags::FIN;
    const RST: u8 = TcpFlags::RST;

    fn open(handshake: Handshake, fin: [Fin; 2]) -> ConnState {
        ConnState::Open {
            handshake,
            fin,
            replayed: false,
        }
    }

    /// A segment from `dir` with these flags, numbers and payload length; the client's
    /// ISN is 100, the server's 500.
    fn seg(dir: Dir, flags: u8, seq: u32, ack: u32, len: u32) -> Input {
        Input::Segment(Seg {
            dir,
            flags: TcpFlags(flags),
            seq,
            ack,
            wire_len: len,
            payload: len > 0,
            saw_syn: true,
            own_isn: Some(if dir == Dir::ToServer { 100 } else { 500 }),
            server_isn: Some(500),
        })
    }

    fn mid(input: Input) -> Input {
        match input {
            Input::Segment(s) => Input::Segment(Seg {
                saw_syn: false,
                ..s
            }),
            i => i,
        }
    }

    fn out(events: [Option<TcpEvent>; 2], fin: Option<TcpEvent>, dups: u8, done: bool) -> Output {
        Output {
            events,
            fin,
            duplicates: dups,
            done,
            close: None,
        }
    }

    const NONE: Output = Output {
        events: [None, None],
        fin: None,
        duplicates: 0,
        done: false,
        close: None,
    };

    fn ev(e: TcpEvent) -> Output {
        out([Some(e), None], None, 0, false)
    }

    fn acked() -> Output {
        out([None, Some(TcpEvent::FinAcked)], None, 0, false)
    }

    /// State × input → state and output, one row per transition.
    #[test]
    fn transition_table() {
        use Dir::{ToClient as C, ToServer as S};
        use Fin::{Acked, Open as No, Sent};
        use TcpEvent as E;
        let est = Established { synack: true };
        #[rustfmt::skip]
        let table: Vec<(ConnState, Input, ConnState, Output)> = vec![
            // Three-way handshake.
            (ConnState::new(true), seg(S, SYN, 100, 0, 0), open(SynSent, [No, No]), ev(E::Syn)),
            (open(SynSent, [No, No]), seg(C, SYN | ACK, 500, 101, 0), open(SynReceived, [No, No]), ev(E::SynAck)),
            (open(SynReceived, [No, No]), seg(S, ACK, 101, 501, 0), open(est, [No, No]), ev(E::HandshakeAck)),
            // An ACK that acknowledges something else does not complete it.
            (open(SynReceived, [No, No]), seg(S, ACK, 101, 900, 0), open(SynReceived, [No, No]), NONE),
            // The server's ACK does not complete it either.
            (open(SynReceived, [No, No]), seg(C, ACK, 501, 501, 0), open(SynReceived, [No, No]), NONE),
            // A retransmitted SYN+ACK is a duplicate, not an event.
            (open(SynReceived, [No, No]), seg(C, SYN | ACK, 500, 101, 0), open(SynReceived, [No, No]), out([None, None], None, 1, false)),
            (open(est, [No, No]), seg(C, SYN | ACK, 500, 101, 0), open(est, [No, No]), out([None, None], None, 1, false)),
            // The handshake ACK lost: the client's data completes it, without an event.
            (open(SynSent, [No, No]), seg(S, ACK, 101, 0, 10), open(Established { synack: false }, [No, No]), NONE),
            (open(SynReceived, [No, No]), seg(S, ACK, 101, 900, 10), open(est, [No, No]), NONE),
            // ... a late SYN+ACK after that is an event once.
            (open(Established { synack: false }, [No, No]), seg(C, SYN | ACK, 500, 101, 0), open(est, [No, No]), ev(E::SynAck)),
            // Mid-stream pickup: data flows, the handshake stays unknown.
            (ConnState::new(false), mid(seg(S, ACK, 5000, 6000, 10)), open(MidStream, [No, No]), NONE),
            (open(MidStream, [No, No]), mid(seg(C, SYN | ACK, 500, 101, 0)), open(SynReceived, [No, No]), ev(E::SynAck)),
            // Teardown: FIN from one side, its ACK, the other FIN, its ACK (closed: done).
            (open(est, [No, No]), seg(S, FIN | ACK, 150, 600, 0), open(est, [Sent(150), No]), out([None, None], Some(E::FinAck), 0, false)),
            (open(est, [Sent(150), No]), seg(C, ACK, 600, 151, 0), open(est, [Acked(150), No]), acked()),
            (open(est, [Acked(150), No]), seg(C, FIN | ACK, 600, 151, 0), open(est, [Acked(150), Sent(600)]), out([None, None], Some(E::FinAck), 0, false)),
            (open(est, [Acked(150), Sent(600)]), seg(S, ACK, 151, 601, 0), open(est, [Acked(150), Acked(600)]), Output { done: true, ..acked() }),
            // A FIN with data: its sequence number is after the data.
            (open(est, [No, No]), seg(S, FIN | ACK, 140, 600, 10), open(est, [Sent(150), No]), out([None, None], Some(E::FinAck), 0, false)),
            // Simultaneous close: both FINs cross, each acknowledged by the other's FIN+ACK.
            (open(est, [No, No]), seg(S, FIN, 150, 0, 0), open(est, [Sent(150), No]), out([None, None], Some(E::Fin), 0, false)),
            (open(est, [Sent(150), No]), seg(C, FIN | ACK, 600, 151, 0), open(est, [Acked(150), Sent(600)]), out([None, None], Some(E::FinAck), 0, false)),
            (open(est, [Sent(150), Sent(600)]), seg(C, ACK, 601, 151, 0), open(est, [Acked(150), Sent(600)]), acked()),
            // A repeated FIN is a duplicate (a bare one) and no new event.
            (open(est, [Sent(150), No]), seg(S, FIN | ACK, 150, 600, 0), open(est, [Sent(150), No]), out([None, None], None, 1, false)),
            (open(est, [Sent(150), No]), seg(S, FIN | ACK, 140, 600, 10), open(est, [Sent(150), No]), NONE),
            // RST: reset and done, whatever came before.
            (open(SynSent, [No, No]), seg(C, RST | ACK, 0, 101, 0), ConnState::Reset { replayed: false }, out([Some(E::Rst), None], None, 0, true)),
            (open(est, [Sent(150), No]), seg(S, RST, 151, 0, 0), ConnState::Reset { replayed: false }, out([Some(E::Rst), None], None, 0, true)),
            // Finishing: how it ended.
            (ConnState::Reset { replayed: false }, Input::Finish, ConnState::Finished, Output { close: Some(CloseKind::Rst), ..NONE }),
            (open(est, [Sent(150), Sent(600)]), Input::Finish, ConnState::Finished, Output { close: Some(CloseKind::Fin), ..NONE }),
            (open(est, [Sent(150), No]), Input::Finish, ConnState::Finished, Output { close: Some(CloseKind::Open), ..NONE }),
            (ConnState::Finished, Input::Finish, ConnState::Finished, NONE),
            // A finished connection takes no more segments.
            (ConnState::Finished, seg(S, ACK, 151, 601, 0), ConnState::Finished, NONE),
            // Its SYN again with the same ISN: a replayed copy (only once closed).
            (ConnState::Finished, Input::DuplicateSyn, ConnState::Replayed, NONE),
            (ConnState::Replayed, Input::DuplicateSyn, ConnState::Replayed, NONE),
            (open(SynSent, [No, No]), Input::DuplicateSyn, open(SynSent, [No, No]), NONE),
            (open(est, [Sent(150), Sent(600)]), Input::DuplicateSyn, ConnState::Open { handshake: est, fin: [Sent(150), Sent(600)], replayed: true }, NONE),
            (ConnState::Open { handshake: est, fin: [Sent(150), Sent(600)], replayed: true }, Input::Finish, ConnState::Replayed, Output { close: Some(CloseKind::Fin), ..NONE }),
            // A side picked up mid-stream starts afresh with its SYN.
            (open(MidStream, [No, Sent(600)]), Input::Reanchor(C), open(MidStream, [No, No]), NONE),
            (ConnState::Finished, Input::Reanchor(C), ConnState::Finished, NONE),
        ];
        for (i, (from, input, to, o)) in table.into_iter().enumerate() {
            assert_eq!(
                transition(from, input),
                (to, o),
                "row {i}: {from:?} + {input:?}"
            );
        }
    }

    #[test]
    fn queries() {
        use Fin::{Open as No, Sent};
        assert!(!ConnState::new(true).closed() && !ConnState::new(true).finished());
        assert!(open(SynSent, [Sent(1), Sent(2)]).closed());
        assert!(!open(SynSent, [Sent(1), No]).closed());
        assert!(ConnState::Reset { replayed: false }.closed());
        assert!(ConnState::Finished.finished() && !ConnState::Finished.replay());
        assert!(ConnState::Replayed.finished() && ConnState::Replayed.replay());
        let est = open(Established { synack: true }, [No, No]);
        assert!(est.unchanged_by(TcpFlags(ACK), Dir::ToServer));
        assert!(!est.unchanged_by(TcpFlags(ACK | FIN), Dir::ToServer));
        assert!(!open(Established { synack: true }, [Sent(1), No])
            .unchanged_by(TcpFlags(ACK), Dir::ToClient));
        assert!(open(Established { synack: true }, [Sent(1), No])
            .unchanged_by(TcpFlags(ACK), Dir::ToServer));
        assert!(!open(SynReceived, [No, No]).unchanged_by(TcpFlags(ACK), Dir::ToServer));
    }
}
