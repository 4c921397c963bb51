//! `badgateway serve`: one tier alone until Ctrl-C or SIGTERM, then a drain of what is in flight.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use harness::serve::{Tier, start_tier};

use super::interrupt_signal_quietly;

pub async fn serve(tier: Tier, config: &Path, grace: Duration) -> anyhow::Result<ExitCode> {
    // Registered before the tier starts: a SIGTERM sent as soon as "listening on" is read must drain, not
    // meet the default action (the process killed with its requests in flight).
    // serve says what it does on a signal itself (the drain), not what a run does.
    let mut stop = interrupt_signal_quietly();
    let served = start_tier(tier, config).await?;
    say!("badgateway {tier:?} listening on {}", served.local_addr());
    if let Some(admin) = served.admin_addr() {
        say!("badgateway {tier:?} admin endpoint on {admin} (GET /metrics)");
    }
    stop.triggered().await;
    say!("badgateway {tier:?} stopping: draining requests in flight for up to {grace:?}");
    let left = served.drain(grace).await;
    if left > 0 {
        let connections = if left == 1 {
            "connection"
        } else {
            "connections"
        };
        say!(
            "badgateway {tier:?} stopped with {left} client {connections} still busy after {grace:?}: their \
             requests were cut"
        );
        return Ok(ExitCode::from(1));
    }
    say!("badgateway {tier:?} stopped");
    Ok(ExitCode::SUCCESS)
}
