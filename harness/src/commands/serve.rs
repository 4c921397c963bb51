//! `badgateway serve`: one tier alone until Ctrl-C or SIGTERM.

use std::path::Path;
use std::process::ExitCode;

use harness::serve::{Tier, start_tier};

use super::interrupt_signal;

pub async fn serve(tier: Tier, config: &Path) -> anyhow::Result<ExitCode> {
    let served = start_tier(tier, config).await?;
    println!("badgateway {tier:?} listening on {}", served.local_addr());
    let mut stop = interrupt_signal();
    stop.triggered().await;
    served.stop().await;
    Ok(ExitCode::SUCCESS)
}
