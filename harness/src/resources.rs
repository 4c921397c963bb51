//! This process's resources over a run: resident memory (VmRSS from `/proc/self/status`) and open file
//! descriptors (entries of `/proc/self/fd`), sampled at the start, during and at the end, kept as start, peak
//! and end. A long run that leaks connections or memory shows as an end above the start.
//!
//! This module owns sampling and the figures; when they are taken belongs to `run` (start, end) and the
//! collector (during). Off Linux, or when `/proc` cannot be read, a sample is absent and the figures stay 0.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Samples taken during a run: one every tenth of it.
const DURING_SAMPLES: u32 = 10;

/// How often [`ResourceMonitor::finish_settled`] re-reads the descriptor count while it waits.
const SETTLE_POLL: Duration = Duration::from_millis(5);

/// The descriptor count has settled once it has not fallen for this long.
const SETTLE_QUIET: Duration = Duration::from_millis(50);

/// One reading of this process's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceSample {
    /// Resident set size in KiB.
    pub rss_kib: u64,
    /// Open file descriptors (sockets included).
    pub fds: u64,
}

impl ResourceSample {
    /// Reads `/proc/self`; `None` when it cannot be read (not Linux, no procfs).
    pub fn now() -> Option<Self> {
        Some(Self {
            rss_kib: rss_kib()?,
            fds: open_fds()?,
        })
    }
}

/// Start, peak and end of a run's samples; all 0 when nothing could be sampled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceUsage {
    /// Resident memory before the chain started, KiB.
    pub rss_kib_start: u64,
    /// Resident memory after the chain stopped, KiB.
    pub rss_kib_end: u64,
    /// Largest resident memory sampled, KiB.
    pub rss_kib_peak: u64,
    /// Open file descriptors before the chain started.
    pub fds_start: u64,
    /// Open file descriptors after the chain stopped.
    pub fds_end: u64,
    /// Most open file descriptors sampled.
    pub fds_peak: u64,
}

impl ResourceUsage {
    /// Whether anything was sampled.
    pub fn sampled(&self) -> bool {
        self.rss_kib_start > 0 || self.fds_start > 0
    }
}

/// Collects samples into a [`ResourceUsage`]; cheap to keep while nothing is sampled.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResourceMonitor {
    usage: ResourceUsage,
    started: bool,
}

impl ResourceMonitor {
    /// Takes the start sample.
    pub fn start() -> Self {
        let mut monitor = Self::default();
        if let Some(sample) = ResourceSample::now() {
            monitor.usage.rss_kib_start = sample.rss_kib;
            monitor.usage.fds_start = sample.fds;
            monitor.started = true;
            monitor.add(sample);
        }
        monitor
    }

    /// Takes a sample during the run; it counts towards the peaks only.
    pub fn sample(&mut self) {
        if let Some(sample) = ResourceSample::now() {
            self.add(sample);
        }
    }

    /// Takes the end sample and returns the figures.
    pub fn finish(mut self) -> ResourceUsage {
        if let Some(sample) = ResourceSample::now() {
            self.end(sample);
        }
        self.usage
    }

    /// Takes the end sample once the descriptor count has settled: back to the start, or no longer falling for
    /// [`SETTLE_QUIET`], or after `within`, whichever comes first. Tiers that stop without joining their
    /// connection tasks (the gateway's pooled upstream connections close in tasks of their own once the pool is
    /// dropped) close those sockets a moment after `stop` returns; a descriptor still open once the count has
    /// settled is reported, so a leak shows.
    pub async fn finish_settled(mut self, within: Duration) -> ResourceUsage {
        let deadline = tokio::time::Instant::now() + within;
        let Some(mut last) = ResourceSample::now() else {
            return self.usage;
        };
        let mut quiet_since = tokio::time::Instant::now();
        loop {
            let now = tokio::time::Instant::now();
            if last.fds <= self.usage.fds_start
                || now >= deadline
                || now.duration_since(quiet_since) >= SETTLE_QUIET
            {
                self.end(last);
                return self.usage;
            }
            tokio::time::sleep(SETTLE_POLL).await;
            let Some(sample) = ResourceSample::now() else {
                self.end(last);
                return self.usage;
            };
            if sample.fds < last.fds {
                quiet_since = tokio::time::Instant::now();
            }
            last = sample;
        }
    }

    fn end(&mut self, sample: ResourceSample) {
        self.add(sample);
        if self.started {
            self.usage.rss_kib_end = sample.rss_kib;
            self.usage.fds_end = sample.fds;
        }
    }

    /// Folds the peaks of `other` (samples taken elsewhere during the same run) into this monitor.
    pub fn absorb(&mut self, other: &ResourceUsage) {
        self.usage.rss_kib_peak = self.usage.rss_kib_peak.max(other.rss_kib_peak);
        self.usage.fds_peak = self.usage.fds_peak.max(other.fds_peak);
    }

    /// The figures so far.
    pub fn usage(&self) -> ResourceUsage {
        self.usage
    }

    fn add(&mut self, sample: ResourceSample) {
        self.usage.rss_kib_peak = self.usage.rss_kib_peak.max(sample.rss_kib);
        self.usage.fds_peak = self.usage.fds_peak.max(sample.fds);
    }
}

/// When to sample during a run: every tenth of the request budget as records arrive, or every tenth of the
/// duration for a run bounded by time only. Fed by the collector, which sees every record.
#[derive(Debug, Clone)]
pub struct Checkpoints {
    monitor: ResourceMonitor,
    every_records: Option<u64>,
    next_record: u64,
    every: Option<Duration>,
    next_time: Instant,
}

impl Checkpoints {
    /// Checkpoints for a run of `requests` (preferred) or `duration`.
    pub fn new(requests: Option<u64>, duration: Option<Duration>) -> Self {
        let every_records = requests.map(|r| (r / u64::from(DURING_SAMPLES)).max(1));
        let every = match requests {
            Some(_) => None,
            None => duration.map(|d| (d / DURING_SAMPLES).max(Duration::from_millis(1))),
        };
        Self {
            monitor: ResourceMonitor::default(),
            every_records,
            next_record: every_records.unwrap_or(u64::MAX),
            every,
            next_time: Instant::now() + every.unwrap_or(Duration::ZERO),
        }
    }

    /// Called with the count of records so far; samples when a checkpoint is passed.
    pub fn record(&mut self, records: u64) {
        if let Some(step) = self.every_records {
            if records >= self.next_record {
                self.next_record = self.next_record.saturating_add(step);
                self.monitor.sample();
            }
        } else if let Some(step) = self.every
            && Instant::now() >= self.next_time
        {
            self.next_time += step;
            self.monitor.sample();
        }
    }

    /// The peaks of the samples taken (start and end are left 0).
    pub fn peaks(&self) -> ResourceUsage {
        self.monitor.usage()
    }
}

/// `VmRSS:   12345 kB` from `/proc/self/status`.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Entries of `/proc/self/fd`, less the one the listing itself holds open while it runs.
fn open_fds() -> Option<u64> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(entries.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss_in_kib() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t   4321 kB\nThreads:\t2\n";
        assert_eq!(parse_vm_rss(status), Some(4321));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        assert_eq!(parse_vm_rss("VmRSS:\tlots kB\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_open_file_shows_in_the_fd_count_and_the_peak() {
        let mut monitor = ResourceMonitor::start();
        let before = monitor.usage();
        assert!(before.sampled() && before.rss_kib_start > 0);
        let files: Vec<_> = (0..8)
            .map(|_| std::fs::File::open("/proc/self/status").unwrap())
            .collect();
        monitor.sample();
        let during = monitor.usage().fds_peak;
        drop(files);
        // Other tests of this binary open and close files concurrently: compare with a margin.
        assert!(during >= before.fds_start + 4, "{before:?} -> {during}");
        let usage = monitor.finish();
        assert!(usage.fds_peak >= during && usage.rss_kib_end > 0);
    }

    #[test]
    fn checkpoints_fall_every_tenth_of_the_budget() {
        let mut checkpoints = Checkpoints::new(Some(100), None);
        assert_eq!(checkpoints.peaks().fds_peak, 0);
        for records in 1..=9 {
            checkpoints.record(records);
        }
        if cfg!(target_os = "linux") {
            assert_eq!(checkpoints.peaks().fds_peak, 0, "sampled before 10 %");
            checkpoints.record(10);
            assert!(checkpoints.peaks().fds_peak > 0, "no sample at 10 %");
        }
    }

    #[test]
    fn older_json_without_resources_reads_as_zero() {
        let usage: ResourceUsage = serde_json::from_str("{}").unwrap();
        assert!(!usage.sampled());
    }
}
