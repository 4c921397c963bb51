//! The race-window chart, one for every page that has one: P(502) per bin with its 95 % interval, one series
//! per source, and the back's KeepAliveTimeout as a dashed vertical line. A sweep draws its bins against the
//! gap's offset from the timeout ([`sweep_window_chart`]); a run or a compare cell draws its own
//! `race_window` against the clients' measured idle gap ([`run_window_chart`]). Both go through
//! [`window_chart`], so the two cannot drift apart. Beside others, a series with no 502 in any bin is a thin
//! line without intervals or markers, named "(no 502 at any gap)", so that it does not hide the race curve.

use plotters::prelude::*;

use super::charts::{ChartError, HEIGHT, WIDTH, failed};
use super::series::{SeriesStyle, legend_below_flat, legend_height};
use crate::result::RunResult;
use crate::sweep::curve::SweepResult;

/// One bin as drawn: its x, P(502) and the interval.
#[derive(Debug, Clone, Copy)]
struct Point {
    x: f64,
    p: f64,
    low: f64,
    high: f64,
}

/// One series: its style (the run's place on the page), a name for the legend and its points.
struct Series {
    style: usize,
    name: String,
    points: Vec<Point>,
}

impl Series {
    /// No 502 in any bin: drawn as a thin line without intervals.
    fn flat(&self) -> bool {
        self.points.iter().all(|p| p.p == 0.0)
    }
}

/// The axes and the vertical lines of one chart.
struct Frame<'a> {
    caption: String,
    x_desc: &'a str,
    /// Where the KeepAliveTimeout lies on the x axis, one line per distinct value.
    timeouts: Vec<f64>,
    /// Where the race is expected on the x axis, `(start, end)`, shaded; one per distinct window.
    expected: Vec<(f64, f64)>,
}

/// Whether any of `results` has a race window (a load with idle gaps on reused connections).
pub fn has_race_window(results: &[RunResult]) -> bool {
    results.iter().any(|r| r.race_window.is_some())
}

/// A sweep's curve: P(502) against the gap's offset from the back's keep-alive timeout.
pub fn sweep_window_chart(sweep: &SweepResult) -> Result<String, ChartError> {
    let series = Series {
        style: 0,
        name: sweep.scenario.clone(),
        points: sweep
            .bins
            .iter()
            .map(|b| Point {
                x: b.offset_ms,
                p: b.probability,
                low: b.ci_low,
                high: b.ci_high,
            })
            .collect(),
    };
    window_chart(
        &Frame {
            caption: format!(
                "race window: P(502) vs idle gap - KeepAliveTimeout ({} ms)",
                sweep.keepalive_timeout_ms
            ),
            x_desc: "offset of the idle gap from the back's keep-alive timeout (ms)",
            timeouts: vec![0.0],
            expected: Vec::new(),
        },
        &[series],
    )
}

/// The race window of every run that has one: P(502) against the measured idle gap.
pub fn run_window_chart(results: &[RunResult]) -> Result<String, ChartError> {
    let mut timeouts: Vec<f64> = Vec::new();
    let mut expected: Vec<(f64, f64)> = Vec::new();
    let series: Vec<Series> = results
        .iter()
        .enumerate()
        .filter_map(|(style, run)| {
            let window = run.race_window.as_ref()?;
            if let Some(timeout) = window.keepalive_timeout_ms
                && !timeouts.contains(&timeout)
            {
                timeouts.push(timeout);
            }
            if let (Some(timeout), Some(round_trip)) =
                (window.keepalive_timeout_ms, window.link_round_trip_ms)
                && round_trip > 0.0
                && !expected.contains(&(timeout - round_trip, timeout))
            {
                expected.push((timeout - round_trip, timeout));
            }
            Some(Series {
                style,
                name: run.scenario.clone(),
                points: window
                    .bins
                    .iter()
                    .map(|b| Point {
                        x: b.gap_ms_mid(),
                        p: b.p,
                        low: b.p_low,
                        high: b.p_high,
                    })
                    .collect(),
            })
        })
        .collect();
    window_chart(
        &Frame {
            caption: "race window: P(502) vs the client's measured idle gap".to_owned(),
            x_desc: "idle gap before the request on its connection (ms); dashed: the back's KeepAliveTimeout; \
                     shaded: where the race is expected",
            timeouts,
            expected,
        },
        &series,
    )
}

fn window_chart(frame: &Frame<'_>, series: &[Series]) -> Result<String, ChartError> {
    let xs = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.x))
        .chain(frame.timeouts.iter().copied())
        .chain(frame.expected.iter().map(|&(start, _)| start));
    let (low, high) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| {
        (l.min(x), h.max(x))
    });
    let (low, high) = if low.is_finite() && high > low {
        (low, high)
    } else {
        (low.min(0.0) - 1.0, high.max(0.0) + 1.0)
    };
    // Beside a race curve, a series with no 502 at all is a thin line: its intervals would only hide the
    // curve. Alone, it keeps them (they bound how rare the 502 is).
    let thin = |s: &Series| series.len() > 1 && s.flat();
    let pad = (high - low) * 0.05;
    // Several series side by side: each moved a little, so that no interval hides another.
    let dodge = (high - low) * 0.004;
    let centre = (series.iter().filter(|s| !thin(s)).count().max(1) - 1) as f64 / 2.0;
    // The axis fits the drawn intervals: a series without a 502 draws none.
    let top = series
        .iter()
        .filter(|s| !thin(s))
        .flat_map(|s| s.points.iter().map(|p| p.high))
        .fold(0.05_f64, f64::max);
    let top = ((top * 1.1 * 20.0).ceil() / 20.0).min(1.0);
    let names: Vec<(usize, String, bool)> = series
        .iter()
        .map(|s| {
            let name = if thin(s) {
                format!("{} (no 502 at any gap)", s.name)
            } else {
                s.name.clone()
            };
            (s.style, name, thin(s))
        })
        .collect();
    let legend = legend_height(names.len());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT + legend)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let (plot, below) = root.split_vertically(HEIGHT);
        let mut chart = ChartBuilder::on(&plot)
            .caption(&frame.caption, ("sans-serif", 18))
            .margin(12)
            .margin_right(40)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d((low - pad)..(high + pad), 0.0..top)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .x_desc(frame.x_desc)
            .y_desc("P(502), 95 % interval")
            .draw()
            .map_err(failed)?;
        for &(start, end) in &frame.expected {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(start, 0.0), (end, top)],
                    RGBColor(255, 215, 120).mix(0.35).filled(),
                )))
                .map_err(failed)?;
        }
        for timeout in &frame.timeouts {
            chart
                .draw_series(DashedLineSeries::new(
                    [(*timeout, 0.0), (*timeout, top)],
                    6,
                    4,
                    BLACK.stroke_width(1),
                ))
                .map_err(failed)?;
        }
        // No 502 at any gap: a thin line along zero, under the race curves, with no error bars or markers
        // to hide them.
        for one in series.iter().filter(|s| thin(s)) {
            chart
                .draw_series(LineSeries::new(
                    one.points.iter().map(|b| (b.x, b.p)),
                    SeriesStyle::of(one.style).colour.mix(0.6).stroke_width(1),
                ))
                .map_err(failed)?;
        }
        for (index, one) in series.iter().filter(|s| !thin(s)).enumerate() {
            let style = SeriesStyle::of(one.style);
            let shift = (index as f64 - centre) * dodge;
            chart
                .draw_series(one.points.iter().map(|b| {
                    ErrorBar::new_vertical(
                        b.x + shift,
                        b.low,
                        b.p,
                        b.high,
                        style.colour.stroke_width(1),
                        6,
                    )
                }))
                .map_err(failed)?;
            chart
                .draw_series(LineSeries::new(
                    one.points.iter().map(|b| (b.x + shift, b.p)),
                    style.colour.stroke_width(2),
                ))
                .map_err(failed)?;
            for point in &one.points {
                style.draw_marker(&root, chart.backend_coord(&(point.x + shift, point.p)))?;
            }
        }
        legend_below_flat(&below, &names)?;
        root.present().map_err(failed)?;
    }
    Ok(svg)
}
