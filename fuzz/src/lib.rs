//! Helpers shared by the fuzz targets: a byte cursor for the hand-rolled input formats
//! (the ones `seed-corpus.sh` writes from `samples/`), and chunk-tiling checks.

/// A cursor over the fuzz input; every read past the end yields zeros / empty slices.
pub struct Bytes<'a> {
    pub data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }
}

/// Checks that chunks tile a stream from offset 0: each starts where the last ended.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tiling {
    pub next: u64,
}

impl Tiling {
    /// One chunk at `offset` of `len` bytes.
    pub fn chunk(&mut self, offset: u64, len: u64) {
        assert_eq!(
            offset, self.next,
            "chunk does not start where the last ended"
        );
        assert!(len > 0, "empty chunk at {offset}");
        self.next = offset + len;
    }
}
