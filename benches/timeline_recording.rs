//! What recording a timeline event costs (issue 16): one connection log's `record` call with recording off
//! (the default: one branch on an `Option`), on (a stamp of the monotonic clock and a push into a bounded
//! ring), and the recorder's per-connection check when it is off (one relaxed atomic load).
//!
//! `cargo bench --bench timeline_recording`. The closed-loop req/s with recording on and off is measured with
//! `badgateway run` (README, "Timelines").

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{Criterion, criterion_group, criterion_main};
use timeline::{Conn, ConnLog, EventKind, Recorder};

fn conn() -> Conn {
    Conn {
        local: SocketAddr::from(([127, 0, 0, 1], 40000)),
        peer: SocketAddr::from(([127, 0, 0, 1], 8080)),
    }
}

fn record(c: &mut Criterion) {
    let mut group = c.benchmark_group("timeline record");
    group.bench_function("off", |b| {
        let mut log = ConnLog::OFF;
        b.iter(|| black_box(&mut log).record(black_box(EventKind::WroteRequest)));
    });
    group.bench_function("on", |b| {
        let mut log = ConnLog::on(conn());
        b.iter(|| black_box(&mut log).record(black_box(EventKind::WroteRequest)));
    });
    group.finish();
}

fn open(c: &mut Criterion) {
    let mut group = c.benchmark_group("timeline open connection");
    let off = Recorder::new();
    group.bench_function("off", |b| {
        b.iter(|| black_box(off.open(|| Some(conn()))));
    });
    let on = Recorder::new();
    on.enable(20);
    group.bench_function("on, then closed into the bounded store", |b| {
        b.iter(|| {
            let mut log = on.open(|| Some(conn()));
            log.record(EventKind::Accepted);
            on.closed(log);
        });
    });
    group.finish();
}

criterion_group!(benches, record, open);
criterion_main!(benches);
