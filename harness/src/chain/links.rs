//! The loopback address every tier of a chain binds, and the fault link placed between two tiers when the
//! scenario has a section for it. The one helper set for our tiers and real servers alike.

use std::net::{Ipv4Addr, SocketAddr};

use faultlink::{Link, LinkConfig};

use super::error::ChainError;

/// 127.0.0.1, port 0: the kernel picks a free port.
pub fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// A link named `name` in front of `upstream` when `config` is given; `None` (nothing started) otherwise.
pub async fn start_link(
    name: &'static str,
    config: Option<&LinkConfig>,
    upstream: SocketAddr,
) -> Result<Option<Link>, ChainError> {
    match config {
        Some(config) => Link::start(loopback(), upstream, config.clone())
            .await
            .map(Some)
            .map_err(|source| ChainError::Link { name, source }),
        None => Ok(None),
    }
}

/// Where the next tier is reached: through `link` when there is one, else `addr` itself.
pub fn through(link: Option<&Link>, addr: SocketAddr) -> SocketAddr {
    link.map_or(addr, Link::local_addr)
}
