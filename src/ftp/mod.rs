//! FTP: pure line parsers, session state, data-channel expectations.

pub mod listing;
pub mod parse;
pub mod session;
pub mod tls;
