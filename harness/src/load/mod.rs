//! The load: what `[load]` asks for, and the workers that drive it, on the harness's runtime or on client
//! threads of their own. Workers never aggregate: each finished request becomes one
//! [`Record`](crate::record::Record) sent to the collector.

mod client;
mod config;
mod raw_client;
mod workers;

pub use client::{ClientConnection, Target};
pub use config::{LoadConfig, MAX_THREADS, Pattern};
pub use raw_client::RawConnection;
pub use workers::{LoadPlan, RECORD_BATCH, drive};
