//! `[chain]` applied to the chosen servers: what the front's backend pool holds (`members`, `member_host`,
//! `closed_port`), and the refusal, naming the key and the server, of a key a real server cannot honour.
//! `chain.back` is read by the chain itself (whether a back tier stands in it).

use std::net::SocketAddr;

use crate::scenario::Scenario;

use super::error::ChainError;
use super::kind::{BackKind, FrontKind};
use super::links::loopback;

/// Refuses the `[chain]` keys the chosen servers cannot honour, before anything starts.
pub fn check_mix(scenario: &Scenario, front: FrontKind, back: BackKind) -> Result<(), ChainError> {
    let chain = &scenario.chain;
    if let Some(spec) = front.real() {
        if chain.members == 0 {
            return Err(ChainError::Unsupported {
                key: "chain.members",
                value: "0".to_owned(),
                server: spec.server,
                why: "a real front needs at least one upstream server to start",
            });
        }
        if let Some(host) = &chain.member_host {
            return Err(ChainError::Unsupported {
                key: "chain.member_host",
                value: format!("{host:?}"),
                server: spec.server,
                why: "the name would be resolved by the system, not by [front.dns], which only our gateway reads",
            });
        }
    }
    if let Some(spec) = back.real()
        && !chain.back
    {
        return Err(ChainError::Unsupported {
            key: "chain.back",
            value: "false".to_owned(),
            server: spec.server,
            why: "without a back tier there is nowhere to put a real back; choose the back `ours`",
        });
    }
    Ok(())
}

/// The addresses a real front proxies to: one per member, or the closed port for each.
pub fn real_pool(scenario: &Scenario, hops: &[SocketAddr]) -> Result<Vec<SocketAddr>, ChainError> {
    if !scenario.chain.closed_port {
        return Ok(hops.to_vec());
    }
    let closed = SocketAddr::from((loopback().ip(), closed_port()?));
    Ok(hops.iter().map(|_| closed).collect())
}

/// Our gateway's backend pool: one `host:port` per member, named by `chain.member_host` when asked, or the
/// closed port.
pub fn gateway_pool(scenario: &Scenario, hops: &[SocketAddr]) -> Result<Vec<String>, ChainError> {
    let closed = if scenario.chain.closed_port {
        Some(closed_port()?)
    } else {
        None
    };
    Ok(hops
        .iter()
        .map(|hop| {
            let host = match &scenario.chain.member_host {
                Some(host) => host.clone(),
                None => hop.ip().to_string(),
            };
            format!("{host}:{}", closed.unwrap_or(hop.port()))
        })
        .collect())
}

/// A loopback port nothing listens on: free a moment ago, and below the ephemeral range, so no other test's
/// port-0 listener or outgoing connection takes it meanwhile ([`crate::ports`]).
fn closed_port() -> Result<u16, ChainError> {
    crate::ports::free_loopback_port()
        .map(|addr| addr.port())
        .map_err(ChainError::ClosedPort)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_a_real_front_cannot_honour_is_refused_naming_key_and_server() {
        let base = Scenario::default_race().unwrap();
        let named = base
            .with_override("chain.member_host=backend.test")
            .unwrap();
        let error = check_mix(&named, FrontKind::Nginx, BackKind::Ours)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("chain.member_host") && error.contains("nginx"),
            "{error}"
        );
        assert!(check_mix(&named, FrontKind::Ours, BackKind::Apache).is_ok());
        let empty = base.with_override("chain.members=0").unwrap();
        let error = check_mix(&empty, FrontKind::Haproxy, BackKind::Ours)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("chain.members = 0") && error.contains("haproxy"),
            "{error}"
        );
        let no_back = base.with_override("chain.back=false").unwrap();
        let error = check_mix(&no_back, FrontKind::Ours, BackKind::Apache)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("chain.back = false") && error.contains("apache"),
            "{error}"
        );
        assert!(check_mix(&no_back, FrontKind::Nginx, BackKind::Ours).is_ok());
    }

    #[test]
    fn the_pool_has_one_entry_per_member_named_or_closed() {
        let base = Scenario::default_race()
            .unwrap()
            .with_override("chain.member_host=backend.test")
            .unwrap();
        let hops: Vec<SocketAddr> = vec![
            "127.0.0.1:81".parse().unwrap(),
            "127.0.0.1:82".parse().unwrap(),
        ];
        assert_eq!(
            gateway_pool(&base, &hops).unwrap(),
            ["backend.test:81", "backend.test:82"]
        );
        let closed = base.with_override("chain.closed_port=true").unwrap();
        let pool = real_pool(&closed, &hops).unwrap();
        assert_eq!(pool.len(), 2);
        assert!(
            pool.iter()
                .all(|addr| addr.port() != 81 && addr.port() != 82)
        );
    }
}
