//! Judging a metric against its baseline: the statistic (median by default) of its values in
//! the latest passing runs on the baseline branch, on comparable machines only.
//!
//! The rules, in one place (the history gathers the samples, this module judges them):
//!
//! - A *sample* is the metric's value in one earlier run where the gate passed, ran (a replay
//!   from the cache measured nothing new), on the baseline branch, after the gate's last
//!   `runner baseline accept`. Failed runs never enter a baseline, so a regression cannot
//!   become the new normal by failing often enough.
//! - Only samples from a machine with the run's fingerprint (CPU model, cores, OS, runner
//!   version) are compared; the latest `window` of them make the baseline.
//! - The limit is the baseline scaled (`baseline * 1.10`) or shifted (`baseline + 2`). A value
//!   within `min_delta` of the baseline never fails, whatever the limit says.
//! - With fewer than `min_samples` comparable samples the threshold is judged and reported, but
//!   only observed: it cannot fail the gate, and says so. With none, there is no limit at all.

use serde::Serialize;

use crate::config::threshold_expr::Op;
use crate::config::{BaselineThreshold, Statistic};

/// One earlier value of a metric, and the machine that measured it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub value: f64,
    /// The machine fingerprint of the run that measured it.
    pub machine: String,
}

/// What the history holds for one baseline threshold of a gate, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct BaselineSamples {
    /// The branch whose runs these are.
    pub branch: String,
    /// This run's machine fingerprint.
    pub machine: String,
    /// Every eligible sample (passing, not replayed, on `branch`, since the last accept).
    pub samples: Vec<Sample>,
}

/// A baseline threshold as judged, for the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct BaselineJudgement {
    /// The expression, as `<= baseline * 1.1`.
    pub expr: String,
    /// How the samples were summed up.
    pub statistic: &'static str,
    /// The branch the baseline comes from.
    pub branch: String,
    /// How many latest comparable samples the baseline may use.
    pub window: u32,
    /// How many it used.
    pub samples: usize,
    /// Below this many the threshold is only observed.
    pub min_samples: u32,
    /// Samples left out because another machine measured them.
    pub other_machines: usize,
    /// The baseline; None when no comparable sample exists.
    pub value: Option<f64>,
    /// The value's change against the baseline, in percent; None without a baseline (or one
    /// of 0).
    pub change_pct: Option<f64>,
    /// The limit held, or the change was within `min_delta`.
    pub holds: bool,
    /// The threshold cannot fail the gate: too few comparable samples.
    pub observed_only: bool,
    /// Why it is only observed, or why a broken limit did not fail (`min_delta`), in words.
    pub note: Option<String>,
}

/// A statistic of `values`; None when there are none.
#[must_use]
pub(crate) fn statistic(stat: Statistic, values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    Some(match stat {
        Statistic::Median if n % 2 == 1 => sorted[n / 2],
        Statistic::Median => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        Statistic::Mean => sorted.iter().sum::<f64>() / n as f64,
        Statistic::Min => sorted[0],
        Statistic::Max => sorted[n - 1],
    })
}

/// Judge `value` (the metric in this run) against the baseline the samples make. Returns the
/// limit (None without a baseline), whether the threshold passes, and the judgement.
#[must_use]
pub(crate) fn judge(
    rule: &BaselineThreshold,
    value: f64,
    input: &BaselineSamples,
) -> (Option<f64>, bool, BaselineJudgement) {
    let comparable: Vec<f64> = input
        .samples
        .iter()
        .filter(|s| s.machine == input.machine)
        .map(|s| s.value)
        .collect();
    let other_machines = input.samples.len() - comparable.len();
    let window = usize::try_from(rule.window).unwrap_or(usize::MAX);
    let used = &comparable[comparable.len().saturating_sub(window)..];
    let mut judgement = BaselineJudgement {
        expr: rule.expr.to_string(),
        statistic: rule.statistic.as_str(),
        branch: input.branch.clone(),
        window: rule.window,
        samples: used.len(),
        min_samples: rule.min_samples,
        other_machines,
        value: None,
        change_pct: None,
        holds: true,
        observed_only: true,
        note: None,
    };
    let Some(base) = statistic(rule.statistic, used) else {
        judgement.note = Some(if other_machines > 0 {
            format!(
                "no comparable baseline: the {other_machines} passing run{} on {} ran on other machines; observed only",
                plural(other_machines),
                input.branch
            )
        } else {
            format!(
                "no baseline yet: no passing run on {} to compare with; observed only",
                input.branch
            )
        });
        return (None, true, judgement);
    };
    let limit = rule.expr.scale.limit(base);
    let within_limit = rule.expr.op.holds(value, limit);
    let within_delta = (value - base).abs() <= rule.min_delta;
    judgement.value = Some(base);
    judgement.change_pct = (base != 0.0).then(|| (value - base) / base.abs() * 100.0);
    judgement.holds = within_limit || within_delta;
    judgement.observed_only = used.len() < usize::try_from(rule.min_samples).unwrap_or(usize::MAX);
    if judgement.observed_only {
        judgement.note = Some(format!(
            "{} comparable sample{}, fewer than min_samples {}: observed only",
            used.len(),
            plural(used.len()),
            rule.min_samples
        ));
    } else if !within_limit && within_delta {
        judgement.note = Some(format!(
            "within min_delta {} of the baseline",
            crate::judge::fmt_num(rule.min_delta)
        ));
    }
    let pass = judgement.holds || judgement.observed_only;
    (Some(limit), pass, judgement)
}

/// The reason of a failed baseline threshold: the value, the change, the baseline and where it
/// comes from, and the limit.
#[must_use]
pub(crate) fn reason(
    metric: &str,
    op: Op,
    value: f64,
    limit: f64,
    j: &BaselineJudgement,
) -> String {
    let people = crate::vocab::metric_path::for_people;
    let change = j.change_pct.map_or_else(String::new, |c| {
        format!(" ({}{:.1}%)", if c >= 0.0 { "+" } else { "" }, c)
    });
    format!(
        "{metric} {}{change} regressed against its baseline {} ({} of {} passing run{} on {}): limit {op} {} ({})",
        people(value),
        j.value.map_or_else(|| "none".to_owned(), people),
        j.statistic,
        j.samples,
        plural(j.samples),
        j.branch,
        people(limit),
        j.expr
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::threshold_expr::{BaselineExpr, Scale};
    use crate::vocab::MetricPath;

    fn rule(scale: Scale, op: Op) -> BaselineThreshold {
        BaselineThreshold {
            metric: MetricPath::parse("p95_ms").expect("path"),
            expr: BaselineExpr { op, scale },
            window: 20,
            branch: None,
            min_samples: 5,
            min_delta: 0.0,
            statistic: Statistic::Median,
        }
    }

    fn samples(values: &[f64], machine: &str) -> Vec<Sample> {
        values
            .iter()
            .map(|&value| Sample {
                value,
                machine: machine.to_owned(),
            })
            .collect()
    }

    #[test]
    fn statistics() {
        let v = [5.0, 1.0, 3.0, 2.0];
        assert_eq!(statistic(Statistic::Median, &v), Some(2.5));
        assert_eq!(statistic(Statistic::Median, &[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(statistic(Statistic::Mean, &v), Some(2.75));
        assert_eq!(statistic(Statistic::Min, &v), Some(1.0));
        assert_eq!(statistic(Statistic::Max, &v), Some(5.0));
        assert_eq!(statistic(Statistic::Median, &[]), None);
    }

    /// (case, rule tweak, samples, value, limit, pass, observed only, baseline).
    type Case = (
        &'static str,
        fn(&mut BaselineThreshold),
        Vec<Sample>,
        f64,
        Option<f64>,
        bool,
        bool,
        Option<f64>,
    );

    /// The baseline's rules as a table: (case, rule tweak, samples, value) -> (limit, pass,
    /// observed only, baseline).
    #[test]
    fn table() {
        let m = "cpu-a";
        let twenty = vec![100.0; 20];
        let mut with_outlier_failures = vec![100.0; 20];
        with_outlier_failures.extend([500.0; 3]); // these are passing samples, newest
        let none: fn(&mut BaselineThreshold) = |_| {};
        let cases: Vec<Case> = vec![
            (
                "15% worse than 20 green runs fails",
                none,
                samples(&twenty, m),
                115.0,
                Some(110.0),
                false,
                false,
                Some(100.0),
            ),
            (
                "10% worse is at the limit and passes",
                none,
                samples(&twenty, m),
                110.0,
                Some(110.0),
                true,
                false,
                Some(100.0),
            ),
            (
                "better passes",
                none,
                samples(&twenty, m),
                80.0,
                Some(110.0),
                true,
                false,
                Some(100.0),
            ),
            (
                "3 samples: observed only",
                none,
                samples(&[100.0; 3], m),
                115.0,
                Some(110.0),
                true,
                true,
                Some(100.0),
            ),
            (
                "no sample: no limit, observed",
                none,
                vec![],
                115.0,
                None,
                true,
                true,
                None,
            ),
            (
                "other machines are not compared",
                none,
                samples(&[50.0; 20], "cpu-b"),
                115.0,
                None,
                true,
                true,
                None,
            ),
            (
                "comparable ones among others are",
                none,
                [samples(&[50.0; 20], "cpu-b"), samples(&twenty, m)].concat(),
                115.0,
                Some(110.0),
                false,
                false,
                Some(100.0),
            ),
            (
                "min_delta keeps a tiny change from failing",
                |r| r.min_delta = 20.0,
                samples(&twenty, m),
                115.0,
                Some(110.0),
                true,
                false,
                Some(100.0),
            ),
            (
                "beyond min_delta fails",
                |r| r.min_delta = 10.0,
                samples(&twenty, m),
                115.0,
                Some(110.0),
                false,
                false,
                Some(100.0),
            ),
            (
                "the window keeps the latest samples only",
                |r| r.window = 3,
                with_outlier_failures
                    .iter()
                    .map(|&v| Sample {
                        value: v,
                        machine: m.to_owned(),
                    })
                    .collect(),
                115.0,
                Some(550.0),
                true,
                true,
                Some(500.0),
            ),
            (
                "max statistic",
                |r| r.statistic = Statistic::Max,
                samples(&[90.0, 100.0, 104.0, 95.0, 99.0], m),
                115.0,
                Some(104.0 * 1.1),
                false,
                false,
                Some(104.0),
            ),
        ];
        for (name, tweak, samples, value, limit, pass, observed, base) in cases {
            let mut r = rule(Scale::Factor(1.1), Op::Le);
            tweak(&mut r);
            let input = BaselineSamples {
                branch: "main".to_owned(),
                machine: m.to_owned(),
                samples,
            };
            let (l, p, j) = judge(&r, value, &input);
            let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-9,
                (a, b) => a == b,
            };
            assert!(close(l, limit), "{name}: limit {l:?}, expected {limit:?}");
            assert_eq!(p, pass, "{name}: pass");
            assert_eq!(j.observed_only, observed, "{name}: observed only");
            assert!(close(j.value, base), "{name}: baseline {:?}", j.value);
            if observed {
                assert!(
                    j.note
                        .as_deref()
                        .is_some_and(|n| n.contains("observed only")),
                    "{name}: {j:?}"
                );
            }
        }
    }

    #[test]
    fn higher_is_better_and_offsets() {
        let input = BaselineSamples {
            branch: "main".to_owned(),
            machine: "m".to_owned(),
            samples: samples(&[0.8; 10], "m"),
        };
        let (limit, pass, _) = judge(&rule(Scale::Factor(0.9), Op::Ge), 0.70, &input);
        assert!(!pass);
        assert!((limit.expect("limit") - 0.72).abs() < 1e-9);
        let (_, pass, j) = judge(&rule(Scale::Offset(-0.05), Op::Ge), 0.76, &input);
        assert!(pass, "{j:?}");
        assert_eq!(j.change_pct.map(|c| (c * 10.0).round() / 10.0), Some(-5.0));
    }

    #[test]
    fn the_reason_names_the_baseline_and_the_change() {
        let input = BaselineSamples {
            branch: "main".to_owned(),
            machine: "m".to_owned(),
            samples: samples(&[100.0; 20], "m"),
        };
        let r = rule(Scale::Factor(1.1), Op::Le);
        let (limit, pass, j) = judge(&r, 115.0, &input);
        assert!(!pass);
        let text = reason("p95_ms", Op::Le, 115.0, limit.expect("limit"), &j);
        assert_eq!(
            text,
            "p95_ms 115 (+15.0%) regressed against its baseline 100 (median of 20 passing runs on main): limit <= 110 (<= baseline * 1.1)"
        );
    }
}
