//! `badgateway`: reproduce, measure and prevent the sporadic 502 of two-tier keep-alive proxy chains.
//! This file is the CLI definition; each command lives in `commands/`.

#[macro_use]
mod stdout;
mod commands;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use harness::check::{Gate, Tolerance};
use harness::compare::Variation;
use harness::load::{MAX_THREADS, Pattern};
use harness::serve::Tier;

#[derive(Parser)]
#[command(name = "badgateway", version, about = ABOUT_SHORT, long_about = ABOUT)]
struct Cli {
    /// Log filter for the tiers' tracing events (e.g. `warn`, `gateway=debug`); RUST_LOG overrides it.
    #[arg(
        long,
        global = true,
        default_value = "error",
        help_heading = "Global options"
    )]
    log: String,
    /// How log lines are written to stderr: `text` (coloured only when stderr is a terminal) or `json` (one
    /// object per line, for log shippers).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        help_heading = "Global options"
    )]
    log_format: LogFormat,
    /// Async worker threads (default: one per CPU), like nginx's `worker_processes`: `bench/compare.sh` gives
    /// every proxy the same count.
    #[arg(
        long,
        global = true,
        value_name = "N",
        value_parser = clap::value_parser!(u16).range(1..=1024),
        help_heading = "Global options"
    )]
    worker_threads: Option<u16>,
    #[command(subcommand)]
    command: Command,
}

const ABOUT_SHORT: &str =
    "Reproduce, measure and prevent the sporadic 502 Bad Gateway of two-tier proxy chains";

const ABOUT: &str = "Reproduce, measure and prevent the sporadic 502 Bad Gateway of two-tier proxy chains.\n\n\
A front gateway reuses an idle pooled connection at the instant the back proxy (Apache with KeepAlive On) \
closes it because its KeepAliveTimeout expired: the request meets a FIN or an RST and the gateway answers 502. \
`badgateway run` stands the chain up on 127.0.0.1, drives load shaped to hit that race, names the cause of \
every 502, and shows the mitigations side by side.\n\n\
Exit status: 0 ok, 1 an expectation ([expect] or check) failed, 2 bad usage, config or I/O (or, for `load`, \
no request reached the target), 130 interrupted by Ctrl-C or SIGTERM (the partial result is still written); \
`serve` exits 0 after a drain (see `serve --help`).";

/// Where results go, shared by the commands that measure.
#[derive(Args, Debug, Clone, Default)]
pub struct Outputs {
    /// Write the result (JSON, the contract of docs/result-contract.md) to this file, atomically.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a self-contained HTML report with SVG charts to this file.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// No progress bars (they are also off when stdout is not a terminal).
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Stand a chain up in-process, drive a scenario's load, print the result table.
    ///
    /// Without SCENARIO: the embedded keep-alive race (scenarios/keepalive-race.toml), then the same load with
    /// each mitigation (keep-alive off, front idle timeout below the back's, retry idempotent), then the
    /// throughput cost of keep-alive off on a closed loop. Exit status 1 when the scenario's [expect] fails.
    Run {
        /// Scenario file (TOML, see docs/scenario-format.md); the keep-alive race when omitted.
        scenario: Option<PathBuf>,
        /// Change a scenario key before running, e.g. `--set back.keepalive_timeout=200ms` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        #[command(flatten)]
        shaping: commands::Shaping,
        /// Only the scenario itself: no mitigation runs after the default scenario.
        #[arg(long)]
        no_mitigations: bool,
        /// Keep the wire story (one timeline across gateway, link and back) of up to N failed requests per run:
        /// in the JSON, the page, and the first one printed as a ladder. 0 records nothing; at most 1000.
        #[arg(long, value_name = "N", default_value_t = harness::timelines::DEFAULT_CAP,
              allow_negative_numbers = true,
              value_parser = clap::value_parser!(u16).range(0..=harness::timelines::MAX_CAP as i64))]
        timelines: u16,
        #[command(flatten)]
        outputs: Outputs,
    },
    /// Run the cartesian matrix of `--vary` values on the same load and print one table.
    ///
    /// Example: `badgateway compare scenarios/keepalive-race.toml --vary back.keepalive=true,false
    /// --vary front.retry=none,idempotent`
    Compare {
        /// Scenario file.
        scenario: PathBuf,
        /// A key and the values to try, `key=v1,v2,...` (repeatable; at most 64 cells in all).
        #[arg(long, value_name = "KEY=V1,V2", required = true)]
        vary: Vec<Variation>,
        /// Change a scenario key in every cell (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        #[command(flatten)]
        shaping: commands::Shaping,
        #[command(flatten)]
        outputs: Outputs,
    },
    /// Draw the race window: P(502) against the idle gap's offset from the back's KeepAliveTimeout.
    Sweep {
        /// Scenario file; the keep-alive race when omitted.
        scenario: Option<PathBuf>,
        #[command(flatten)]
        bins: commands::sweep::SweepBins,
        /// Change a scenario key before sweeping (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        #[command(flatten)]
        shaping: commands::Shaping,
        #[command(flatten)]
        outputs: Outputs,
    },
    /// The CI gate: check a result against its scenario's [expect] and, optionally, a baseline.
    ///
    /// Prints one line per rule (`ok`, `FAIL`, or `--` when the result cannot say) and a summary. Exit status 0
    /// when every rule holds, 1 when any fails, 2 when a file cannot be read or is not a badgateway result.
    Check {
        /// Result JSON written by `run`, `compare`, `load`, `sweep`, `probe` or `real` with `--json`.
        result: PathBuf,
        /// A baseline result of the same kind (run or cells) to compare with: the 502 rate by an exact test on
        /// the counts, p99 (with enough samples), throughput, causes.
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
        /// Allowed relative change of p99 and throughput against the baseline: `10%`, or a fraction up to 1 (`0.1`); a
        /// bare number above 1 (`10`) and a negative one are refused.
        #[arg(long, default_value = "10%", allow_hyphen_values = true)]
        tolerance: Tolerance,
        /// The absolute part of the p99 tolerance: p99 may rise to `base × (1 + tolerance) + floor`.
        #[arg(long, default_value = "1ms", value_parser = commands::parse_duration)]
        latency_floor: Duration,
        /// Judge an interrupted (partial) result instead of failing it.
        #[arg(long)]
        allow_partial: bool,
    },
    /// Explain each 502 cause in a result: what happened on the wire and what to check.
    Explain {
        /// Result JSON written by `run`, `compare`, `load`, `sweep`, `probe` or `merge` with `--json`.
        result: PathBuf,
    },
    /// Merge the results of load agents that ran side by side (pods, CI jobs) into one run.
    ///
    /// Counts and 502 causes are added; the latency histograms (`latency_histogram`, HdrHistogram V2 deflate)
    /// are added exactly and the percentiles read from the sum. Prints the merged table as `run` does. Refuses a
    /// file that is not one run's result, or that has no histogram (written by an older version).
    Merge {
        /// Result files written by `load --json` or `run SCENARIO --json`.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Write the merged result (the same contract as one run) to this file, atomically.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Drive any HTTP/1.1 target (real nginx/HAProxy/Apache chains) with the same patterns and accounting.
    ///
    /// 502s with an `x-badgateway-cause` header are counted by cause, others as `unclassified`. The target
    /// must be on the loopback network unless --allow-remote is given.
    Load(LoadArgs),
    /// Run one tier alone (for chains with real nginx/HAProxy/Apache) until Ctrl-C or SIGTERM.
    ///
    /// The config file is TOML: `listen = "127.0.0.1:8080"`, then `backends = ["127.0.0.1:8081"]` for the
    /// gateway or `upstream = "127.0.0.1:8082"` for the back or a link, and the tier's own section ([front],
    /// [back], [origin] or [link]; `[front] admin_listen` serves /metrics). The README's "serve" section lists
    /// the keys.
    ///
    /// Exit status: 0 after Ctrl-C or SIGTERM once everything in flight finished, 1 when --grace ran out with
    /// client connections still busy (their requests were cut), 2 on a usage, config or bind error.
    Serve {
        /// Which tier.
        #[arg(value_enum)]
        tier: Tier,
        /// Its config file: `listen`, `upstream` or `backends`, and a [front]/[back]/[origin]/[link] section.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// On Ctrl-C or SIGTERM, how long the requests in flight may take to finish before the tier exits
        /// (idle connections are closed at once).
        #[arg(long, default_value = "10s", value_parser = commands::parse_duration)]
        grace: Duration,
    },
    /// Real stacks: the race through real fronts (nginx, HAProxy, Caddy, Varnish) and backs (Apache, nginx,
    /// Node.js, gunicorn, uvicorn, Tomcat), alone or mixed with our tiers.
    Real(commands::real::RealArgs),
    /// Can this chain's front reuse a connection into the back's close? Measures the back's real idle close
    /// and the round trip, then probes idle ages across the close window, each stream through a front of its own.
    ///
    /// Exit status: 0 not exposed, 1 exposed (or the scenario's `[expect] exposed` failed), 2 usage, config or
    /// I/O error, 130 interrupted.
    Probe(commands::probe::ProbeArgs),
    /// Audit real front and back configs (nginx, HAProxy, Caddy; Apache) and presets for the keep-alive race.
    ///
    /// Exit status 1 when a pair is exposed, 2 on a usage, parse or I/O error.
    Audit(commands::audit::AuditArgs),
}

/// The limit of `load --threads`, as clap's ranges want it.
const MAX_LOAD_THREADS: i64 = MAX_THREADS as i64;

/// `badgateway load` options.
#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// Target URL, e.g. `http://127.0.0.1:8080/`.
    #[arg(long)]
    target: String,
    /// Load pattern: a closed loop by default, as wrk; ask for `idle-gap` (with --gap set to the back's
    /// KeepAliveTimeout) to aim at the keep-alive race.
    #[arg(long, value_enum, default_value = "closed")]
    pattern: PatternArg,
    /// Concurrent clients (each one keep-alive connection).
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// Threads the clients run on, each with a single-threaded runtime (as wrk's -t); clients are dealt to
    /// them round robin. 0 runs them on the async worker threads (--worker-threads).
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u16).range(0..=MAX_LOAD_THREADS))]
    threads: u16,
    /// Total requests; without it the run is bound by --duration.
    #[arg(long)]
    requests: Option<u64>,
    /// Wall-clock bound, e.g. `30s` (default 10s when --requests is not given, as wrk's -d).
    #[arg(long, value_parser = commands::parse_duration)]
    duration: Option<Duration>,
    /// Requests per second over all clients (pattern rate).
    #[arg(long)]
    rate: Option<f64>,
    /// Centre of the idle gap (pattern idle-gap): set it to the back's KeepAliveTimeout.
    #[arg(long, value_parser = commands::parse_duration, default_value = "5s")]
    gap: Duration,
    /// Half-width of the idle gap draw.
    #[arg(long, value_parser = commands::parse_duration, default_value = "10ms")]
    gap_spread: Duration,
    /// Request method.
    #[arg(long, default_value = "GET")]
    method: String,
    /// Seed of the random draws.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Whole-response timeout.
    #[arg(long, value_parser = commands::parse_duration, default_value = "30s")]
    timeout: Duration,
    /// Allow a target outside 127.0.0.0/8 and ::1.
    #[arg(long)]
    allow_remote: bool,
    #[command(flatten)]
    outputs: Outputs,
}

/// How long `load` runs when neither --requests nor --duration is given (wrk's default).
const DEFAULT_LOAD_DURATION: Duration = Duration::from_secs(10);

impl LoadArgs {
    /// Bounds the run by [`DEFAULT_LOAD_DURATION`] when it has no other bound.
    fn with_default_bound(mut self) -> Self {
        if self.requests.is_none() && self.duration.is_none() {
            self.duration = Some(DEFAULT_LOAD_DURATION);
        }
        self
    }
}

/// The load patterns, for clap.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PatternArg {
    /// As fast as possible.
    Closed,
    /// Open loop at --rate.
    Rate,
    /// Wait a gap around --gap between requests.
    IdleGap,
}

impl From<PatternArg> for Pattern {
    fn from(value: PatternArg) -> Self {
        match value {
            PatternArg::Closed => Pattern::Closed,
            PatternArg::Rate => Pattern::Rate,
            PatternArg::IdleGap => Pattern::IdleGap,
        }
    }
}

/// The `--log-format` choices.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines; ANSI colours only when stderr is a terminal (never in pipes, files, CI logs).
    Text,
    /// One JSON object per event (timestamp, level, target, fields), never coloured.
    Json,
}

/// mimalloc instead of glibc's malloc: less time per allocation on the proxy path, and pages freed by idle
/// connections (see the gateway's `client_park_after`) go back to the system instead of staying resident.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Gives the calling thread's freed pages back to the system at once. The gateway runs it on a worker thread
/// shortly after client connections parked there (`gateway::set_memory_trim`): that thread may then stay idle
/// for minutes, and mimalloc gives pages back only on a later allocation or free.
fn trim_memory() {
    // SAFETY: `mi_collect` takes no pointer and may run on any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log, cli.log_format);
    gateway::set_memory_trim(trim_memory);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = cli.worker_threads {
        builder.worker_threads(usize::from(threads));
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", error_text(&error));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, `outer: inner: ...`, each said once: a typed error whose message already ends with
/// its source's text (`cannot read X: No such file or directory (os error 2)`) does not get it again.
fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if text.ends_with(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

/// The tracing subscriber: `--log` (or RUST_LOG) as the filter, stderr as the sink, colours only on a terminal.
fn init_tracing(filter: &str, format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}

async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run {
            scenario,
            overrides,
            shaping,
            no_mitigations,
            timelines,
            outputs,
        } => {
            commands::run::run(
                scenario,
                overrides,
                shaping,
                no_mitigations,
                usize::from(timelines),
                outputs,
            )
            .await
        }
        Command::Compare {
            scenario,
            vary,
            overrides,
            shaping,
            outputs,
        } => commands::compare::compare(scenario, vary, overrides, shaping, outputs).await,
        Command::Sweep {
            scenario,
            bins,
            overrides,
            shaping,
            outputs,
        } => commands::sweep::sweep(scenario, bins, overrides, shaping, outputs).await,
        Command::Check {
            result,
            baseline,
            tolerance,
            latency_floor,
            allow_partial,
        } => commands::check::check(
            &result,
            baseline.as_deref(),
            &Gate {
                tolerance,
                latency_floor,
                allow_partial,
            },
        ),
        Command::Explain { result } => commands::explain::explain(&result),
        Command::Merge { files, json } => commands::merge::merge(&files, json.as_ref()),
        Command::Load(args) => commands::load::load(args.with_default_bound()).await,
        Command::Serve {
            tier,
            config,
            grace,
        } => commands::serve::serve(tier, &config, grace).await,
        Command::Real(args) => commands::real::real(args).await,
        Command::Probe(args) => commands::probe::probe(args).await,
        Command::Audit(args) => commands::audit::audit(args),
    }
}
