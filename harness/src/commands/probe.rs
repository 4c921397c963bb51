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
use harness::scenario::Scenario;

use super::{INTERRUPTED, Shaping, check_writable, interrupt_signal, shaped_scenario};

/// The arguments of `probe`.
#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// Scenario file (docs/scenario-format.md); the keep-alive race when omitted. Its `[front]`, `[back]` and
    /// `[link.front_back]` are probed; its `[load]` gives the method, path and timeout.
    scenario: Option<PathBuf>,
    /// Change a scenario key first, e.g. `--set front.idle_timeout=60s` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    #[command(flatten)]
    shaping: Shaping,
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
    #[arg(long, value_parser = super::parse_duration, value_name = "DURATION")]
    margin: Option<Duration>,
    /// Write the result (JSON) to this file, atomically.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a self-contained HTML page with the failures per idle age.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

pub async fn probe(args: ProbeArgs) -> anyhow::Result<ExitCode> {
    check_writable(
        args.json
            .iter()
            .chain(args.html.iter())
            .map(PathBuf::as_path),
    )?;
    let stop = interrupt_signal();
    let scenario = shaped_scenario(args.scenario.as_deref(), &args.overrides, &args.shaping)?;
    refuse_untimeable_close(&scenario, &args.shaping)?;
    if let Some(header) = args.shaping.header() {
        say!("{header}");
    }
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
        args.shaping.time_scale,
        stop,
    )
    .await?;
    say_raw!("{}", probe_table(&result));
    write_outputs(&result, args.json.as_deref(), args.html.as_deref())?;
    Ok(exit_status(&result))
}

/// What the probe needs on top of the front–back round trip to time the back's close: its direct exchanges
/// (connect, request, response) and the scheduler's noise take a good part of a millisecond, and a request
/// through the link must reach the back before the back gives up on the connection.
const CLOSE_TIMING_MARGIN: Duration = Duration::from_millis(5);

/// Refuses, before anything starts, a back keep-alive timeout the probe cannot time (shorter than the
/// front–back round trip plus [`CLOSE_TIMING_MARGIN`]: the back would close under the probe's own
/// exchanges), naming the value and the time scale that made it.
fn refuse_untimeable_close(scenario: &Scenario, shaping: &Shaping) -> anyhow::Result<()> {
    let timeout = scenario.back.keepalive_timeout;
    let round_trip = scenario.front_back_latency() * 2;
    let shortest = round_trip + CLOSE_TIMING_MARGIN;
    if !scenario.back.keepalive || timeout >= shortest {
        return Ok(());
    }
    let factor = shaping.time_scale.factor();
    let scaled = if (factor - 1.0).abs() > f64::EPSILON {
        format!(" (after --time-scale {factor}, which leaves the link's latency as it is)")
    } else {
        String::new()
    };
    anyhow::bail!(
        "back.keepalive_timeout = {}{scaled} is shorter than the probe can time: the link's round trip ({}) \
         plus {}; the back would close under the probe's own exchanges. Use a larger --time-scale or a longer \
         back.keepalive_timeout",
        humantime::format_duration(timeout),
        humantime::format_duration(round_trip),
        humantime::format_duration(CLOSE_TIMING_MARGIN)
    )
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
        say!("result written to {}", path.display());
    }
    if let Some(path) = html {
        let title = format!("probe {}", result.scenario);
        let page = probe_page(&escape(&title), result);
        std::fs::write(path, page).with_context(|| format!("cannot write {}", path.display()))?;
        say!("report written to {}", path.display());
    }
    Ok(())
}
