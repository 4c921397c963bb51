//! The badgateway harness: scenario files, the chain (our tiers, real servers, or a mix), the load, the one
//! collector, the one run function, results, reports and the CI gate. The `badgateway` binary (`main.rs`) is a
//! thin CLI over this library. ARCHITECTURE.md at the repository root gives the layers and where a change goes.

pub mod audit;
pub mod chain;
pub mod check;
pub mod collector;
pub mod compare;
pub mod distribution;
pub mod expect;
pub mod explain;
pub mod gap_bins;
pub mod histogram;
pub mod load;
pub mod merge;
pub mod mitigation;
pub mod ports;
pub mod preset;
pub mod probe;
pub mod progress;
pub mod rate_test;
pub mod real;
pub mod record;
pub mod report;
pub mod resources;
pub mod result;
pub mod run;
pub mod scenario;
pub mod serve;
pub mod sweep;
pub mod time_scale;
pub mod timelines;
