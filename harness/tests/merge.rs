//! `badgateway merge`: two runs' results merged equal one run's result built from the same records, counts,
//! causes, client errors and the latency histogram included (percentiles read from the merged histogram); the
//! command refuses what is not one run's result, or a result without its histogram, naming the file. The
//! records are built here: no load, no timing.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::check::ResultFile;
use harness::collector::Tally;
use harness::gap_bins::GapBins;
use harness::load::{LoadConfig, Target};
use harness::merge::{MergeError, Part, merge};
use harness::record::{ClientError, Outcome, Record};
use harness::result::RunResult;
use harness::run::{Measured, Subject, tallied_result};
use support::{badgateway_command, scratch_dir};

/// 1,000 records of every kind: 200s, 503s, 502s with each race cause and without a header, every client
/// error kind; latencies from 40 µs to about 2 s and idle gaps from 44 to 56 ms, drawn by a fixed LCG.
fn records() -> Vec<Record> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..1000)
        .map(|i| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let draw = state >> 33;
            let outcome = match i % 20 {
                0 => Outcome::Response {
                    status: 502,
                    cause: Some("reused-closed".to_owned()),
                },
                1 => Outcome::Response {
                    status: 502,
                    cause: Some("reused-reset".to_owned()),
                },
                2 => Outcome::Response {
                    status: 502,
                    cause: None,
                },
                3 => Outcome::Response {
                    status: 503,
                    cause: None,
                },
                4 => Outcome::Failed(ClientError::ALL[(draw % 4) as usize]),
                _ => Outcome::Response {
                    status: 200,
                    cause: None,
                },
            };
            // Mostly sub-millisecond, a tail up to ~2 s, so p99 and max differ between the halves.
            let micros = if draw.is_multiple_of(50) {
                draw % 2_000_000
            } else {
                40 + draw % 900
            };
            Record {
                outcome,
                latency: Duration::from_micros(micros),
                reused_connection: i % 3 != 0,
                // Reused connections waited an idle gap around 50 ms: the race window merges too.
                idle_gap: (i % 3 != 0).then(|| Duration::from_micros(44_000 + draw % 12_000)),
            }
        })
        .collect()
}

fn result_of(records: &[Record]) -> RunResult {
    let mut tally = Tally::with_race_window(GapBins::for_idle_gap(
        Duration::from_millis(50),
        Duration::from_millis(6),
    ));
    for record in records {
        tally.add(record);
    }
    let load = LoadConfig::default();
    let target = Target {
        addr: "127.0.0.1:9".parse().unwrap(),
        host: "127.0.0.1:9".to_owned(),
        method: http::Method::GET,
        path: "/".to_owned(),
        timeout: Duration::from_secs(30),
    };
    let measured = Measured {
        started: tally.records,
        tally,
        duration_s: 2.0,
        seed: 1,
        peaks: Default::default(),
    };
    tallied_result(
        "agents".to_owned(),
        &Subject::External {
            load: &load,
            target: &target,
        },
        measured,
    )
}

fn part(name: &str, result: &RunResult) -> Part {
    Part {
        name: name.to_owned(),
        result: result.clone(),
    }
}

#[test]
fn two_merged_runs_equal_one_run_of_the_same_records() {
    let records = records();
    let (first, second) = records.split_at(317);
    let whole = result_of(&records);
    let a = result_of(first);
    let b = result_of(second);
    // The halves differ, so a merge that averaged percentiles or kept one side would show.
    assert_ne!(a.latency_ms, b.latency_ms);
    let merged = merge(&[part("a.json", &a), part("b.json", &b)]).unwrap();
    assert_eq!(merged.requests, 1000);
    assert_eq!(merged.causes, whole.causes);
    assert_eq!(merged.client_errors, whole.client_errors);
    assert_eq!(merged.latency_ms, whole.latency_ms);
    let histogram = |r: &RunResult| {
        harness::histogram::decode(r.latency_histogram.as_deref().unwrap()).unwrap()
    };
    assert_eq!(histogram(&merged), histogram(&whole));
    let window = merged.race_window.as_ref().unwrap();
    assert!(window.bins.len() > 5, "{window:?}");
    assert_eq!(merged.race_window, whole.race_window);
    // Everything else too: same durations, so the same throughput; the same name, settings and seed.
    assert_eq!(merged, whole);
    // The order of the parts does not matter.
    assert_eq!(
        merge(&[part("b.json", &b), part("a.json", &a)]).unwrap(),
        whole
    );
}

#[test]
fn a_result_without_a_histogram_still_loads_but_does_not_merge() {
    let mut old = serde_json::to_value(result_of(&records()[..10])).unwrap();
    old.as_object_mut().unwrap().remove("latency_histogram");
    let ResultFile::Single(old) = ResultFile::parse(&old.to_string(), "old.json").unwrap() else {
        panic!("one run's file read as another kind");
    };
    assert!(old.latency_histogram.is_none());
    let error = merge(&[
        part("new.json", &result_of(&records())),
        part("old.json", &old),
    ])
    .unwrap_err();
    assert!(matches!(error, MergeError::NoHistogram { ref name } if name == "old.json"));
    assert!(error.to_string().contains("old.json"), "{error}");
}

fn write(dir: &Path, name: &str, value: &serde_json::Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path
}

#[test]
fn the_command_prints_the_merged_table_writes_the_json_and_names_a_wrong_file() {
    let dir = scratch_dir("merge");
    let records = records();
    let (first, second) = records.split_at(600);
    let a = write(
        &dir,
        "a.json",
        &serde_json::to_value(result_of(first)).unwrap(),
    );
    let b = write(
        &dir,
        "b.json",
        &serde_json::to_value(result_of(second)).unwrap(),
    );
    let all = dir.join("all.json");
    let output = badgateway_command()
        .args(["merge", a.to_str().unwrap(), b.to_str().unwrap(), "--json"])
        .arg(&all)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("merged 2 runs"), "{stdout}");
    assert!(
        stdout.contains("1000"),
        "the table shows the merged request count: {stdout}"
    );
    let ResultFile::Single(written) = ResultFile::read(&all).unwrap() else {
        panic!("the merged file is not one run's result");
    };
    // The race window's intervals are computed by the binary, whose build may round a last bit differently
    // (`powi` is not exact): its counts are compared exactly, the rest of the result exactly too.
    let mut written = *written;
    let mut whole = result_of(&records);
    let counts = |r: &mut RunResult| {
        r.race_window.take().map(|w| {
            w.bins
                .iter()
                .map(|b| (b.gap_ms_low, b.gap_ms_high, b.requests, b.bad_gateways))
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(counts(&mut written), counts(&mut whole));
    assert_eq!(written, whole);

    let cells = write(
        &dir,
        "cells.json",
        &serde_json::json!({"scenario": "x", "time_scale": 1.0, "cells": [result_of(first)]}),
    );
    let mut old = serde_json::to_value(result_of(second)).unwrap();
    old.as_object_mut().unwrap().remove("latency_histogram");
    let old = write(&dir, "old.json", &old);
    let stranger = write(&dir, "stranger.json", &serde_json::json!({"hello": 1}));
    // One run given twice, by the same path or as a copy, would count twice.
    let copy = dir.join("copy-of-a.json");
    std::fs::copy(&a, &copy).unwrap();
    for (wrong, says) in [
        (&cells, "cells file"),
        (&old, "no latency_histogram"),
        (&stranger, "not a badgateway result"),
        (&a, "given twice"),
        (&copy, "holds the same result as"),
    ] {
        let output = badgateway_command()
            .args(["merge", a.to_str().unwrap(), wrong.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(wrong.to_str().unwrap()), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
}
