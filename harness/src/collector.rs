//! The one collector: receives every record, aggregates counts, the latency histogram and, under the idle-gap
//! pattern, the race window's bins ([`GapBins`]); drives the progress bar and the resource checkpoints. Nothing
//! else aggregates, so the totals reconcile by construction.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use tokio::sync::mpsc;

use crate::gap_bins::GapBins;
use crate::progress::Progress;
use crate::record::{CauseKey, ClientError, Outcome, Record};
use crate::resources::{Checkpoints, ResourceUsage};

/// Everything measured on the client side of one run.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Records received.
    pub records: u64,
    /// Complete responses by status.
    pub responses: BTreeMap<u16, u64>,
    /// Client-side failures by kind.
    pub client_errors: BTreeMap<ClientError, u64>,
    /// 502 responses by the cause header's value; `unclassified` when it was absent or named no cause.
    pub causes: BTreeMap<CauseKey, u64>,
    /// Requests sent on a connection that had carried one before.
    pub reused_connection: u64,
    /// Latency in microseconds.
    pub latency_us: Histogram<u64>,
    /// Requests and 502s by measured idle gap, when the load has idle gaps (see [`Tally::with_race_window`]).
    pub race_window: Option<GapBins>,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Self {
        Self {
            records: 0,
            responses: BTreeMap::new(),
            client_errors: BTreeMap::new(),
            causes: BTreeMap::new(),
            reused_connection: 0,
            // 1 µs to 1 h at 3 significant figures: the bounds are constants, so this cannot fail.
            latency_us: latency_histogram(),
            race_window: None,
        }
    }

    /// An empty tally that also bins the records' idle gaps into `bins`.
    pub fn with_race_window(bins: GapBins) -> Self {
        Self {
            race_window: Some(bins),
            ..Self::new()
        }
    }

    /// Adds one record.
    pub fn add(&mut self, record: &Record) {
        self.records += 1;
        if record.reused_connection {
            self.reused_connection += 1;
        }
        if let (Some(bins), Some(gap)) = (self.race_window.as_mut(), record.idle_gap) {
            let bad_gateway = matches!(record.outcome, Outcome::Response { status: 502, .. });
            bins.add(gap, bad_gateway);
        }
        match &record.outcome {
            Outcome::Response { status, cause } => {
                *self.responses.entry(*status).or_default() += 1;
                if *status == 502 {
                    let key = CauseKey::from_header(cause.as_deref());
                    *self.causes.entry(key).or_default() += 1;
                }
                // Latency is a response's, as wrk's is: a refused connect fails in microseconds and a timeout
                // at the timeout, and neither is how long an answer took (they are counted as client errors).
                let micros = u64::try_from(record.latency.as_micros())
                    .unwrap_or(u64::MAX)
                    .max(1);
                self.latency_us.saturating_record(micros);
            }
            Outcome::Failed(kind) => *self.client_errors.entry(*kind).or_default() += 1,
        }
    }

    /// Responses of any status (502 included): what throughput counts.
    pub fn answered(&self) -> u64 {
        self.responses.values().sum()
    }

    /// Responses plus client errors: must equal `records`.
    pub fn accounted(&self) -> u64 {
        self.responses.values().sum::<u64>() + self.client_errors.values().sum::<u64>()
    }

    /// 502 responses.
    pub fn bad_gateways(&self) -> u64 {
        self.responses.get(&502).copied().unwrap_or(0)
    }
}

impl Default for Tally {
    fn default() -> Self {
        Self::new()
    }
}

/// 1 µs to 1 h at 3 significant figures.
fn latency_histogram() -> Histogram<u64> {
    // Constant, valid bounds (low >= 1, high >= 2 * low, precision <= 5): not an input path.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant histogram bounds are valid")
}

/// Receives records (in batches, see [`crate::load::RECORD_BATCH`]) into `tally` (empty; it says what it bins)
/// until every sender is gone; samples this process's resources at each checkpoint and returns their peaks
/// with the tally.
pub async fn collect(
    mut records: mpsc::Receiver<Vec<Record>>,
    mut tally: Tally,
    mut progress: Progress,
    mut checkpoints: Checkpoints,
) -> (Tally, ResourceUsage) {
    while let Some(batch) = records.recv().await {
        for record in &batch {
            tally.add(record);
            progress.tick(tally.records, tally.bad_gateways());
            checkpoints.record(tally.records);
        }
    }
    progress.finish();
    (tally, checkpoints.peaks())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn record(status: u16, idle_gap: Option<Duration>) -> Record {
        Record {
            outcome: Outcome::Response {
                status,
                cause: None,
            },
            latency: Duration::from_millis(5),
            reused_connection: idle_gap.is_some(),
            idle_gap,
        }
    }

    #[test]
    fn only_records_with_a_measured_gap_are_binned() {
        let ms = Duration::from_millis;
        let mut tally = Tally::with_race_window(GapBins::for_idle_gap(ms(50), ms(10)));
        tally.add(&record(200, None));
        tally.add(&record(502, Some(ms(45))));
        tally.add(&record(200, Some(ms(45))));
        tally.add(&Record {
            outcome: Outcome::Failed(ClientError::Reset),
            ..record(0, Some(ms(52)))
        });
        let bins = tally.race_window.as_ref().map(GapBins::bins).unwrap();
        let counts: Vec<(u64, u64)> = bins
            .iter()
            .map(|b| (b.count.requests, b.count.bad_gateways))
            .collect();
        assert_eq!(counts, [(2, 1), (1, 0)]);
        assert_eq!(tally.records, 4);
        let mut plain = Tally::new();
        plain.add(&record(502, Some(ms(45))));
        assert!(plain.race_window.is_none(), "no bins unless asked for");
    }
}
