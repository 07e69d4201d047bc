//! A pcap writer for tests: TCP conversations built packet by packet with etherparse.

use etherparse::PacketBuilder;
use ftptrace::analyzer::{Analyzer, Options, SessionSink};
use ftptrace::capture::file::FileSource;
use ftptrace::model::Report;

/// A TCP conversation writer: tracks sequence numbers per direction.
pub struct Conv {
    pub a: ([u8; 4], u16),
    pub b: ([u8; 4], u16),
    pub seq: [u32; 2],
}

#[derive(Default)]
pub struct Cap {
    pub bytes: Vec<u8>,
    pub t: u64,
}

impl Cap {
    pub fn new() -> Self {
        let mut c = Cap::default();
        c.bytes.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
        c.bytes.extend_from_slice(&2u16.to_le_bytes());
        c.bytes.extend_from_slice(&4u16.to_le_bytes());
        c.bytes.extend_from_slice(&[0; 8]);
        c.bytes.extend_from_slice(&65535u32.to_le_bytes());
        c.bytes.extend_from_slice(&1u32.to_le_bytes());
        c.t = 1_700_000_000_000_000;
        c
    }

    pub fn packet(
        &mut self,
        from: ([u8; 4], u16),
        to: ([u8; 4], u16),
        seq: u32,
        ack: u32,
        flags: &str,
        payload: &[u8],
    ) {
        let mut b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(from.0, to.0, 64)
            .tcp(from.1, to.1, seq, 65535);
        if flags.contains('S') {
            b = b.syn();
        }
        if flags.contains('A') {
            b = b.ack(ack);
        }
        if flags.contains('F') {
            b = b.fin();
        }
        if flags.contains('R') {
            b = b.rst();
        }
        if flags.contains('P') {
            b = b.psh();
        }
        let mut frame = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut frame, payload).unwrap();
        self.t += 1000;
        let (s, us) = (self.t / 1_000_000, self.t % 1_000_000);
        self.bytes.extend_from_slice(&(s as u32).to_le_bytes());
        self.bytes.extend_from_slice(&(us as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(&frame);
    }

    /// A connection with its handshake (or none: picked up mid-stream).
    pub fn open(&mut self, a: ([u8; 4], u16), b: ([u8; 4], u16), handshake: bool) -> Conv {
        let mut c = Conv {
            a,
            b,
            seq: [1000, 5000],
        };
        if handshake {
            self.packet(a, b, c.seq[0], 0, "S", b"");
            self.packet(b, a, c.seq[1], c.seq[0] + 1, "SA", b"");
            c.seq = [c.seq[0] + 1, c.seq[1] + 1];
            self.packet(a, b, c.seq[0], c.seq[1], "A", b"");
        }
        c
    }

    /// `dir` 0: a→b, 1: b→a.
    pub fn send(&mut self, c: &mut Conv, dir: usize, data: &[u8]) {
        let (from, to) = if dir == 0 { (c.a, c.b) } else { (c.b, c.a) };
        self.packet(from, to, c.seq[dir], c.seq[1 - dir], "PA", data);
        c.seq[dir] = c.seq[dir].wrapping_add(data.len() as u32);
    }

    /// Bytes the capture missed (the sender still sent them).
    pub fn lose(&mut self, c: &mut Conv, dir: usize, n: u32) {
        c.seq[dir] = c.seq[dir].wrapping_add(n);
    }

    pub fn close(&mut self, c: &mut Conv) {
        self.packet(c.a, c.b, c.seq[0], c.seq[1], "FA", b"");
        c.seq[0] += 1;
        self.packet(c.b, c.a, c.seq[1], c.seq[0], "FA", b"");
        c.seq[1] += 1;
        self.packet(c.a, c.b, c.seq[0], c.seq[1], "A", b"");
    }

    /// Run the library pipeline over the capture (input errors fail the test).
    pub fn analyze(&self, opts: Options) -> Report {
        self.run_with(opts, None, |_| {})
    }

    /// As JSONL runs it: the (id, client port) of each session in the order the sink got
    /// it, those the sink got before the end of the capture, and the report.
    pub fn stream(&self, opts: Options) -> Streamed {
        let got = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let sink = got.clone();
        let mut before_end = Vec::new();
        let report = self.run_with(
            opts,
            Some(Box::new(move |s: ftptrace::model::Session| {
                sink.borrow_mut().push((s.id, s.client.port))
            })),
            |_| before_end = got.borrow().clone(),
        );
        let all = got.borrow().clone();
        Streamed {
            before_end,
            all,
            report,
        }
    }

    /// Read the capture through the pipeline; `at_end` sees the analyzer when the capture
    /// is read, before [`Analyzer::finish`].
    fn run_with<'s>(
        &self,
        opts: Options,
        sink: Option<SessionSink<'s>>,
        at_end: impl FnOnce(&Analyzer<'s>),
    ) -> Report {
        let mut src = FileSource::from_reader(
            "synthetic",
            Box::new(std::io::Cursor::new(self.bytes.clone())),
        )
        .unwrap();
        let mut an = Analyzer::new(opts, sink);
        an.run(&mut src, |e| panic!("{e}"));
        at_end(&an);
        an.finish()
    }
}

/// What [`Cap::stream`] saw.
pub struct Streamed {
    pub before_end: Vec<(u64, u16)>,
    pub all: Vec<(u64, u16)>,
    pub report: Report,
}
