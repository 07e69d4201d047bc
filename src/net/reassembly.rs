//! TCP stream reassembly for one direction: in-order data passes through borrowed,
//! out-of-order data is buffered under a memory cap, holes become gaps.

/// What the reassembler hands the application, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Bytes at stream `offset` (0 = first byte after the SYN / first byte seen).
    Data { offset: u64, bytes: &'a [u8] },
    /// `len` bytes at stream `offset` that the capture never held.
    Gap { offset: u64, len: u64 },
}

/// A global budget for buffered out-of-order bytes, shared by all connections.
#[derive(Debug)]
pub struct MemBudget {
    pub limit: usize,
    pub used: usize,
}

impl MemBudget {
    pub fn new(limit: usize) -> Self {
        MemBudget { limit, used: 0 }
    }
}

/// Reassembly state for one direction of a TCP connection.
#[derive(Debug, Default)]
pub struct HalfStream {
    // private fields
}

impl HalfStream {
    /// Per-direction cap on buffered out-of-order bytes.
    pub const MAX_BUFFERED: usize = 1 << 20;

    /// Start with the initial sequence number from a SYN (`isn`: data starts at isn+1),
    /// or, for a stream picked up mid-way, `None`: the first segment seen sets the origin.
    pub fn new(isn: Option<u32>) -> Self {
        let _ = isn;
        todo!()
    }

    /// Feed one segment: `seq` its sequence number, `payload` the captured bytes,
    /// `wire_len` its payload length on the wire (> payload.len() when snaplen cut it:
    /// the missing tail is a gap), `fin` whether it carries FIN.
    /// Calls `out` with every chunk that became deliverable, in order.
    pub fn segment(
        &mut self,
        seq: u32,
        payload: &[u8],
        wire_len: u32,
        fin: bool,
        budget: &mut MemBudget,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        let _ = (seq, payload, wire_len, fin, budget, out);
        todo!()
    }

    /// The peer acknowledged everything before `ack`: bytes before it that the capture
    /// missed will never arrive; deliver what is buffered and report the holes as gaps.
    pub fn acked(&mut self, ack: u32, budget: &mut MemBudget, out: &mut dyn FnMut(Chunk<'_>)) {
        let _ = (ack, budget, out);
        todo!()
    }

    /// End of stream (RST, connection end, end of capture): deliver all buffered data,
    /// holes as gaps, and release the budget.
    pub fn flush(&mut self, budget: &mut MemBudget, out: &mut dyn FnMut(Chunk<'_>)) {
        let _ = (budget, out);
        todo!()
    }

    /// Payload bytes by sequence space so far (highest delivered/seen offset end, gaps included).
    pub fn seq_bytes(&self) -> u64 {
        todo!()
    }

    /// Payload bytes actually present in the capture and delivered (each byte once).
    pub fn captured_bytes(&self) -> u64 {
        todo!()
    }

    /// Bytes currently buffered out of order.
    pub fn buffered(&self) -> usize {
        todo!()
    }
}
