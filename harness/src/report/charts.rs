//! SVG charts (plotters) for the HTML report: latency percentiles per run, 502 by cause per run, and the
//! race-window curve of a sweep. Each function returns a standalone `<svg>` string.

use plotters::prelude::*;

use crate::record::CauseKey;
use crate::result::RunResult;
use crate::sweep::curve::SweepResult;

const WIDTH: u32 = 900;
const HEIGHT: u32 = 420;

/// Picks one latency figure out of a result.
type Percentile = fn(&RunResult) -> f64;

/// A chart could not be drawn (plotters' error, as text).
pub type ChartError = String;

fn failed<E: std::fmt::Debug>(error: E) -> ChartError {
    format!("chart: {error:?}")
}

/// p50, p90, p99 and max latency of every run, one line per percentile across the runs.
pub fn latency_chart(results: &[RunResult]) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let top = results
            .iter()
            .map(|r| r.latency_ms.max.max(r.latency_ms.p99))
            .fold(1.0_f64, f64::max)
            * 1.1;
        let runs = results.len().max(1) as i32;
        let mut chart = ChartBuilder::on(&root)
            .caption("latency by run (ms)", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(-1..runs, 0.0..top)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .x_labels(results.len().max(1))
            .x_label_formatter(&|i| format!("#{}", i + 1))
            .x_desc("run (see the table for names)")
            .y_desc("ms")
            .draw()
            .map_err(failed)?;
        let series: [(&str, Percentile, RGBColor); 4] = [
            ("p50", |r| r.latency_ms.p50, BLUE),
            ("p90", |r| r.latency_ms.p90, GREEN),
            ("p99", |r| r.latency_ms.p99, RED),
            ("max", |r| r.latency_ms.max, BLACK),
        ];
        for (name, value, color) in series {
            let points: Vec<(i32, f64)> = results
                .iter()
                .enumerate()
                .map(|(i, r)| (i as i32, value(r)))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(failed)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 3, color.filled())),
                )
                .map_err(failed)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(failed)?;
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

/// 502 per 10k requests of every run, stacked by cause.
pub fn causes_chart(results: &[RunResult]) -> Result<String, ChartError> {
    let mut causes: Vec<&CauseKey> = results.iter().flat_map(|r| r.causes.keys()).collect();
    causes.sort();
    causes.dedup();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let top = results
            .iter()
            .map(RunResult::bad_gateways_per_10k)
            .fold(1.0_f64, f64::max)
            * 1.15;
        let runs = results.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption("502 per 10k requests, by cause", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.6..(runs - 0.4), 0.0..top)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .x_labels(results.len().max(1))
            .x_label_formatter(&|x| format!("#{}", x.round() as i64 + 1))
            .y_desc("502 / 10k")
            .draw()
            .map_err(failed)?;
        for (index, cause) in causes.iter().enumerate() {
            let color = Palette99::pick(index).to_rgba();
            let rectangles = results.iter().enumerate().filter_map(|(run, result)| {
                let below: f64 = causes[..index].iter().map(|c| per_10k(result, c)).sum();
                let height = per_10k(result, cause);
                (height > 0.0).then(|| {
                    let x = run as f64;
                    Rectangle::new(
                        [(x - 0.3, below), (x + 0.3, below + height)],
                        color.filled(),
                    )
                })
            });
            chart
                .draw_series(rectangles)
                .map_err(failed)?
                .label(cause.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        if !causes.is_empty() {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(failed)?;
        }
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

fn per_10k(result: &RunResult, cause: &CauseKey) -> f64 {
    if result.requests == 0 {
        return 0.0;
    }
    result.causes.get(cause).copied().unwrap_or(0) as f64 * 10_000.0 / result.requests as f64
}

/// P(502) against the idle gap's offset from the back's keep-alive timeout, with 95 % intervals.
pub fn race_window_chart(sweep: &SweepResult) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let low = sweep
            .bins
            .iter()
            .map(|b| b.offset_ms)
            .fold(f64::INFINITY, f64::min);
        let high = sweep
            .bins
            .iter()
            .map(|b| b.offset_ms)
            .fold(f64::NEG_INFINITY, f64::max);
        let (low, high) = if low.is_finite() && high > low {
            (low, high)
        } else {
            (-1.0, 1.0)
        };
        let pad = (high - low) * 0.05;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "race window: P(502) vs idle gap - KeepAliveTimeout ({} ms)",
                    sweep.keepalive_timeout_ms
                ),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((low - pad)..(high + pad), 0.0..1.0)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .x_desc("offset of the idle gap from the back's keep-alive timeout (ms)")
            .y_desc("P(502)")
            .draw()
            .map_err(failed)?;
        chart
            .draw_series(sweep.bins.iter().map(|b| {
                ErrorBar::new_vertical(
                    b.offset_ms,
                    b.ci_low,
                    b.probability,
                    b.ci_high,
                    RED.filled(),
                    6,
                )
            }))
            .map_err(failed)?;
        chart
            .draw_series(LineSeries::new(
                sweep.bins.iter().map(|b| (b.offset_ms, b.probability)),
                BLUE.stroke_width(2),
            ))
            .map_err(failed)?;
        root.present().map_err(failed)?;
    }
    Ok(svg)
}
