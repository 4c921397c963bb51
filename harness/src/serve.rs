//! `badgateway serve <tier> --config FILE`: one tier alone, so it can sit in a chain with real servers.
//!
//! The file holds the tier's listen address, where it forwards to, and its knobs under the same section name
//! as in a scenario:
//! ```toml
//! listen = "127.0.0.1:8081"
//! upstream = "127.0.0.1:8082"     # back and link: where to forward
//! # backends = ["127.0.0.1:8081"] # gateway: the backend pool
//! [back]
//! keepalive_timeout = "5s"
//! admin_listen = "127.0.0.1:9902"  # optional: GET /metrics (also `[front] admin_listen` for the gateway)
//! ```

use std::net::SocketAddr;
use std::path::Path;

use faultlink::LinkConfig;
use gateway::FrontConfig;
use keepalive_proxy::BackConfig;
use origin::OriginConfig;
use serde::Deserialize;

/// Which tier to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Tier {
    /// The front gateway.
    Gateway,
    /// The Apache-like keep-alive proxy.
    Back,
    /// The origin.
    Origin,
    /// The fault link.
    Link,
}

/// A `serve` config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeFile {
    /// Listen address, e.g. `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Forward address of `back` and `link`.
    pub upstream: Option<SocketAddr>,
    /// Backend pool of `gateway` (`host:port` each).
    #[serde(default)]
    pub backends: Vec<String>,
    /// Gateway knobs.
    pub front: Option<FrontConfig>,
    /// Back proxy knobs.
    pub back: Option<BackConfig>,
    /// Origin knobs.
    pub origin: Option<OriginConfig>,
    /// Link knobs.
    pub link: Option<LinkConfig>,
}

/// A running tier, type-erased for the CLI.
pub enum Served {
    /// Gateway.
    Gateway(gateway::Gateway),
    /// Back proxy.
    Back(keepalive_proxy::KeepAliveProxy),
    /// Origin.
    Origin(origin::Origin),
    /// Link.
    Link(faultlink::Link),
}

impl Served {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        match self {
            Served::Gateway(t) => t.local_addr(),
            Served::Back(t) => t.local_addr(),
            Served::Origin(t) => t.local_addr(),
            Served::Link(t) => t.local_addr(),
        }
    }

    /// Where its admin endpoint (`/metrics`) listens: the gateway's and the back's, when `admin_listen` is set.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        match self {
            Served::Gateway(t) => t.admin_addr(),
            Served::Back(t) => t.admin_addr(),
            Served::Origin(_) | Served::Link(_) => None,
        }
    }

    /// Stops it.
    pub async fn stop(self) {
        match self {
            Served::Gateway(t) => t.stop().await,
            Served::Back(t) => t.stop().await,
            Served::Origin(t) => t.stop().await,
            Served::Link(t) => t.stop().await,
        }
    }

    /// Stops accepting and lets the exchanges in flight finish, up to `grace` for the gateway (the back waits
    /// for its own in-flight exchanges a bounded time; the origin and the link stop at once). Returns the
    /// gateway's client connections still open when the grace ran out.
    pub async fn drain(self, grace: std::time::Duration) -> usize {
        match self {
            Served::Gateway(t) => t.drain(grace).await,
            other => {
                other.stop().await;
                0
            }
        }
    }
}

impl Tier {
    /// The config section this tier reads (`[front]`, `[back]`, `[origin]`, `[link]`).
    pub fn section(self) -> &'static str {
        match self {
            Tier::Gateway => "front",
            Tier::Back => "back",
            Tier::Origin => "origin",
            Tier::Link => "link",
        }
    }

    /// The name `serve` takes on its command line.
    pub fn cli_name(self) -> &'static str {
        match self {
            Tier::Gateway => "gateway",
            Tier::Back => "back",
            Tier::Origin => "origin",
            Tier::Link => "link",
        }
    }
}

impl ServeFile {
    /// The sections present in the file, in file-format order.
    fn sections(&self) -> Vec<&'static str> {
        let mut present = Vec::new();
        if self.front.is_some() {
            present.push("front");
        }
        if self.back.is_some() {
            present.push("back");
        }
        if self.origin.is_some() {
            present.push("origin");
        }
        if self.link.is_some() {
            present.push("link");
        }
        present
    }

    /// The first section that another tier reads: a `[back]` in a gateway's file would be silently ignored,
    /// so it is an error instead. Top-level keys that the tier does not use (`upstream` for the gateway,
    /// `backends` for the others) are refused the same way.
    pub fn foreign_key(&self, tier: Tier) -> Option<String> {
        if let Some(section) = self.sections().into_iter().find(|s| *s != tier.section()) {
            return Some(format!("[{section}]"));
        }
        match tier {
            Tier::Gateway if self.upstream.is_some() => Some("upstream".to_owned()),
            Tier::Back | Tier::Origin | Tier::Link if !self.backends.is_empty() => {
                Some("backends".to_owned())
            }
            Tier::Origin if self.upstream.is_some() => Some("upstream".to_owned()),
            _ => None,
        }
    }
}

/// Reads the file and starts the tier.
pub async fn start_tier(tier: Tier, path: &Path) -> anyhow::Result<Served> {
    use anyhow::Context as _;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file: ServeFile = toml::from_str(&text).map_err(|error| {
        anyhow::anyhow!(
            "config {}: {}",
            path.display(),
            crate::scenario::toml_error_message(&error)
        )
    })?;
    if let Some(key) = file.foreign_key(tier) {
        anyhow::bail!(
            "config {}: {key} does not belong to `serve {}`, which reads only [{}] (and would ignore {key}); \
             move it to the file of the tier it is for, or remove it",
            path.display(),
            tier.cli_name(),
            tier.section()
        );
    }
    let need_upstream = || {
        file.upstream.with_context(|| {
            format!(
                "config {}: `upstream = \"host:port\"` is required for this tier",
                path.display()
            )
        })
    };
    Ok(match tier {
        Tier::Gateway => Served::Gateway(
            gateway::Gateway::start(
                file.listen,
                file.backends.clone(),
                file.front.clone().unwrap_or_default(),
            )
            .await?,
        ),
        Tier::Back => Served::Back(
            keepalive_proxy::KeepAliveProxy::start(
                file.listen,
                need_upstream()?,
                file.back.clone().unwrap_or_default(),
            )
            .await?,
        ),
        Tier::Origin => Served::Origin(
            origin::Origin::start(file.listen, file.origin.clone().unwrap_or_default()).await?,
        ),
        Tier::Link => Served::Link(
            faultlink::Link::start(
                file.listen,
                need_upstream()?,
                file.link.clone().unwrap_or_default(),
            )
            .await?,
        ),
    })
}
