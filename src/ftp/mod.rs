//! FTP: pure line parsers, session state, data-channel expectations.

pub mod ids;
pub mod listing;
pub mod logins;
pub mod names;
pub mod parse;
pub mod phase;
pub mod probes;
pub mod session;
pub mod tls;
