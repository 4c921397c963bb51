//! Reports: the text tables, the SVG charts and the HTML page, all made from the same
//! [`RunResult`](crate::result::RunResult) / [`SweepResult`](crate::sweep::curve::SweepResult) the JSON is written from.

mod charts;
mod html;
pub mod ladder;
mod ladder_svg;
mod percentiles;
mod probe_table;
mod series;
mod table;
mod window;

pub use charts::{causes_chart, latency_chart};
pub use html::{ReportInput, escape, html_report};
pub use ladder::ladder;
pub use ladder_svg::timelines_section;
pub use percentiles::percentile_chart;
pub use probe_table::{probe_page, probe_table};
pub use table::{comparison_table, run_table, sweep_table};
pub use window::{run_window_chart, sweep_window_chart};
