//! `real compare` as the matrix, small: every front (nginx, HAProxy, Caddy, Varnish, ours) in front of one
//! application back (uvicorn, which takes a 50 ms keep-alive timeout and answers itself), few requests per
//! cell. Every cell runs, keep-alive off shows no failure, the race shows in a keep-alive-on cell, and the
//! table names every cell with its silent-retry column. A missing package is a failure in CI (`CI=true`).

mod support;

use harness::chain::{BackKind, FrontKind};
use harness::real::{CellOutcome, fidelity_table, matrix_cells, run_cell};
use harness::scenario::Scenario;
use listener::Shutdown;
use support::quiet;
use support::real_servers_installed;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_front_runs_in_front_of_an_application_back_with_and_without_its_mitigation() {
    if !real_servers_installed("the matrix test") {
        return;
    }
    let (_shutdown, stop) = Shutdown::new();
    let base = Scenario::default_race()
        .unwrap()
        .with_override("load.requests=40")
        .unwrap();
    let cells = matrix_cells(&FrontKind::ALL, &[BackKind::Uvicorn]);
    assert_eq!(cells.len(), 4 * 5 + 3);
    let mut outcomes = Vec::new();
    for cell in cells.iter().copied() {
        outcomes.push(run_cell(&base, cell, &quiet(), stop.clone()).await);
    }
    let table = fidelity_table(&outcomes);
    eprintln!("{table}");
    for (cell, outcome) in cells.iter().zip(&outcomes) {
        let CellOutcome::Ran(run) = outcome else {
            panic!("{}: {outcome:?}", cell.label());
        };
        let r = &run.result;
        assert_eq!(r.unaccounted, 0, "{}", cell.label());
        assert!(
            !run.origin_counted,
            "{}: uvicorn is its own origin",
            cell.label()
        );
        assert!(table.contains(&cell.label()), "{table}");
        if !cell.keepalive {
            assert_eq!(
                r.responses.get("200"),
                Some(&40),
                "{}: {:?}",
                cell.label(),
                r.responses
            );
        }
    }
    // Without a mitigation, the race reaches the clients of our gateway and of nginx.
    for front in [FrontKind::Ours, FrontKind::Nginx] {
        let at = cells
            .iter()
            .position(|c| c.front == front && c.keepalive && !c.retry && !c.post)
            .unwrap();
        let CellOutcome::Ran(run) = &outcomes[at] else {
            unreachable!()
        };
        assert!(
            run.result.bad_gateways() >= 3,
            "{front}: {:?}",
            run.result.responses
        );
    }
    assert!(table.contains("retried"), "{table}");
}
