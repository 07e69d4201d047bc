//! ftptrace: turn packet captures into FTP sessions.
//!
//! The pipeline runs one way: [`capture`] (file readers, live capture) →
//! [`net`] (link/IP decode, TCP connection tracking and reassembly) →
//! [`ftp`] (line parsers, session state, data-channel expectations) →
//! [`model`] (serializable results) → [`report`] (table, timeline, json, …).
// `unsafe` is denied everywhere but in `capture::mapped` (the file mapping, a measured win).
#![deny(unsafe_code)]

pub mod analyzer;
pub mod capture;
pub mod carve;
pub mod digest;
pub mod export;
pub mod ftp;
pub mod model;
pub mod net;
pub mod parallel;
pub mod report;
pub mod shard;

#[cfg(test)]
pub(crate) mod testing;
