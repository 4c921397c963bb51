//! The wire story of each 502 (issue 16), on the race scenario over loopback: every kept timeline is in causal
//! order (the back's close precedes the gateway's EOF by at least the link latency; the request write lies in
//! the close window), the number kept is min(cap, failures), a retry is a second gateway connection in the same
//! timeline, and with recording off the result has exactly the keys it had before timelines existed.
//!
//! With a real front (nginx, when installed) the link's view is kept: every request that crossed the back's
//! close on the link, in causal order, no more of them than the front's 502s.
//!
//! The runs share the machine's two cores, so they run one at a time; the assertions are on causality and
//! counts, not on how long anything took.

mod support;

use std::collections::BTreeSet;

use harness::chain::{BackKind, FrontKind};
use harness::real::run_real;

use harness::result::RunResult;
use harness::run::{RunOptions, run_scenario};
use harness::scenario::Scenario;
use harness::timelines::{Tier, Timeline, View};
use listener::Shutdown;
use timeline::{Direction, EventKind, Segment};
use tokio::sync::Mutex;

static ONE_RUN_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// The keys recording adds to a run's JSON; nothing else may differ.
const TIMELINE_KEYS: [&str; 2] = ["timelines", "timeline_totals"];

fn race(requests: u64, overrides: &[&str]) -> Scenario {
    let mut scenario = Scenario::default_race()
        .expect("the embedded scenario parses")
        .with_override(&format!("load.requests={requests}"))
        .expect("a request count");
    for key in overrides {
        scenario = scenario.with_override(key).expect("a valid override");
    }
    scenario
}

async fn run(scenario: &Scenario, timelines: usize) -> RunResult {
    let _turn = ONE_RUN_AT_A_TIME.lock().await;
    let (_never, stop) = Shutdown::new();
    let options = RunOptions {
        quiet: true,
        label: None,
        timelines,
    };
    run_scenario(scenario, &options, stop)
        .await
        .expect("the chain starts")
}

fn keys(result: &RunResult) -> BTreeSet<String> {
    serde_json::to_value(result)
        .expect("serialises")
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

fn at(timeline: &Timeline, tier: Tier, pick: impl Fn(&EventKind) -> bool) -> f64 {
    timeline
        .first(tier, pick)
        .unwrap_or_else(|| panic!("no such {tier:?} event in {timeline:#?}"))
        .t_ms
}

fn delay_ms(timeline: &Timeline, pick: impl Fn(&EventKind) -> bool) -> f64 {
    match timeline.first(Tier::Link, pick).map(|event| event.what) {
        Some(EventKind::Delivered { delay_us, .. }) => delay_us as f64 / 1e3,
        _ => timeline.link_latency_ms,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kept_race_timeline_is_in_causal_order() {
    let result = run(&race(80, &[]), 50).await;
    assert!(result.bad_gateways() > 0, "the race scenario races");
    let latency = 4.0;
    let mut in_window = 0;
    for timeline in &result.timelines {
        assert_eq!(timeline.view, View::Chain);
        assert_eq!(timeline.connections[0].tier, Tier::Gateway);
        assert!(
            timeline.events.windows(2).all(|w| w[0].t_ms <= w[1].t_ms),
            "events in time order"
        );
        let write = 0.0;
        assert!(
            timeline
                .events
                .iter()
                .any(|event| event.tier == Tier::Gateway
                    && event.what == EventKind::WroteRequest
                    && event.t_ms == write),
            "times are relative to the failed request's write"
        );
        let close = at(timeline, Tier::Back, |kind| {
            matches!(kind, EventKind::Closed { .. })
        });
        let eof = at(timeline, Tier::Gateway, |kind| {
            matches!(kind, EventKind::ReadEof | EventKind::ReadRst)
        });
        assert!(
            eof - close >= latency,
            "the back's close ({close:.3} ms) precedes the gateway's EOF ({eof:.3} ms) by at least the link's \
             {latency} ms"
        );
        // The close window as this timeline's link delays drew it: a request written after close − (its own
        // crossing) arrives after the close, one written before close + (the FIN's crossing) before the FIN
        // reached the gateway; 1 ms for the gateway's own scheduling between its readiness check and the write,
        // 0.5 ms for the back's between its last look at the socket and its close stamp. Each stamp is taken
        // next to the act it stands for (the link's before its write, the back's after its look), and a thread
        // preempted between the two moves one by that long: so the window is asserted on a share of the
        // timelines, and only a gross miss (a whole link latency outside it: a wrong join, a wrong sign) on any.
        let request_delay = delay_ms(timeline, |kind| {
            matches!(
                kind,
                EventKind::Delivered {
                    dir: Direction::ToBack,
                    segment: Segment::Data,
                    ..
                }
            )
        });
        let fin_delay = delay_ms(timeline, |kind| {
            matches!(
                kind,
                EventKind::Delivered {
                    dir: Direction::ToFront,
                    segment: Segment::Fin | Segment::Rst,
                    ..
                }
            )
        });
        // The sentence tells what the ladder shows: a request that reached the back before its close did not
        // cross the close on the wire.
        let sentence = harness::report::ladder::explain(timeline);
        let arrived = timeline
            .first(Tier::Link, |kind| {
                matches!(
                    kind,
                    EventKind::Delivered {
                        dir: Direction::ToBack,
                        segment: Segment::Data,
                        ..
                    }
                )
            })
            .filter(|event| event.t_ms >= 0.0)
            .map(|event| event.t_ms);
        if arrived.is_some_and(|arrived| arrived <= close) {
            assert!(
                sentence.contains("reached the back") && !sentence.contains("crossed"),
                "{sentence}"
            );
        } else {
            assert!(sentence.contains("crossed it on the wire"), "{sentence}");
        }
        let (earliest, latest) = (close - request_delay - 0.5, close + fin_delay + 1.0);
        if earliest < write && write < latest {
            in_window += 1;
        }
        assert!(
            earliest - latency < write && write < latest + latency,
            "the write (0) lies within a link latency of the close window ({earliest:.3}, {latest:.3}) ms"
        );
    }
    let kept = result.timelines.len();
    eprintln!("{in_window} of {kept} kept race timelines have their write in the close window");
    assert!(
        in_window * 10 >= kept * 9,
        "{in_window} of {kept} writes lie in their close window: fewer than 90 %"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_number_kept_is_the_cap_or_every_failure() {
    let cap = 5;
    let result = run(&race(80, &[]), cap).await;
    let totals = result.timeline_totals.expect("recording was on");
    assert_eq!(
        totals.failures,
        result.bad_gateways(),
        "without retries every failure is a 502"
    );
    assert_eq!(totals.kept, totals.failures.min(cap as u64));
    assert_eq!(result.timelines.len() as u64, totals.kept);
    assert_eq!(totals.cap, cap as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_is_a_second_gateway_connection_in_the_same_timeline() {
    let result = run(&race(80, &["front.retry=idempotent"]), 20).await;
    assert!(result.retries > 0, "the race gives the retry work");
    let retried: Vec<&Timeline> = result
        .timelines
        .iter()
        .filter(|timeline| timeline.outcome.retried)
        .collect();
    assert!(!retried.is_empty(), "a retried request is kept");
    for timeline in retried {
        assert_eq!(timeline.gateway_connections(), 2, "{timeline:#?}");
        let retry = at(timeline, Tier::Gateway, |kind| *kind == EventKind::Retried);
        let second = timeline
            .events
            .iter()
            .find(|event| {
                event.tier == Tier::Gateway && event.conn == Some(second_gateway(timeline))
            })
            .expect("the retry's connection has events");
        assert_eq!(second.what, EventKind::Connected, "a fresh connection");
        assert!(second.t_ms >= retry, "opened after the retry was decided");
    }
}

fn second_gateway(timeline: &Timeline) -> usize {
    timeline
        .connections
        .iter()
        .enumerate()
        .filter(|(_, conn)| conn.tier == Tier::Gateway)
        .nth(1)
        .map(|(index, _)| index)
        .expect("two gateway connections")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_recording_off_the_result_has_the_keys_it_always_had() {
    let off = run(&race(12, &[]), 0).await;
    let on = run(&race(12, &[]), 20).await;
    let off_keys = keys(&off);
    assert!(
        TIMELINE_KEYS.iter().all(|key| !off_keys.contains(*key)),
        "{off_keys:?}"
    );
    assert!(off.timelines.is_empty() && off.timeline_totals.is_none());
    let mut on_keys = keys(&on);
    assert!(on_keys.contains("timeline_totals"));
    assert_eq!(on_keys.contains("timelines"), !on.timelines.is_empty());
    for key in TIMELINE_KEYS {
        on_keys.remove(key);
    }
    assert_eq!(
        off_keys, on_keys,
        "recording adds its two keys and nothing else"
    );
    // A result written without them (before timelines existed, or with recording off) still parses.
    let mut json = serde_json::to_value(&on).expect("serialises");
    for key in TIMELINE_KEYS {
        json.as_object_mut().expect("an object").remove(key);
    }
    let parsed: RunResult = serde_json::from_value(json).expect("parses without them");
    assert!(parsed.timelines.is_empty() && parsed.timeline_totals.is_none());
}

/// What the gateway must have recorded of a cause.
type Recorded = fn(&EventKind) -> bool;

/// A shipped cause scenario, cut to `requests` requests.
fn shipped(name: &str, requests: u64) -> Scenario {
    let path = format!(
        "{}/../scenarios/causes/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("the shipped scenario");
    Scenario::from_toml(&text, &path)
        .expect("it parses")
        .with_override(&format!("load.requests={requests}"))
        .expect("a request count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_cause_tells_its_own_story_not_a_keepalive_race() {
    let stories: [(&str, Recorded, &str); 4] = [
        (
            "connect-refused",
            |kind| *kind == EventKind::ConnectFailed { timed_out: false },
            "connect to the back was refused",
        ),
        (
            "dns-failure",
            |kind| *kind == EventKind::NotResolved,
            "did not resolve",
        ),
        (
            "invalid-response",
            |kind| *kind == EventKind::ReadInvalid,
            "not an HTTP response head",
        ),
        (
            "fresh-reset",
            |kind| *kind == EventKind::ReadRst,
            "The link injected an RST into this fresh connection",
        ),
    ];
    for (name, event, told) in stories {
        let result = run(&shipped(name, 6), 3).await;
        let timeline = result
            .timelines
            .first()
            .unwrap_or_else(|| panic!("{name}: a timeline is kept"));
        assert!(
            timeline.first(Tier::Gateway, event).is_some(),
            "{name}: the gateway recorded what it saw: {timeline:#?}"
        );
        let sentence = harness::report::ladder::explain(timeline);
        assert!(sentence.contains(told), "{name}: {sentence}");
        for race_talk in [
            "keep-alive",
            "idle connection",
            "crossed",
            "no close by the back",
        ] {
            assert!(
                !sentence.contains(race_talk),
                "{name}: {race_talk}: {sentence}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_cut_after_its_head_is_kept_as_closed_without_response() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/causes/truncated-response.toml"
    ))
    .expect("the shipped scenario");
    let scenario = Scenario::from_toml(&text, "truncated-response.toml").expect("it parses");
    let result = run(&scenario, 3).await;
    let closed = result.client_errors.get("closed").copied().unwrap_or(0);
    assert!(closed > 0, "the scenario cuts bodies");
    let totals = result.timeline_totals.expect("recording was on");
    assert_eq!(totals.failures, result.truncated_responses);
    assert_eq!(totals.kept, totals.failures.min(3));
    for timeline in &result.timelines {
        assert!(timeline.outcome.truncated && timeline.outcome.cause.is_none());
        let head = at(timeline, Tier::Gateway, |kind| {
            matches!(kind, EventKind::ResponseHead { .. })
        });
        let failed = at(timeline, Tier::Gateway, |kind| {
            *kind == EventKind::BodyFailed
        });
        assert!(head <= failed, "the head came before the body failed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_real_front_the_link_keeps_the_requests_that_crossed_the_close() {
    if !support::real_servers_installed("the real-front timeline test") {
        return;
    }
    let _turn = ONE_RUN_AT_A_TIME.lock().await;
    let (_never, stop) = Shutdown::new();
    let options = RunOptions {
        quiet: true,
        label: None,
        timelines: 20,
    };
    let scenario = race(80, &[]);
    let run = run_real(
        &scenario,
        FrontKind::Nginx,
        BackKind::Ours,
        "race",
        &options,
        stop,
    )
    .await
    .expect("nginx starts");
    let result = &run.result;
    let totals = result.timeline_totals.expect("recording was on");
    assert!(
        result.bad_gateways() > 0,
        "the race reproduces through nginx"
    );
    assert!(
        totals.failures <= result.bad_gateways() && totals.failures * 2 >= result.bad_gateways(),
        "{} crossings on the link for {} 502s",
        totals.failures,
        result.bad_gateways()
    );
    assert_eq!(totals.kept, totals.failures.min(20));
    for timeline in &result.timelines {
        assert_eq!(timeline.view, View::LinkOnly);
        assert_eq!(
            timeline.outcome.status, None,
            "the link cannot know the answer"
        );
        let close = at(timeline, Tier::Back, |kind| {
            matches!(kind, EventKind::Closed { .. })
        });
        let fin_at_front = at(timeline, Tier::Link, |kind| {
            matches!(
                kind,
                EventKind::Delivered {
                    dir: Direction::ToFront,
                    segment: Segment::Fin | Segment::Rst,
                    ..
                }
            )
        });
        assert!(
            close + timeline.link_latency_ms <= fin_at_front,
            "the FIN crossed the link"
        );
        assert!(
            0.0 <= fin_at_front,
            "the request reached the link before the FIN reached nginx"
        );
    }
}
