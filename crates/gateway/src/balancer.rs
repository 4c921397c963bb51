//! The backend pool's members and the round robin over them.
//!
//! This module owns parsing `host:port` members at start, picking the next eligible member (the caller says
//! which are eligible: the healthy ones), and resolving a member's host name through the gateway's
//! [`Resolve`]r when a connection is opened, so a DNS change or failure shows up per connection, as
//! `dns-failure`. It does not connect, does not probe and knows nothing of pooled connections.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::resolve::{Resolve, ResolveError};
use crate::{Cause, GatewayError};

/// One backend member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// Position in the backend list; the pool keys its idle stacks by it.
    pub(crate) index: usize,
    host: String,
    port: u16,
    /// The member as configured, `host:port`; also sent as `Host` when the client gave none.
    pub(crate) label: String,
}

impl Member {
    /// Parses `host:port` (`[v6]:port` for IPv6 literals); the port must be numeric.
    fn parse(index: usize, spec: &str) -> Result<Member, GatewayError> {
        let bad = || GatewayError::BadBackend(spec.to_owned());
        let (host, port) = spec.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let valid_host = !host.is_empty()
            && (host.parse::<IpAddr>().is_ok()
                || host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_'));
        if !valid_host {
            return Err(bad());
        }
        Ok(Member {
            index,
            host: host.to_owned(),
            port,
            label: spec.to_owned(),
        })
    }
}

/// Round robin over the members, lock-free, and the resolver for their names.
pub(crate) struct Balancer {
    members: Vec<Member>,
    next: AtomicUsize,
    resolver: Arc<dyn Resolve>,
}

impl Balancer {
    /// Parses every member; the first malformed one fails the whole list.
    pub(crate) fn parse(
        backends: &[String],
        resolver: Arc<dyn Resolve>,
    ) -> Result<Balancer, GatewayError> {
        let members = backends
            .iter()
            .enumerate()
            .map(|(index, spec)| Member::parse(index, spec.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Balancer {
            members,
            next: AtomicUsize::new(0),
            resolver,
        })
    }

    /// The next member in turn among those `eligible` says yes to: `no-backends` when there are no members,
    /// `all-unhealthy` when none is eligible. Ineligible members are skipped by taking the next turn, so the
    /// eligible ones share the load evenly.
    pub(crate) fn next(&self, eligible: impl Fn(usize) -> bool) -> Result<&Member, Cause> {
        let count = self.members.len();
        if count == 0 {
            return Err(Cause::NoBackends);
        }
        let mut turn = 0;
        for _ in 0..count {
            turn = self.next.fetch_add(1, Ordering::Relaxed);
            let member = &self.members[turn % count];
            if eligible(member.index) {
                return Ok(member);
            }
        }
        // Concurrent requests may have taken the turns of the eligible members meanwhile: look at every member
        // once more before calling them all unhealthy.
        (1..=count)
            .map(|offset| &self.members[(turn + offset) % count])
            .find(|member| eligible(member.index))
            .ok_or(Cause::AllUnhealthy)
    }

    /// Every member, in configuration order.
    pub(crate) fn members(&self) -> &[Member] {
        &self.members
    }

    /// How many members there are.
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    /// The resolver used for the members' names.
    pub(crate) fn resolver(&self) -> &Arc<dyn Resolve> {
        &self.resolver
    }

    /// The member's addresses, resolved now (IP literals without a lookup); no answer within `limit` is an
    /// error too.
    pub(crate) async fn resolve(
        &self,
        member: &Member,
        limit: Duration,
    ) -> Result<Vec<SocketAddr>, ResolveError> {
        resolve_member(self.resolver.as_ref(), member, limit).await
    }
}

impl std::fmt::Debug for Balancer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Balancer")
            .field("members", &self.members)
            .finish_non_exhaustive()
    }
}

/// `member`'s addresses from `resolver`, within `limit`. IP literals are never looked up.
pub(crate) async fn resolve_member(
    resolver: &dyn Resolve,
    member: &Member,
    limit: Duration,
) -> Result<Vec<SocketAddr>, ResolveError> {
    if let Ok(ip) = member.host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, member.port)]);
    }
    let addrs = tokio::time::timeout(limit, resolver.resolve(&member.host, member.port))
        .await
        .map_err(|_| ResolveError::TimedOut {
            host: member.host.clone(),
            limit,
        })??;
    if addrs.is_empty() {
        return Err(ResolveError::NoAddress {
            host: member.host.clone(),
        });
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::resolve::{SystemResolver, TableResolver};

    fn specs(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn parse(list: &[&str]) -> Result<Balancer, GatewayError> {
        Balancer::parse(&specs(list), Arc::new(SystemResolver))
    }

    #[test]
    fn parses_names_ipv4_and_bracketed_ipv6() {
        let balancer = parse(&["backend.local:8080", "127.0.0.1:80", "[::1]:81"]).unwrap();
        assert_eq!(balancer.len(), 3);
        assert_eq!(balancer.members[2].host, "::1");
        assert_eq!(balancer.members[2].port, 81);
    }

    #[test]
    fn rejects_members_that_are_not_host_colon_port() {
        for spec in [
            "backend",
            "backend:http",
            ":80",
            "http://backend:80",
            "backend:99999",
            "a b:80",
        ] {
            assert!(
                matches!(parse(&[spec]), Err(GatewayError::BadBackend(s)) if s == spec),
                "{spec}"
            );
        }
    }

    #[test]
    fn round_robin_visits_members_in_turn() {
        let balancer = parse(&["a:1", "b:2"]).unwrap();
        let turns: Vec<usize> = (0..4)
            .filter_map(|_| balancer.next(|_| true).ok())
            .map(|m| m.index)
            .collect();
        assert_eq!(turns, [0, 1, 0, 1]);
        assert_eq!(
            parse(&[]).unwrap().next(|_| true).unwrap_err(),
            Cause::NoBackends
        );
    }

    #[test]
    fn rotation_skips_ineligible_members_and_shares_evenly() {
        let balancer = parse(&["a:1", "b:2", "c:3"]).unwrap();
        let turns: Vec<usize> = (0..6)
            .map(|_| balancer.next(|index| index != 0).unwrap().index)
            .collect();
        assert_eq!(turns, [1, 2, 1, 2, 1, 2]);
        assert_eq!(balancer.next(|_| false).unwrap_err(), Cause::AllUnhealthy);
    }

    #[tokio::test]
    async fn ip_literals_resolve_without_a_lookup() {
        // A table that knows no name: a literal must not reach it.
        let balancer =
            Balancer::parse(&specs(&["127.0.0.1:9"]), Arc::new(TableResolver::default())).unwrap();
        let member = balancer.next(|_| true).unwrap();
        let addrs = balancer
            .resolve(member, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(addrs, ["127.0.0.1:9".parse::<SocketAddr>().unwrap()]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lookup_slower_than_the_limit_is_an_error() {
        let table = TableResolver::new(
            [("slow.test".to_owned(), vec!["127.0.0.1".parse().unwrap()])],
            [],
            Duration::from_secs(2),
        );
        let balancer = Balancer::parse(&specs(&["slow.test:80"]), Arc::new(table)).unwrap();
        let member = balancer.next(|_| true).unwrap();
        let error = balancer
            .resolve(member, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(error, ResolveError::TimedOut { .. }), "{error}");
    }
}
