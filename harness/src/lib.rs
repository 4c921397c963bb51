//! The badgateway harness: scenario files, the in-process chain, the load, the one collector, results, reports
//! and the CI gate. The `badgateway` binary (`main.rs`) is a thin CLI over this library.

pub mod audit;
pub mod check;
pub mod collector;
pub mod compare;
pub mod expect;
pub mod explain;
pub mod load;
pub mod mitigation;
pub mod preset;
pub mod progress;
pub mod real;
pub mod record;
pub mod report;
pub mod resources;
pub mod result;
pub mod run;
pub mod scenario;
pub mod serve;
pub mod sweep;
pub mod topology;
