//! The cost of recording one request in the harness: building a record, sending it to the collector over the
//! channel (in batches, as the load workers send them), and adding it to the tally (counts + HDR histogram).

use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use harness::collector::Tally;
use harness::load::RECORD_BATCH;
use harness::record::{ClientError, Outcome, Record};

fn records() -> Vec<Record> {
    (0..1024u64)
        .map(|i| Record {
            outcome: match i % 50 {
                0 => Outcome::Response {
                    status: 502,
                    cause: Some("reused-closed".to_owned()),
                },
                1 => Outcome::Failed(ClientError::Reset),
                _ => Outcome::Response {
                    status: 200,
                    cause: None,
                },
            },
            latency: Duration::from_micros(200 + (i * 37) % 5000),
            reused_connection: i % 7 != 0,
            idle_gap: None,
        })
        .collect()
}

fn tally_add(c: &mut Criterion) {
    let records = records();
    let mut group = c.benchmark_group("record");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("tally_add", |b| {
        b.iter_batched_ref(
            Tally::new,
            |tally| {
                for record in &records {
                    tally.add(record);
                }
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("channel_and_tally", |b| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        // As the load workers do: records travel to the collector in batches of RECORD_BATCH.
        b.iter(|| {
            runtime.block_on(async {
                let (tx, mut rx) = tokio::sync::mpsc::channel(256);
                let mut tally = Tally::new();
                for batch in records.chunks(RECORD_BATCH) {
                    let _ = tx.send(batch.to_vec()).await;
                    if let Some(received) = rx.recv().await {
                        for record in &received {
                            tally.add(record);
                        }
                    }
                }
                tally.records
            })
        })
    });
    group.finish();
}

criterion_group!(benches, tally_add);
criterion_main!(benches);
