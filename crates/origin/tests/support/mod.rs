//! What the origin's test files share: starting an origin on port 0.

use origin::{Origin, OriginConfig};

/// Starts an origin on 127.0.0.1, port 0.
pub async fn start(config: OriginConfig) -> Origin {
    Origin::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
}
