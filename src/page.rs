//! The HTML report's data, gathered around a run's report: each gate's needs (config), its
//! graduation progress and metric series (history), and the log tails of failures (the cache's
//! `logs/` folder). `report::html` draws it; this module only collects.

use std::collections::BTreeMap;
use std::path::Path;

use time::OffsetDateTime;

use crate::config::Config;
use crate::history::{History, samples};
use crate::report::Report;
use crate::report::html::{self, HtmlData};

/// How many latest runs a sparkline shows.
const SPARK_RUNS: usize = 30;

/// How many lines of a failed gate's log the page shows.
const LOG_LINES: usize = 40;

/// The page for `report`, with what the config and the history say around it.
#[must_use]
pub(crate) fn render(
    config: &Config,
    report: &Report,
    history: &History,
    now: OffsetDateTime,
) -> String {
    html::render(&data(config, report, history, now))
}

/// [`render`] streamed to `out`.
pub(crate) fn write(
    config: &Config,
    report: &Report,
    history: &History,
    now: OffsetDateTime,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    html::write(&data(config, report, history, now), out)
}

/// What the page shows around `report`.
fn data<'a>(
    config: &Config,
    report: &'a Report,
    history: &History,
    now: OffsetDateTime,
) -> HtmlData<'a> {
    let mut data = HtmlData {
        report,
        needs: BTreeMap::new(),
        graduation: BTreeMap::new(),
        logs: BTreeMap::new(),
        series: BTreeMap::new(),
        time_saved: html::TimeSaved::default(),
    };
    // Time saved: each replay's latest executed run, as the history recorded it.
    let replayed: Vec<&str> = report
        .gates
        .iter()
        .filter(|g| g.cached)
        .map(|g| g.name.as_str())
        .collect();
    if !replayed.is_empty() {
        let durations = crate::history::recorded_durations(&config.settings.history);
        data.time_saved.replayed = replayed.len();
        for name in replayed {
            if let Some(ms) = durations.get(name) {
                data.time_saved.ms = data.time_saved.ms.saturating_add(*ms);
                data.time_saved.known += 1;
            }
        }
    }
    let logs = config.settings.cache_dir.join("logs");
    let by_name = config.gates_by_name();
    // Sparklines: the metric values of the gates that have some, over their latest runs.
    let measured: Vec<&str> = report
        .gates
        .iter()
        .filter(|g| !(g.thresholds.is_empty() && g.exports.is_empty()))
        .map(|g| g.name.as_str())
        .collect();
    let recorded = if measured.is_empty() {
        std::collections::HashMap::new()
    } else {
        samples::read_back(
            &config.settings.history,
            Some(&measured),
            SPARK_RUNS,
            samples::Until::Count,
        )
    };
    for g in &report.gates {
        let Some(gate) = by_name.get(g.name.as_str()) else {
            // A report from another config (or an older one): show it without the extras.
            continue;
        };
        if !gate.needs.is_empty() {
            data.needs.insert(g.name.clone(), gate.needs.clone());
        }
        let standing = history.standing(gate, &config.settings, now);
        if let Some(progress) = standing.progress(gate, &config.settings) {
            data.graduation.insert(g.name.clone(), progress);
        }
        if let Some(values) = recorded.get(&g.name) {
            let series: BTreeMap<String, Vec<f64>> = g
                .thresholds
                .iter()
                .map(|t| t.metric.as_str())
                .chain(g.exports.iter().map(|e| e.name.as_str()))
                .map(|m| (m.to_owned(), values.series(m)))
                .filter(|(_, s)| s.len() > 1)
                .collect();
            if !series.is_empty() {
                data.series.insert(g.name.clone(), series);
            }
        }
        if g.status.is_failure() {
            let tail = log_tail(&logs, &g.name);
            if !tail.is_empty() {
                data.logs.insert(g.name.clone(), tail);
            }
        }
    }
    data
}

fn log_tail(logs: &Path, gate: &str) -> String {
    crate::proc::tail::log_tail(&logs.join(format!("{gate}.log")), LOG_LINES)
}
