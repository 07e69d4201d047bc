//! `--hash`: SHA-256 of transfers computed on a helper thread beside parsing.
//!
//! The parser copies each data chunk into a batch buffer (with the job and direction it
//! belongs to); full batches go to the hashing thread over a bounded channel, and come back
//! empty to be reused, so the memory is [`BATCHES`] × [`BATCH_BYTES`] whatever the capture.
//! A job's digests are asked for when its connection ends: the request goes in order with
//! the data, and the parser waits for the answer (the thread has caught up by then).
//! Without a thread (it could not be started) everything is hashed in place.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Bytes gathered before a batch goes to the hashing thread.
pub const BATCH_BYTES: usize = 256 << 10;
/// Batches in flight (being filled, queued, being hashed): the parser waits when all are
/// taken, so it is never more than this far ahead of the hashing.
pub const BATCHES: usize = 4;
/// Most jobs (connections being hashed) at once on the hashing thread; a job beyond it is
/// not hashed (its transfer has no `sha256`), never an unbounded table.
pub const MAX_JOBS: usize = 1 << 20;

/// One hashing job: both directions of a data connection.
#[derive(Debug, PartialEq, Eq)]
pub struct Job(u64);

enum Op {
    Data { job: u64, dir: u8, len: usize },
    Drop { job: u64 },
    Finish { job: u64 },
}

#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    ops: Vec<Op>,
}

struct Remote {
    to: Option<SyncSender<Batch>>,
    empty: Receiver<Batch>,
    digests: Receiver<(u64, Option<[[u8; 32]; 2]>)>,
    thread: Option<JoinHandle<()>>,
}

/// The parser's side of the hashing.
pub struct Hasher {
    next: u64,
    jobs: usize,
    /// Jobs refused at [`MAX_JOBS`] (their transfers have no `sha256`).
    refused: u64,
    /// [`MAX_JOBS`], lower in tests.
    max_jobs: usize,
    cur: Batch,
    remote: Option<Remote>,
    /// Hashed in place when there is no thread.
    local: HashMap<u64, [Sha256; 2]>,
}

fn run(
    rx: Receiver<Batch>,
    back: SyncSender<Batch>,
    out: SyncSender<(u64, Option<[[u8; 32]; 2]>)>,
) {
    let mut state: HashMap<u64, [Sha256; 2]> = HashMap::new();
    while let Ok(mut b) = rx.recv() {
        let mut at = 0;
        for op in b.ops.drain(..) {
            match op {
                Op::Data { job, dir, len } => {
                    let h = state
                        .entry(job)
                        .or_insert_with(|| [Sha256::new(), Sha256::new()]);
                    h[dir as usize & 1].update(&b.bytes[at..at + len]);
                    at += len;
                }
                Op::Drop { job } => {
                    state.remove(&job);
                }
                Op::Finish { job } => {
                    let d = state
                        .remove(&job)
                        .unwrap_or_else(|| [Sha256::new(), Sha256::new()]);
                    let [a, b] = d;
                    if out
                        .send((job, Some([a.finalize().into(), b.finalize().into()])))
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
        b.bytes.clear();
        if back.send(b).is_err() {
            return;
        }
    }
}

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Hasher {
    /// Start the hashing thread (hash in place if it cannot be started).
    pub fn new() -> Self {
        let (to, rx) = mpsc::sync_channel::<Batch>(BATCHES);
        let (back, empty) = mpsc::sync_channel::<Batch>(BATCHES);
        let (out, digests) = mpsc::sync_channel(1);
        // The spare batches (one more is `cur`): the return channel is the pool.
        for _ in 1..BATCHES {
            let _ = back.send(Batch {
                bytes: Vec::with_capacity(BATCH_BYTES),
                ops: Vec::new(),
            });
        }
        let thread = std::thread::Builder::new()
            .name("ftptrace-sha256".into())
            .spawn(move || run(rx, back, out))
            .ok();
        let Some(thread) = thread else {
            return Self::in_place();
        };
        Hasher {
            next: 0,
            jobs: 0,
            refused: 0,
            max_jobs: MAX_JOBS,
            cur: Batch {
                bytes: Vec::with_capacity(BATCH_BYTES),
                ops: Vec::new(),
            },
            remote: Some(Remote {
                to: Some(to),
                empty,
                digests,
                thread: Some(thread),
            }),
            local: HashMap::new(),
        }
    }

    /// A hasher that hashes in place (no thread).
    pub fn in_place() -> Self {
        Hasher {
            next: 0,
            jobs: 0,
            refused: 0,
            max_jobs: MAX_JOBS,
            cur: Batch::default(),
            remote: None,
            local: HashMap::new(),
        }
    }

    /// Jobs refused because [`MAX_JOBS`] were under way.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// A new job, or `None` beyond [`MAX_JOBS`].
    pub fn start(&mut self) -> Option<Job> {
        if self.jobs >= self.max_jobs {
            self.refused += 1;
            return None;
        }
        self.jobs += 1;
        self.next += 1;
        if self.remote.is_none() {
            self.local.insert(self.next, [Sha256::new(), Sha256::new()]);
        }
        Some(Job(self.next))
    }

    /// Hash `bytes` into direction `dir` (0 or 1) of `job`.
    pub fn update(&mut self, job: &Job, dir: usize, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.remote.is_none() {
            if let Some(h) = self.local.get_mut(&job.0) {
                h[dir & 1].update(bytes);
            }
            return;
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            let room = BATCH_BYTES.saturating_sub(self.cur.bytes.len());
            if room == 0 {
                self.send();
                continue;
            }
            let n = room.min(rest.len());
            self.cur.bytes.extend_from_slice(&rest[..n]);
            match self.cur.ops.last_mut() {
                // Consecutive chunks of one direction of one job: one op.
                Some(Op::Data {
                    job: j,
                    dir: d,
                    len,
                }) if *j == job.0 && *d == dir as u8 => *len += n,
                _ => self.cur.ops.push(Op::Data {
                    job: job.0,
                    dir: dir as u8,
                    len: n,
                }),
            }
            rest = &rest[n..];
        }
    }

    /// Forget a job (its transfer will have no digest).
    pub fn discard(&mut self, job: Job) {
        self.jobs = self.jobs.saturating_sub(1);
        if self.remote.is_none() {
            self.local.remove(&job.0);
            return;
        }
        self.cur.ops.push(Op::Drop { job: job.0 });
    }

    /// The digests of both directions of a job, once all its bytes are hashed.
    pub fn finish(&mut self, job: Job) -> Option<[[u8; 32]; 2]> {
        self.jobs = self.jobs.saturating_sub(1);
        if self.remote.is_none() {
            let [a, b] = self.local.remove(&job.0)?;
            return Some([a.finalize().into(), b.finalize().into()]);
        }
        self.cur.ops.push(Op::Finish { job: job.0 });
        self.send();
        let r = self.remote.as_ref()?;
        match r.digests.recv() {
            Ok((id, d)) if id == job.0 => d,
            _ => None,
        }
    }

    /// Hand the current batch to the thread and take an empty one.
    fn send(&mut self) {
        let Some(r) = self.remote.as_mut() else {
            return;
        };
        if self.cur.ops.is_empty() {
            return;
        }
        let next = r.empty.recv().unwrap_or_default();
        let full = std::mem::replace(&mut self.cur, next);
        if let Some(to) = r.to.as_ref() {
            let _ = to.send(full);
        }
    }
}

impl Drop for Hasher {
    fn drop(&mut self) {
        if let Some(r) = self.remote.as_mut() {
            r.to.take();
            if let Some(t) = r.thread.take() {
                let _ = t.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(d: &[u8; 32]) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn a_job_past_the_bound_is_refused_and_counted() {
        let mut h = Hasher::in_place();
        h.max_jobs = 2;
        let a = h.start().unwrap();
        let _b = h.start().unwrap();
        assert!(h.start().is_none());
        assert_eq!(h.refused(), 1);
        // A finished job makes room again.
        assert!(h.finish(a).is_some());
        assert!(h.start().is_some());
        assert_eq!(h.refused(), 1);
    }

    #[test]
    fn thread_and_in_place_agree_with_one_shot() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let want_a = hex(&Sha256::digest(&data).into());
        let want_b = hex(&Sha256::digest(&data[..1000]).into());
        for mut h in [Hasher::new(), Hasher::in_place()] {
            let j1 = h.start().unwrap();
            let j2 = h.start().unwrap();
            let j3 = h.start().unwrap();
            // Interleaved chunks of several jobs, sizes crossing the batch size.
            let mut at = 0;
            let mut k = 1usize;
            while at < data.len() {
                let n = (k * 7919 % 400_000 + 1).min(data.len() - at);
                h.update(&j1, 1, &data[at..at + n]);
                h.update(&j3, 0, &data[at..at + n]);
                at += n;
                k += 1;
            }
            h.update(&j2, 0, &data[..1000]);
            h.discard(j3);
            let d2 = h.finish(j2).unwrap();
            let d1 = h.finish(j1).unwrap();
            assert_eq!(hex(&d1[1]), want_a);
            assert_eq!(hex(&d1[0]), hex(&Sha256::digest(b"").into()));
            assert_eq!(hex(&d2[0]), want_b);
        }
    }
}
