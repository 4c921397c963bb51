//! Which software stands in each tier: [`FrontKind`] (nginx, HAProxy, Caddy, Varnish or our gateway) and [`BackKind`] (Apache
//! httpd, nginx, Node.js, gunicorn, uvicorn, Tomcat or our keep-alive proxy), their names on the command line
//! and in tables, and, for a real server, the descriptor its own file exports
//! (`crate::real::front::RealFrontSpec`, `crate::real::back::RealBackSpec`). Adding a front kind is one file under `crate::real`
//! exporting a `RealFrontSpec`, plus one arm here: the variant, its entry in [`FrontKind::ALL`] and its line in
//! [`FrontKind::real`]. This module starts nothing.

use std::fmt;
use std::str::FromStr;

use crate::real::back::{BackRole, RealBackSpec};
use crate::real::front::RealFrontSpec;
use crate::real::{
    apache, caddy, gunicorn, haproxy, nginx, nginx_back, node, tomcat, uvicorn, varnish,
};
use crate::scenario::{Scenario, ScenarioError};

/// Which software is the front tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FrontKind {
    /// Debian's nginx.
    Nginx,
    /// Debian's HAProxy.
    Haproxy,
    /// Debian's Caddy.
    Caddy,
    /// Debian's Varnish.
    Varnish,
    /// Our gateway crate.
    Ours,
}

/// Which software is the back tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BackKind {
    /// Debian's Apache httpd, proxying to our origin.
    Apache,
    /// Debian's nginx, proxying to our origin.
    Nginx,
    /// Node.js `http` (`servers/node-back.js`), its own origin.
    Node,
    /// gunicorn gthread (`servers/wsgi_app.py`), its own origin.
    Gunicorn,
    /// uvicorn (`servers/asgi_app.py`), its own origin.
    Uvicorn,
    /// Tomcat 10 (a static ROOT webapp), its own origin.
    Tomcat,
    /// Our keepalive-proxy crate.
    Ours,
}

impl FrontKind {
    /// Every front, in table order.
    pub const ALL: [FrontKind; 5] = [
        FrontKind::Nginx,
        FrontKind::Haproxy,
        FrontKind::Caddy,
        FrontKind::Varnish,
        FrontKind::Ours,
    ];

    /// The real server behind this kind; `None` for our gateway.
    pub fn real(self) -> Option<&'static RealFrontSpec> {
        match self {
            FrontKind::Nginx => Some(&nginx::FRONT),
            FrontKind::Haproxy => Some(&haproxy::FRONT),
            FrontKind::Caddy => Some(&caddy::FRONT),
            FrontKind::Varnish => Some(&varnish::FRONT),
            FrontKind::Ours => None,
        }
    }

    /// The name on the command line and in tables.
    pub fn name(self) -> &'static str {
        self.real().map_or("ours", |spec| spec.server)
    }

    /// `scenario` as this front can run it: a front with no cap on requests per upstream connection (Caddy,
    /// Varnish) runs the default cap (`front.max_requests_per_conn = 1000`, nginx's) as 0, unlimited, which is
    /// what it does anyway, with a note saying so; any other value it cannot express is still refused when the
    /// front starts. Every other front gets `scenario` unchanged and no note.
    pub fn expressible(
        self,
        scenario: Scenario,
    ) -> Result<(Scenario, Option<String>), ScenarioError> {
        let default_cap = gateway::FrontConfig::default().max_requests_per_conn;
        match self.real() {
            Some(spec)
                if !spec.request_limit && scenario.front.max_requests_per_conn == default_cap =>
            {
                let note = format!(
                    "{}: front.max_requests_per_conn = {default_cap} (the default) has no equivalent; run as 0, \
                     unlimited, which is what {} does",
                    spec.server, spec.server
                );
                Ok((
                    scenario.with_override("front.max_requests_per_conn=0")?,
                    Some(note),
                ))
            }
            _ => Ok((scenario, None)),
        }
    }

    /// Whether `front.retry` switches this front's retry mitigation on and off (ours does).
    pub fn has_retry_switch(self) -> bool {
        self.real().is_none_or(|spec| spec.retry_switch)
    }
}

impl BackKind {
    /// Every back, in table order.
    pub const ALL: [BackKind; 7] = [
        BackKind::Apache,
        BackKind::Nginx,
        BackKind::Node,
        BackKind::Gunicorn,
        BackKind::Uvicorn,
        BackKind::Tomcat,
        BackKind::Ours,
    ];

    /// The real server behind this kind; `None` for our keep-alive proxy.
    pub fn real(self) -> Option<&'static RealBackSpec> {
        match self {
            BackKind::Apache => Some(&apache::BACK),
            BackKind::Nginx => Some(&nginx_back::BACK),
            BackKind::Node => Some(&node::BACK),
            BackKind::Gunicorn => Some(&gunicorn::BACK),
            BackKind::Uvicorn => Some(&uvicorn::BACK),
            BackKind::Tomcat => Some(&tomcat::BACK),
            BackKind::Ours => None,
        }
    }

    /// True when the back answers itself (an application): no origin stands behind it, so the origin's
    /// counters are not available.
    pub fn is_own_origin(self) -> bool {
        self.real()
            .is_some_and(|spec| spec.role == BackRole::Application)
    }

    /// The name on the command line and in tables.
    pub fn name(self) -> &'static str {
        self.real().map_or("ours", |spec| spec.server)
    }
}

impl fmt::Display for FrontKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for BackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A front or back name that is not one of the choices.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown {tier} {value:?}: expected one of {expected}")]
pub struct UnknownKind {
    tier: &'static str,
    value: String,
    expected: String,
}

fn parse_kind<K: Copy + fmt::Display>(
    all: &[K],
    tier: &'static str,
    value: &str,
) -> Result<K, UnknownKind> {
    all.iter()
        .copied()
        .find(|kind| kind.to_string() == value)
        .ok_or_else(|| UnknownKind {
            tier,
            value: value.to_owned(),
            expected: all
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

impl FromStr for FrontKind {
    type Err = UnknownKind;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        parse_kind(&FrontKind::ALL, "front", value)
    }
}

impl FromStr for BackKind {
    type Err = UnknownKind;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        parse_kind(&BackKind::ALL, "back", value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_an_unknown_one_lists_the_choices() {
        for kind in FrontKind::ALL {
            assert_eq!(kind.name().parse::<FrontKind>().unwrap(), kind);
        }
        for kind in BackKind::ALL {
            assert_eq!(kind.name().parse::<BackKind>().unwrap(), kind);
        }
        let error = "traefik".parse::<FrontKind>().unwrap_err().to_string();
        assert!(
            error.contains("\"traefik\"") && error.contains("nginx, haproxy, caddy, varnish, ours"),
            "{error}"
        );
    }

    #[test]
    fn a_front_without_a_request_cap_runs_the_default_cap_as_unlimited_and_says_so() {
        let race = Scenario::default_race().unwrap();
        for front in [FrontKind::Caddy, FrontKind::Varnish] {
            let (scenario, note) = front.expressible(race.clone()).unwrap();
            assert_eq!(scenario.front.max_requests_per_conn, 0);
            let note = note.unwrap();
            assert!(
                note.contains("front.max_requests_per_conn = 1000"),
                "{note}"
            );
        }
        // A value set on purpose is left for the front's own check to refuse, by name.
        let five = race.with_override("front.max_requests_per_conn=5").unwrap();
        let (scenario, note) = FrontKind::Caddy.expressible(five).unwrap();
        assert_eq!((scenario.front.max_requests_per_conn, note), (5, None));
        for front in [FrontKind::Nginx, FrontKind::Haproxy, FrontKind::Ours] {
            let (scenario, note) = front.expressible(race.clone()).unwrap();
            assert_eq!((scenario.front.max_requests_per_conn, note), (1000, None));
        }
    }
}
