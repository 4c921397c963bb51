//! badgateway: reproduce, measure and prevent the sporadic 502 of two-tier keep-alive proxy chains.
//!
//! This root package only re-exports the workspace crates so the end-to-end tests in `tests/` and the benches in
//! `benches/` can reach every tier; see README.md and ARCHITECTURE.md for the layout.

pub use faultlink;
pub use gateway;
pub use harness;
pub use keepalive_proxy;
pub use listener;
pub use origin;
