//! Name resolution for backend members, behind the [`Resolve`] trait: [`SystemResolver`] (the operating
//! system's resolver, the default) and [`TableResolver`] (a fixed table with injected failures and delays, from
//! `[front.dns]`, so `dns-failure` can be reproduced without touching real DNS).
//!
//! This module owns only the lookup. It does not bound its time (the balancer applies `connect_timeout` to
//! every lookup, so a slow resolver is a `dns-failure` too), never sees IP literal members (they are not
//! looked up), and does not cache: every new upstream connection and every probe resolves again, as a DNS
//! change or failure must show up per connection.
//!
//! A custom resolver is handed to [`crate::Gateway::start_with_resolver`]:
//!
//! ```
//! use std::net::SocketAddr;
//! use gateway::{Resolve, ResolveError, ResolveFuture};
//!
//! /// Every name is the local host.
//! struct Loopback;
//!
//! impl Resolve for Loopback {
//!     fn resolve<'a>(&'a self, _host: &'a str, port: u16) -> ResolveFuture<'a> {
//!         Box::pin(async move { Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]) })
//!     }
//! }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::Duration;

use crate::config::{DnsConfig, DnsMode};

/// What [`Resolve::resolve`] returns.
pub type ResolveFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<SocketAddr>, ResolveError>> + Send + 'a>>;

/// Turns a member's host name and port into the addresses to connect to, in order of preference.
pub trait Resolve: Send + Sync + 'static {
    /// Looks `host` up; every address carries `port`. An empty list is treated as a failure by the caller.
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a>;
}

/// A host name did not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The resolver answered with an error (system: `getaddrinfo`'s message).
    #[error("{host} does not resolve: {reason}")]
    Lookup {
        /// The name looked up.
        host: String,
        /// What the resolver said.
        reason: String,
    },
    /// The resolver answered with no address (table mode: the name is not in `hosts`).
    #[error("{host} has no address")]
    NoAddress {
        /// The name looked up.
        host: String,
    },
    /// Table mode: the name is listed in `fail`.
    #[error("{host} is set to fail (dns.fail)")]
    Injected {
        /// The name looked up.
        host: String,
    },
    /// No answer within the limit (the gateway's `connect_timeout`).
    #[error("{host} did not resolve within {limit:?}")]
    TimedOut {
        /// The name looked up.
        host: String,
        /// The limit that passed.
        limit: Duration,
    },
}

/// The operating system's resolver, through `tokio::net::lookup_host` (`getaddrinfo` on a blocking thread).
///
/// A lookup abandoned at `connect_timeout` keeps its blocking thread until `getaddrinfo` returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a> {
        Box::pin(async move {
            match tokio::net::lookup_host((host, port)).await {
                Ok(addrs) => {
                    let addrs: Vec<SocketAddr> = addrs.collect();
                    if addrs.is_empty() {
                        Err(ResolveError::NoAddress {
                            host: host.to_owned(),
                        })
                    } else {
                        Ok(addrs)
                    }
                }
                Err(error) => Err(ResolveError::Lookup {
                    host: host.to_owned(),
                    reason: error.to_string(),
                }),
            }
        })
    }
}

/// A fixed table: names in `fail` fail, names in `hosts` resolve to their addresses, every other name fails;
/// each lookup first sleeps `delay`. Names are matched case-insensitively, as DNS does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableResolver {
    hosts: BTreeMap<String, Vec<IpAddr>>,
    fail: BTreeSet<String>,
    delay: Duration,
}

impl TableResolver {
    /// A table resolver; `fail` wins over `hosts` for a name in both.
    pub fn new(
        hosts: impl IntoIterator<Item = (String, Vec<IpAddr>)>,
        fail: impl IntoIterator<Item = String>,
        delay: Duration,
    ) -> TableResolver {
        TableResolver {
            hosts: hosts
                .into_iter()
                .map(|(name, addrs)| (name.to_ascii_lowercase(), addrs))
                .collect(),
            fail: fail
                .into_iter()
                .map(|name| name.to_ascii_lowercase())
                .collect(),
            delay,
        }
    }

    /// The table of a `[front.dns]` section (whatever its mode).
    pub fn from_config(config: &DnsConfig) -> TableResolver {
        TableResolver::new(config.hosts.clone(), config.fail.clone(), config.delay)
    }

    /// The answer without the delay.
    fn answer(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        let name = host.to_ascii_lowercase();
        if self.fail.contains(&name) {
            return Err(ResolveError::Injected {
                host: host.to_owned(),
            });
        }
        match self.hosts.get(&name) {
            Some(addrs) if !addrs.is_empty() => {
                Ok(addrs.iter().map(|ip| SocketAddr::new(*ip, port)).collect())
            }
            _ => Err(ResolveError::NoAddress {
                host: host.to_owned(),
            }),
        }
    }
}

impl Resolve for TableResolver {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a> {
        Box::pin(async move {
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            self.answer(host, port)
        })
    }
}

/// The resolver `[front.dns]` asks for.
pub(crate) fn from_config(config: &DnsConfig) -> std::sync::Arc<dyn Resolve> {
    match config.mode {
        DnsMode::System => {
            if !config.hosts.is_empty() || !config.fail.is_empty() || !config.delay.is_zero() {
                tracing::warn!(
                    "dns.hosts, dns.fail and dns.delay are ignored unless dns.mode = \"table\""
                );
            }
            std::sync::Arc::new(SystemResolver)
        }
        DnsMode::Table => std::sync::Arc::new(TableResolver::from_config(config)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TableResolver {
        TableResolver::new(
            [
                (
                    "Backend.test".to_owned(),
                    vec!["127.0.0.1".parse().unwrap()],
                ),
                ("both.test".to_owned(), vec!["127.0.0.2".parse().unwrap()]),
            ],
            ["broken.test".to_owned(), "both.test".to_owned()],
            Duration::ZERO,
        )
    }

    #[tokio::test]
    async fn table_hits_carry_the_port_and_ignore_case() {
        let addrs = table().resolve("BACKEND.test", 8080).await.unwrap();
        assert_eq!(addrs, ["127.0.0.1:8080".parse::<SocketAddr>().unwrap()]);
    }

    #[tokio::test]
    async fn fail_entries_and_unknown_names_fail() {
        let table = table();
        assert!(matches!(
            table.resolve("broken.test", 80).await,
            Err(ResolveError::Injected { .. })
        ));
        assert!(matches!(
            table.resolve("both.test", 80).await,
            Err(ResolveError::Injected { .. })
        ));
        assert!(matches!(
            table.resolve("elsewhere.test", 80).await,
            Err(ResolveError::NoAddress { .. })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn the_delay_comes_before_every_answer() {
        let table = TableResolver {
            delay: Duration::from_millis(300),
            ..table()
        };
        let started = tokio::time::Instant::now();
        table.resolve("backend.test", 1).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_millis(300));
    }
}
