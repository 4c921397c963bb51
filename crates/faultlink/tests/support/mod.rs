//! What the link's test files share: starting a link on port 0 and the config with a latency.

use std::net::SocketAddr;
use std::time::Duration;

use faultlink::{Link, LinkConfig};

/// Starts a link on 127.0.0.1, port 0, relaying to `upstream`.
pub async fn start_link(upstream: SocketAddr, config: LinkConfig) -> Link {
    Link::start("127.0.0.1:0".parse().unwrap(), upstream, config)
        .await
        .unwrap()
}

/// The default link with `latency`.
pub fn with_latency(latency: Duration) -> LinkConfig {
    LinkConfig {
        latency,
        ..LinkConfig::default()
    }
}
