//! A fast keyed hasher for the maps looked up on every packet (the TCP connection table,
//! the analyzer's roles and sessions).
//!
//! std's default SipHash-1-3 took about a quarter of the CPU time on bulk transfers (three
//! lookups per data segment, each hashing `SocketAddr`s or ids). This is a folded-multiply
//! hash (the construction of foldhash and ahash's fallback) keyed per map from std's
//! `RandomState`, so a crafted capture cannot aim at collisions computed in advance.

use std::hash::{BuildHasher, Hasher, RandomState};

/// Multiply and fold the 128-bit product: the mixing step.
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = (a as u128).wrapping_mul(b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Builds [`FastHasher`]s with per-map random keys; use as `HashMap<K, V, FastState>`.
#[derive(Clone, Debug)]
pub struct FastState {
    seed: u64,
    key: u64,
}

impl Default for FastState {
    fn default() -> Self {
        let r = RandomState::new();
        let seed = r.hash_one(0x243f_6a88_85a3_08d3u64);
        let key = r.hash_one(seed) | 1;
        FastState { seed, key }
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;
    #[inline]
    fn build_hasher(&self) -> FastHasher {
        FastHasher {
            acc: self.seed,
            key: self.key,
        }
    }
}

/// See the module docs.
#[derive(Clone, Debug)]
pub struct FastHasher {
    acc: u64,
    key: u64,
}

impl FastHasher {
    #[inline(always)]
    fn add(&mut self, v: u64) {
        self.acc = fold_mul(self.acc ^ v, self.key ^ 0x9e37_79b9_7f4a_7c15);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut it = bytes.chunks_exact(8);
        for c in &mut it {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = it.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            // The length keeps "ab" and "ab\0" apart.
            self.add(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 59));
        }
    }
    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.add(v as u64);
    }
    #[inline]
    fn write_u16(&mut self, v: u16) {
        self.add(v as u64);
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.add(v as u64);
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.add(v);
    }
    #[inline]
    fn write_u128(&mut self, v: u128) {
        self.add(v as u64);
        self.add((v >> 64) as u64);
    }
    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.add(v as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        fold_mul(self.acc, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};

    #[test]
    fn map_works_and_spreads() {
        let mut m: HashMap<SocketAddr, u32, FastState> = HashMap::default();
        for i in 0..10_000u32 {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            m.insert(SocketAddr::new(ip, (i % 7) as u16), i);
        }
        assert_eq!(m.len(), 10_000);
        assert_eq!(
            m[&SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + 42)), 0)],
            42
        );
        // Sequential ids land in many distinct low-bit buckets (hashbrown uses the low bits).
        let s = FastState::default();
        let buckets: HashSet<u64> = (0..4096u64).map(|i| s.hash_one(i) & 4095).collect();
        assert!(buckets.len() > 2000, "{}", buckets.len());
    }

    #[test]
    fn bytes_of_different_lengths_differ() {
        let s = FastState::default();
        assert_ne!(s.hash_one(b"ab".as_slice()), s.hash_one(b"ab\0".as_slice()));
        assert_ne!(s.hash_one("x"), s.hash_one("y"));
    }
}
