//! `badgateway audit`: the keep-alive verdict of real front and back configurations and presets, the lines
//! to change, and optionally the scaled scenario that confirms it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use harness::audit::{self, Inputs, Options, report, scenario};
use harness::preset::Preset;
use harness::result::write_json_atomically;

/// `badgateway audit` options.
#[derive(Args, Debug, Clone)]
pub struct AuditArgs {
    /// An nginx.conf (front; `include` globs followed). Repeatable.
    #[arg(long, value_name = "FILE")]
    nginx: Vec<PathBuf>,
    /// An apache2.conf (back; `Include`/`IncludeOptional` followed). Repeatable.
    #[arg(long, value_name = "FILE")]
    apache: Vec<PathBuf>,
    /// A haproxy.cfg (front). Repeatable.
    #[arg(long, value_name = "FILE")]
    haproxy: Vec<PathBuf>,
    /// A Caddyfile (front). Repeatable.
    #[arg(long, value_name = "FILE")]
    caddy: Vec<PathBuf>,
    /// Product defaults for a side without a config, e.g. `front=alb,back=node20`.
    #[arg(long, value_name = "front=NAME,back=NAME")]
    preset: Option<Preset>,
    /// Complete or change a preset side: front.idle_timeout, front.retry, back.keepalive_timeout (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Round trip between front and back; a pair is exposed when the front's idle timeout reaches the back's
    /// keep-alive timeout minus 2 × this.
    #[arg(long, default_value = "1ms", value_parser = super::parse_duration)]
    rtt: Duration,
    /// The request method the verdict is for (nginx and Go retry only idempotent ones).
    #[arg(long, default_value = "GET")]
    method: String,
    /// Write the scenario that confirms the verdict (`badgateway run FILE`), timeouts × --scale.
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Which pair --scenario writes (1-based, as printed); default the first exposed one, else the first.
    #[arg(long, value_name = "N")]
    pair: Option<usize>,
    /// The time scale of --scenario.
    #[arg(long, default_value_t = scenario::DEFAULT_SCALE)]
    scale: f64,
    /// Write the audit as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

pub fn audit(args: AuditArgs) -> anyhow::Result<ExitCode> {
    if !(args.scale > 0.0 && args.scale.is_finite()) {
        anyhow::bail!("--scale {}: expected a positive factor", args.scale);
    }
    let inputs = Inputs {
        nginx: args.nginx,
        apache: args.apache,
        haproxy: args.haproxy,
        caddy: args.caddy,
        preset: args.preset,
        sets: args.sets,
        options: Options {
            rtt: args.rtt,
            method: args.method.to_ascii_uppercase(),
        },
    };
    let result = audit::run(&inputs)?;
    say_raw!("{}", report::text(&result));
    if let Some(path) = &args.json {
        write_json_atomically(path, &report::json(&result))
            .with_context(|| format!("cannot write {}", path.display()))?;
        say!("audit written to {}", path.display());
    }
    if let Some(path) = &args.scenario {
        let index = match args.pair {
            Some(n) if (1..=result.pairs.len()).contains(&n) => n - 1,
            Some(n) => anyhow::bail!("--pair {n}: there are {} pairs", result.pairs.len()),
            None => result
                .pairs
                .iter()
                .position(|p| matches!(&p.verdict, Ok(v) if v.exposed))
                .unwrap_or(0),
        };
        let pair = &result.pairs[index];
        if let Err(missing) = &pair.verdict {
            anyhow::bail!(
                "pair {}: no scenario without a verdict: {missing}",
                index + 1
            );
        }
        let text = scenario::scenario_for(pair, &result.options, args.scale)?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        say!(
            "scenario for pair {} written to {} (× {}): badgateway run {}",
            index + 1,
            path.display(),
            args.scale,
            path.display()
        );
    }
    Ok(if result.has_errors() {
        ExitCode::from(2)
    } else if result.any_exposed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
