//! The page's wire stories: every kept timeline of every run as an SVG ladder (gateway, link and back as three
//! vertical lines; each event a row; each link crossing an arrow from the row it entered the link to the row
//! it left it), the first few expanded. `html.rs` calls [`timelines_section`] once; the rows and labels are
//! `ladder.rs`'s.

use std::fmt::Write as _;

use timeline::{Direction, EventKind};

use super::escape;
use super::ladder::{explain, front_name, headline, label};
use crate::result::RunResult;
use crate::timelines::{Tier, Timeline, TimelineEvent};

/// Timelines shown expanded on the page; the others are folded.
pub const EXPANDED: usize = 3;

/// Rows an SVG ladder draws at most (the JSON holds every event).
const MAX_ROWS: usize = 40;

const WIDTH: usize = 960;
const ROW: usize = 20;
const TOP: usize = 40;
const GATEWAY_X: usize = 300;
const LINK_X: usize = 500;
const BACK_X: usize = 640;

/// The section, empty when no run kept a timeline.
pub fn timelines_section(runs: &[RunResult]) -> String {
    let mut section = String::new();
    let mut shown = 0;
    for run in runs {
        for timeline in &run.timelines {
            if shown == 0 {
                section.push_str("<h2>Wire stories of the failed requests</h2>\n");
            }
            let open = if shown < EXPANDED {
                " open=\"open\""
            } else {
                ""
            };
            let _ = write!(
                section,
                "<details class=\"timeline\"{open}>\n<summary>{}: {}</summary>\n{}\n<p>{}</p>\n</details>\n",
                escape(&run.scenario),
                escape(&headline(timeline)),
                ladder_svg(timeline, shown),
                escape(&explain(timeline))
            );
            shown += 1;
        }
    }
    section
}

/// One timeline as an SVG ladder; `index` keeps its element ids unique on the page.
pub fn ladder_svg(timeline: &Timeline, index: usize) -> String {
    let rows: Vec<&TimelineEvent> = timeline.events.iter().take(MAX_ROWS).collect();
    let height = TOP + ROW * (rows.len() + 1);
    let marker = format!("arrow{index}");
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"12\">\
         <defs><marker id=\"{marker}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" \
         markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#c0392b\"/>\
         </marker></defs>"
    );
    for (x, name) in [
        (GATEWAY_X, front_name(timeline).to_owned()),
        (LINK_X, format!("link ({:.1} ms)", timeline.link_latency_ms)),
        (BACK_X, "back".to_owned()),
    ] {
        let dash = if x == LINK_X {
            " stroke-dasharray=\"4 3\""
        } else {
            ""
        };
        let _ = write!(
            svg,
            "<text x=\"{x}\" y=\"16\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>\
             <line x1=\"{x}\" y1=\"24\" x2=\"{x}\" y2=\"{}\" stroke=\"#555\"{dash}/>",
            escape(&name),
            height - 8
        );
    }
    for (row, event) in rows.iter().enumerate() {
        let y = TOP + ROW * row;
        let _ = write!(
            svg,
            "<text x=\"4\" y=\"{}\" fill=\"#555\">{:+.3} ms</text>",
            y + 4,
            event.t_ms
        );
        if let Some((from_row, from_x, to_x)) = crossing(&rows, row) {
            let _ = write!(
                svg,
                "<line x1=\"{from_x}\" y1=\"{}\" x2=\"{to_x}\" y2=\"{y}\" stroke=\"#c0392b\" \
                 marker-end=\"url(#{marker})\"/>",
                TOP + ROW * from_row
            );
        }
        let (x, anchor, dx) = match event.tier {
            Tier::Gateway => (GATEWAY_X, "end", -8),
            Tier::Link => (LINK_X, "middle", 0),
            Tier::Back => (BACK_X, "start", 8),
        };
        let text_y = if event.tier == Tier::Link {
            y - 4
        } else {
            y + 4
        };
        let _ = write!(
            svg,
            "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"#222\"/>\
             <text x=\"{}\" y=\"{text_y}\" text-anchor=\"{anchor}\">{}</text>",
            x as i64 + dx,
            escape(&label(event))
        );
    }
    svg.push_str("</svg>");
    svg
}

/// For a link delivery at `row`: the row where the segment entered the link and the two columns it crosses.
fn crossing(rows: &[&TimelineEvent], row: usize) -> Option<(usize, usize, usize)> {
    let EventKind::Delivered {
        dir,
        segment,
        bytes,
        ..
    } = rows[row].what
    else {
        return None;
    };
    let from_row = rows[..row].iter().rposition(|event| {
        event.what
            == EventKind::Received {
                dir,
                segment,
                bytes,
            }
    })?;
    Some(match dir {
        Direction::ToBack => (from_row, GATEWAY_X, BACK_X),
        Direction::ToFront => (from_row, BACK_X, GATEWAY_X),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ladder::tests::race;

    #[test]
    fn a_crossing_is_an_arrow_and_every_event_a_labelled_row() {
        let timeline = race();
        let svg = ladder_svg(&timeline, 7);
        let parsed = roxmltree::Document::parse(&svg).expect("well-formed SVG");
        let texts: Vec<&str> = parsed
            .descendants()
            .filter(|node| node.has_tag_name("text"))
            .filter_map(|node| node.text())
            .collect();
        assert!(texts.contains(&"reads EOF"), "{texts:?}");
        let arrows = parsed
            .descendants()
            .filter(|node| node.has_tag_name("line") && node.attribute("marker-end").is_some())
            .count();
        assert_eq!(arrows, 1, "the FIN's crossing");
        assert!(svg.contains("id=\"arrow7\""));
    }

    #[test]
    fn the_section_expands_the_first_few_and_folds_the_rest() {
        let mut run: RunResult = serde_json::from_value(serde_json::json!({
            "scenario": "race", "settings": null, "requests": 10, "responses": {"502": 10},
            "client_errors": {}, "causes": {"reused-closed": 10},
            "latency_ms": {"p50": 1.0, "p90": 1.0, "p99": 1.0, "max": 1.0},
            "throughput_rps": 1.0, "upstream_connections": 1, "retries": 0, "unaccounted": 0,
            "duration_s": 1.0, "seed": 1
        }))
        .expect("the contract parses");
        run.timelines = vec![race(); EXPANDED + 2];
        let section = timelines_section(std::slice::from_ref(&run));
        let page = format!("<body xmlns=\"http://www.w3.org/1999/xhtml\">{section}</body>");
        let parsed = roxmltree::Document::parse(&page).expect("well-formed XHTML");
        let details: Vec<bool> = parsed
            .descendants()
            .filter(|node| node.has_tag_name("details"))
            .map(|node| node.attribute("open").is_some())
            .collect();
        assert_eq!(details.len(), EXPANDED + 2);
        assert_eq!(details.iter().filter(|open| **open).count(), EXPANDED);
        assert!(details[0] && !details[EXPANDED]);
        assert_eq!(timelines_section(&[]), "");
    }
}
