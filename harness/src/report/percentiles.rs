//! The latency distribution chart: one curve per run from its `latency_percentiles`, drawn as HdrHistogram's
//! plots are. The x axis is the percentile on a log scale of 1/(1-p) (ticks 0 %, 90 %, 99 %, 99.9 %, ...), so
//! the tail gets as much room as the body; y is the latency in ms. The 100 % point (the largest latency) sits
//! at 1 - 1/requests, the rank of the one slowest request.

use plotters::prelude::*;

use super::charts::{ChartError, HEIGHT, WIDTH, failed};
use super::series::{SeriesStyle, legend_below, legend_height};
use crate::result::RunResult;

/// The fewest decades on the x axis: up to 99 %.
const MIN_DECADES: f64 = 2.0;

/// Where a percentile lies on the x axis: log10(1/(1-p)), the 100 % point at the rank of the slowest request.
fn x_of(percentile: f64, requests: u64) -> f64 {
    let tail = (1.0 - percentile / 100.0).max(1.0 / requests.max(1) as f64);
    -tail.log10()
}

/// The tick label of `x`: "99.9 %" for 3; none between decades.
fn tick_label(x: &f64) -> String {
    let decades = x.round();
    if (x - decades).abs() > 1e-6 || decades < 0.0 {
        return String::new();
    }
    let percent = 100.0 * (1.0 - 10f64.powf(-decades));
    let decimals = (decades as usize).saturating_sub(2);
    format!("{percent:.decimals$} %")
}

/// Whether any of `results` has a latency distribution to draw (files written before the field have none).
pub fn has_percentiles(results: &[RunResult]) -> bool {
    results.iter().any(|r| !r.latency_percentiles.is_empty())
}

/// The chart of every run with a latency distribution.
pub fn percentile_chart(results: &[RunResult]) -> Result<String, ChartError> {
    // Each run keeps its place among the page's runs: its colour and marker.
    let runs: Vec<(usize, &RunResult)> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.latency_percentiles.is_empty())
        .collect();
    let names: Vec<(usize, String)> = runs.iter().map(|(i, r)| (*i, r.scenario.clone())).collect();
    let decades = runs
        .iter()
        .flat_map(|(_, r)| {
            r.latency_percentiles
                .iter()
                .map(move |p| x_of(p.percentile, r.requests))
        })
        .fold(MIN_DECADES, f64::max)
        .ceil();
    let top = runs
        .iter()
        .flat_map(|(_, r)| r.latency_percentiles.iter().map(|p| p.ms))
        .fold(0.001_f64, f64::max)
        * 1.1;
    let legend = legend_height(names.len());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT + legend)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let (plot, below) = root.split_vertically(HEIGHT);
        let mut chart = ChartBuilder::on(&plot)
            .caption(
                "latency distribution by percentile (ms)",
                ("sans-serif", 18),
            )
            .margin(12)
            .margin_right(40)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..decades, 0.0..top)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .x_labels(decades as usize + 1)
            .x_label_formatter(&tick_label)
            .x_desc("percentile (log scale of 1 / (1 - p))")
            .y_desc("ms")
            .draw()
            .map_err(failed)?;
        for (index, run) in &runs {
            let style = SeriesStyle::of(*index);
            let points: Vec<(f64, f64)> = run
                .latency_percentiles
                .iter()
                .map(|p| (x_of(p.percentile, run.requests), p.ms))
                .collect();
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    style.colour.stroke_width(2),
                ))
                .map_err(failed)?;
            for point in &points {
                style.draw_marker(&root, chart.backend_coord(point))?;
            }
        }
        legend_below(&below, &names)?;
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_reads_as_percentiles_and_the_max_sits_at_the_slowest_rank() {
        assert_eq!(tick_label(&0.0), "0 %");
        assert_eq!(tick_label(&1.0), "90 %");
        assert_eq!(tick_label(&2.0), "99 %");
        assert_eq!(tick_label(&3.0), "99.9 %");
        assert_eq!(tick_label(&5.0), "99.999 %");
        assert_eq!(tick_label(&2.5), "");
        assert!((x_of(99.0, 10_000) - 2.0).abs() < 1e-9);
        assert!((x_of(100.0, 1000) - 3.0).abs() < 1e-9);
        assert_eq!(x_of(0.0, 1), 0.0);
    }
}
