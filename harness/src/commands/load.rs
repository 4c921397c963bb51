//! `badgateway load --target URL`: the harness's patterns and accounting against any HTTP/1.1 target.

use std::process::ExitCode;

use anyhow::Context as _;
use harness::load::{LoadConfig, Target};
use harness::report::run_table;
use harness::run::{RunOptions, run_external};

use harness::time_scale::TimeScale;

use super::{exit_status, interrupt_signal, write_outputs};
use crate::LoadArgs;

pub async fn load(args: LoadArgs) -> anyhow::Result<ExitCode> {
    args.outputs.check_writable()?;
    let uri: http::Uri = args
        .target
        .parse()
        .with_context(|| format!("--target {:?} is not a URL", args.target))?;
    if uri.scheme_str() != Some("http") {
        anyhow::bail!("--target {:?}: only http:// is supported", args.target);
    }
    let authority = uri
        .authority()
        .with_context(|| format!("--target {:?} has no host", args.target))?;
    let port = authority.port_u16().unwrap_or(80);
    let addr = tokio::net::lookup_host((authority.host().trim_matches(['[', ']']), port))
        .await
        .with_context(|| {
            format!(
                "--target {:?}: cannot resolve {}",
                args.target,
                authority.host()
            )
        })?
        .next()
        .with_context(|| {
            format!(
                "--target {:?}: {} has no address",
                args.target,
                authority.host()
            )
        })?;
    if !addr.ip().is_loopback() && !args.allow_remote {
        anyhow::bail!(
            "--target {:?} resolves to {addr}, outside loopback; pass --allow-remote to load it",
            args.target
        );
    }
    let load = LoadConfig {
        pattern: args.pattern.into(),
        clients: args.clients,
        requests: args.requests,
        duration: args.duration,
        rate: args.rate,
        gap: Some(args.gap),
        gap_spread: args.gap_spread,
        method: args.method.clone(),
        path: uri
            .path_and_query()
            .map_or("/".to_owned(), |p| p.as_str().to_owned()),
        timeout: args.timeout,
        seed: args.seed,
        threads: usize::from(args.threads),
    };
    load.validate().map_err(anyhow::Error::msg)?;
    let target = Target {
        addr,
        host: authority.as_str().to_owned(),
        method: http::Method::from_bytes(args.method.as_bytes())
            .with_context(|| format!("--method {:?} is not an HTTP method", args.method))?,
        path: load.path.clone(),
        timeout: args.timeout,
    };
    let options = RunOptions {
        quiet: args.outputs.quiet,
        label: None,
        timelines: 0,
    };
    let stop = interrupt_signal();
    let result = run_external(&args.target, &load, &target, &options, stop.clone()).await;
    say_raw!("{}", run_table(&result));
    write_outputs(
        &args.outputs,
        &args.target,
        std::slice::from_ref(&result),
        None,
        TimeScale::ONE,
    )?;
    let answered: u64 = result.responses.values().sum();
    if answered == 0 && result.requests > 0 && !stop.is_triggered() {
        let errors: Vec<String> = result
            .client_errors
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        anyhow::bail!(
            "no request reached --target {} ({addr}): {} of {} requests failed without a response (client errors: {})",
            args.target,
            result.client_error_total(),
            result.requests,
            if errors.is_empty() {
                "none".to_owned()
            } else {
                errors.join(", ")
            }
        );
    }
    Ok(exit_status(&stop, &[]))
}
