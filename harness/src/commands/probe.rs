//! `badgateway probe [SCENARIO]`: can this chain's front reuse a connection into the back's close? Exit 0 not
//! exposed, 1 exposed (or, when the scenario says `[expect] exposed = …`, that expectation failed), 2 usage,
//! config or I/O, 130 interrupted.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use harness::chain::{BackKind, FrontKind};
use harness::probe::{ProbeResult, ProbeSettings, probe_scenario};
use harness::report::{escape, probe_page, probe_table};
use harness::result::write_json_atomically;
use harness::time_scale::{TimeScale, time_scaled};

use super::{interrupt_signal, load_scenario};

/// The exit status of an interrupted command (128 + SIGINT), as shells report it.
const INTERRUPTED: u8 = 130;

/// The arguments of `probe`.
#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// Scenario file (docs/scenario-format.md); the keep-alive race when omitted. Its `[front]`, `[back]` and
    /// `[link.front_back]` are probed; its `[load]` gives the method, path and timeout.
    scenario: Option<PathBuf>,
    /// Change a scenario key first, e.g. `--set front.idle_timeout=60s` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Multiply every configured timeout, gap and interval by F (link latency stays): `0.01` replays a 5 s
    /// KeepAliveTimeout as 50 ms.
    #[arg(long, value_name = "F", default_value = "1")]
    time_scale: TimeScale,
    /// The front: `ours`, or a real server (`nginx`, `haproxy`, …: `badgateway real --help`).
    #[arg(long, default_value = "ours")]
    front: FrontKind,
    /// The back: `ours`, or a real server (`apache`, …).
    #[arg(long, default_value = "ours")]
    back: BackKind,
    /// Streams in parallel, each through a front of its own (so pool sharing cannot hide the race).
    #[arg(long, default_value_t = ProbeSettings::default().streams, value_name = "N")]
    streams: usize,
    /// Probes in all, spread evenly over the bins.
    #[arg(long, default_value_t = ProbeSettings::default().probes, value_name = "N")]
    probes: usize,
    /// Idle-age bins over the close window.
    #[arg(long, default_value_t = ProbeSettings::default().bins, value_name = "N")]
    bins: usize,
    /// Slack on both ends of the window (default: 2 ms or 4 % of the measured close, whichever is larger, plus
    /// the spread of the close samples).
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    margin: Option<Duration>,
    /// Write the result (JSON) to this file, atomically.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a self-contained HTML page with the failures per idle age.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

pub async fn probe(args: ProbeArgs) -> anyhow::Result<ExitCode> {
    for path in args.json.iter().chain(args.html.iter()) {
        check_writable(path)?;
    }
    let stop = interrupt_signal();
    let scenario = load_scenario(args.scenario.as_deref(), &args.overrides)?;
    let scenario = time_scaled(&scenario, args.time_scale);
    let settings = ProbeSettings {
        streams: args.streams,
        probes: args.probes,
        bins: args.bins,
        close_samples: ProbeSettings::default().close_samples,
        margin: args.margin,
    };
    let result = probe_scenario(
        &scenario,
        args.front,
        args.back,
        &settings,
        args.time_scale,
        stop,
    )
    .await?;
    print!("{}", probe_table(&result));
    write_outputs(&result, args.json.as_deref(), args.html.as_deref())?;
    Ok(exit_status(&result))
}

fn exit_status(result: &ProbeResult) -> ExitCode {
    if result.probe.interrupted {
        return ExitCode::from(INTERRUPTED);
    }
    let violations = result.violations();
    for violation in &violations {
        eprintln!("expect: {violation}");
    }
    let failed = match result.expect_exposed {
        Some(_) => !violations.is_empty(),
        None => result.probe.findings.exposed,
    };
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn write_outputs(
    result: &ProbeResult,
    json: Option<&Path>,
    html: Option<&Path>,
) -> anyhow::Result<()> {
    if let Some(path) = json {
        write_json_atomically(path, result)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("result written to {}", path.display());
    }
    if let Some(path) = html {
        let title = format!("probe {}", result.scenario);
        let page = probe_page(&escape(&title), result);
        std::fs::write(path, page).with_context(|| format!("cannot write {}", path.display()))?;
        println!("report written to {}", path.display());
    }
    Ok(())
}

/// Fails before any measuring when `path` could not be written: its directory must exist and take a file.
fn check_writable(path: &Path) -> anyhow::Result<()> {
    let mut probe_file = path.as_os_str().to_owned();
    probe_file.push(".tmp");
    let probe_file = PathBuf::from(probe_file);
    std::fs::write(&probe_file, b"").with_context(|| {
        format!(
            "cannot write {} (checked before the probe starts)",
            path.display()
        )
    })?;
    let _ = std::fs::remove_file(&probe_file);
    Ok(())
}
