//! `runner report merge`: combine the reports of `--shard K/N` runs into one report.
//!
//! A gate can appear in several shard reports: its owner ran it, and other shards replayed it
//! from the cache because a gate of theirs needs it. The merged report keeps, per gate, the
//! entry that actually ran (executed before cached before not run or skipped) and, between
//! equals, the worse status. Summary, labels and exit code are recomputed from that.

use std::collections::HashMap;

use super::{GateReport, Report};
use crate::vocab::Status;
// The label prefixes `Report::from_gates` gives observational gates that failed and flaky
// passes (both recomputed); a label shortened to GitHub's limit keeps its prefix.
use crate::vocab::label::{FLAKY_PREFIX as FLAKY, SMOKE_FAILED_PREFIX as SMOKE_FAILED};

/// Merge reports; None when there are none.
#[must_use]
pub fn merge(reports: &[Report]) -> Option<Report> {
    let first = reports.first()?;
    let mut gates: Vec<GateReport> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    let mut other_labels: Vec<String> = Vec::new();
    for report in reports {
        for gate in &report.gates {
            match at.get(&gate.name) {
                Some(&i) => {
                    if preference(gate) > preference(&gates[i]) {
                        gates[i] = gate.clone();
                    }
                }
                None => {
                    at.insert(gate.name.clone(), gates.len());
                    gates.push(gate.clone());
                }
            }
        }
        for label in report
            .labels
            .iter()
            .filter(|l| !l.starts_with(SMOKE_FAILED) && !l.starts_with(FLAKY))
        {
            if !other_labels.contains(label) {
                other_labels.push(label.clone());
            }
        }
    }
    let started_at = reports
        .iter()
        .map(|r| r.started_at.as_str())
        .min_by(|a, b| match (parse_time(a), parse_time(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => a.cmp(b),
        })
        .unwrap_or(&first.started_at)
        .to_owned();
    let duration_ms = reports.iter().map(|r| r.duration_ms).max().unwrap_or(0);
    let mut merged = Report::from_gates(gates, &started_at, u128::from(duration_ms));
    other_labels.append(&mut merged.labels);
    merged.labels = other_labels;
    Some(merged)
}

/// Which of two entries of one gate to keep: the larger wins.
fn preference(g: &GateReport) -> (u8, u8) {
    let tier = match (g.cached, g.status) {
        (false, Status::Pass | Status::Fail | Status::Error) => 2,
        (true, _) => 1,
        (false, Status::Skip | Status::NotRun) => 0,
    };
    (tier, severity(g.status))
}

fn severity(s: Status) -> u8 {
    match s {
        Status::Pass => 0,
        Status::Skip => 1,
        Status::NotRun => 2,
        Status::Fail => 3,
        Status::Error => 4,
    }
}

fn parse_time(t: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Summary;
    use crate::vocab::{Mode, exit_code};

    fn gate(name: &str, status: Status, cached: bool, mode: Mode) -> GateReport {
        GateReport {
            why: None,
            ran: None,
            undeclared_reads: Vec::new(),
            flaky: false,
            attempts: 1,
            tests: Vec::new(),
            description: None,
            guard: None,
            findings: Vec::new(),
            name: name.into(),
            kind: "command".into(),
            status,
            mode,
            configured_mode: mode,
            cached,
            duration_ms: 1,
            key: None,
            reason: None,
            artifacts: Vec::new(),
            thresholds: Vec::new(),
            exports: Vec::new(),
        }
    }

    fn report(started_at: &str, duration_ms: u64, gates: Vec<GateReport>) -> Report {
        Report {
            outcome: crate::vocab::exit_code::Outcome::Pass,
            version: 1,
            exit_code: 0,
            started_at: started_at.into(),
            duration_ms,
            summary: Summary::default(),
            labels: Vec::new(),
            gates,
        }
    }

    #[test]
    fn prefers_the_entry_that_ran_then_the_worse_status() {
        use Mode::{Blocking, Observational};
        use Status::{Fail, NotRun, Pass};
        let a = report(
            "2026-11-24T10:00:05Z",
            100,
            vec![
                gate("build", Pass, false, Blocking),
                gate("lint", Pass, true, Blocking),
                gate("smoke", Fail, false, Observational),
            ],
        );
        let b = report(
            "2026-11-24T09:59:59+00:00",
            300,
            vec![
                gate("build", Pass, true, Blocking),
                gate("lint", Fail, false, Blocking),
                gate("e2e", NotRun, false, Blocking),
            ],
        );
        let c = report(
            "2026-11-24T10:01:00Z",
            200,
            vec![gate("e2e", Pass, true, Blocking)],
        );
        let m = merge(&[a, b, c]).unwrap();
        let get = |n: &str| m.gates.iter().find(|g| g.name == n).unwrap();
        assert_eq!(m.gates.len(), 4);
        assert!(
            !get("build").cached,
            "the run that executed wins over the replay"
        );
        assert_eq!(
            get("lint").status,
            Fail,
            "the executed lint run wins over the cached pass"
        );
        assert_eq!(
            (get("e2e").status, get("e2e").cached),
            (Pass, true),
            "a replay beats not_run"
        );
        assert_eq!(
            m.summary,
            Summary {
                pass: 2,
                fail: 2,
                skip: 0,
                error: 0,
                not_run: 0,
                cached: 1
            }
        );
        assert_eq!(m.labels, vec!["smoke-failed:smoke".to_owned()]);
        assert_eq!(m.exit_code, exit_code::GATES_FAILED);
        assert_eq!(m.started_at, "2026-11-24T09:59:59+00:00");
        assert_eq!(m.duration_ms, 300);
    }

    #[test]
    fn flaky_labels_are_recomputed_not_repeated() {
        let flaky = GateReport {
            flaky: true,
            attempts: 2,
            ..gate("e2e", Status::Pass, false, Mode::Blocking)
        };
        let mut a = report("t", 1, vec![flaky.clone()]);
        a.labels = vec!["flaky:e2e".to_owned(), "custom".to_owned()];
        // The other shard replayed it: the entry that ran (and flaked) is kept, labelled once.
        let mut b = report(
            "t",
            1,
            vec![gate("e2e", Status::Pass, true, Mode::Blocking)],
        );
        b.labels = vec!["flaky:e2e".to_owned()];
        let m = merge(&[a, b]).unwrap();
        assert_eq!(m.gates, vec![flaky]);
        assert_eq!(m.labels, vec!["custom".to_owned(), "flaky:e2e".to_owned()]);
    }

    #[test]
    fn worse_status_between_two_executions() {
        let a = report("t", 1, vec![gate("x", Status::Pass, false, Mode::Blocking)]);
        let b = report(
            "t",
            1,
            vec![gate("x", Status::Error, false, Mode::Blocking)],
        );
        let m = merge(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(m.gates[0].status, Status::Error);
        let m = merge(&[b, a]).unwrap();
        assert_eq!(m.gates[0].status, Status::Error);
        assert!(merge(&[]).is_none());
    }

    #[test]
    fn shortened_smoke_labels_are_recomputed_once() {
        let long = "observational-end-to-end-latency-check-eu-west-1";
        let failed = || gate(long, Status::Fail, false, Mode::Observational);
        let mut a = report("t", 1, vec![failed()]);
        a.labels = vec![
            crate::vocab::Label::SmokeFailed(long.to_owned()).to_string(),
            "needs-review".to_owned(),
        ];
        let mut b = report("t", 1, vec![failed()]);
        b.labels.clone_from(&a.labels);
        let m = merge(&[a, b]).unwrap();
        let want = crate::vocab::Label::SmokeFailed(long.to_owned()).to_string();
        assert!(want.len() <= 50 && want.starts_with(SMOKE_FAILED), "{want}");
        assert_eq!(m.labels, vec!["needs-review".to_owned(), want]);
    }
}
