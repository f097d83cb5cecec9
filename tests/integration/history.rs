//! History and graduation (SPEC 6): the history file, green days, streaks, sticky graduation,
//! `runner status` and `runner graduate [--write]`, driven day by day with `--now`.

use serde_json::Value;

use crate::harness::{Outcome, Repo};

const HISTORY: &str = ".runner/history.jsonl";

/// An observational gate whose outcome is the exit code in the file `outcome` (0 pass, 1
/// fail, 78 skip), never cached, graduating after `n` green days; plus a blocking gate.
fn smoke_repo(n: u32) -> Repo {
    let repo = Repo::new().gates(&format!(
        r#"
[gates.build]
run = "true"

[gates.smoke]
mode = "observational"
graduate_after_days = {n}
cache = false
run = "exit $(cat outcome)"
"#
    ));
    repo.write("outcome", "0");
    repo
}

/// `2026-11-DDTHH:00:00Z`.
fn at(day: u32, hour: u32) -> String {
    format!("2026-11-{day:02}T{hour:02}:00:00Z")
}

/// `runner run` on November `day` at 10:00 with the smoke gate exiting `code`.
fn run_on(repo: &Repo, day: u32, code: i32) -> Outcome {
    run_at(repo, &at(day, 10), code)
}

fn run_at(repo: &Repo, now: &str, code: i32) -> Outcome {
    repo.write("outcome", &code.to_string());
    repo.run(&["run", "--now", now])
}

/// The cells of a gate's row in `runner status` at `now` (columns are two spaces apart).
fn status_row(repo: &Repo, now: &str, gate: &str) -> Vec<String> {
    let out = repo.run(&["status", "--now", now]);
    out.expect_code(0);
    out.stdout
        .lines()
        .find(|l| l.split("  ").next() == Some(gate))
        .unwrap_or_else(|| panic!("no row for {gate}:\n{}", out.stdout))
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Every line of the history file, parsed.
fn history_lines(repo: &Repo) -> Vec<Value> {
    repo.read(HISTORY)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("history line {l:?}: {e}")))
        .collect()
}

#[test]
fn each_run_appends_one_line_per_gate() {
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let repo = smoke_repo(7).env("GITHUB_SHA", sha);
    run_on(&repo, 1, 0).expect_code(0);
    run_at(&repo, "2026-11-01T12:30:00+02:00", 1).expect_code(0);
    let lines = history_lines(&repo);
    assert_eq!(lines.len(), 4);
    let first = &lines[0];
    let text = repo.read(HISTORY);
    let first_line = text.lines().next().unwrap();
    let positions: Vec<usize> = [
        "at",
        "gate",
        "status",
        "mode",
        "cached",
        "commit",
        "run",
        "duration_ms",
    ]
    .iter()
    .map(|k| {
        first_line
            .find(&format!("\"{k}\":"))
            .unwrap_or_else(|| panic!("{k}"))
    })
    .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "SPEC 6 field order: {first_line}"
    );
    assert_eq!(first.as_object().unwrap().len(), 8);
    assert!(first["duration_ms"].is_u64(), "{first}");
    assert_eq!(first["at"], "2026-11-01T10:00:00Z");
    assert_eq!(first["commit"], sha);
    assert_eq!(first["cached"], false);
    // The run number is the clock in milliseconds (or one above the last run when higher).
    assert_eq!(first["run"], 1_793_527_200_000u64);
    assert_eq!(lines[2]["run"], 1_793_529_000_000u64);
    assert_eq!(
        lines[2]["at"], "2026-11-01T10:30:00Z",
        "times are written in UTC"
    );
    let smoke: Vec<&Value> = lines.iter().filter(|l| l["gate"] == "smoke").collect();
    assert_eq!(
        (&smoke[0]["status"], &smoke[0]["mode"]),
        (&"pass".into(), &"observational".into())
    );
    assert_eq!(smoke[1]["status"], "fail");
    // The blocking gate replayed from the cache the second time.
    let build: Vec<&Value> = lines.iter().filter(|l| l["gate"] == "build").collect();
    assert_eq!(
        (&build[0]["cached"], &build[1]["cached"]),
        (&false.into(), &true.into())
    );
}

#[test]
fn streak_counts_green_days_across_days_without_runs_and_skips() {
    let repo = smoke_repo(5);
    run_on(&repo, 1, 0).expect_code(0);
    run_on(&repo, 2, 0).expect_code(0);
    // No run on the 3rd; only a skip on the 4th; several passes on the 5th count once.
    run_on(&repo, 4, 78).expect_code(0);
    run_on(&repo, 5, 0).expect_code(0);
    run_at(&repo, &at(5, 11), 0).expect_code(0);
    assert_eq!(
        status_row(&repo, &at(5, 12), "smoke"),
        [
            "smoke",
            "observational",
            "observational",
            "3/5 green days",
            "pass 2026-11-05T11:00:00Z",
            "-"
        ]
    );
    // Seen from the 4th, the skip is the last result and the streak is 2.
    assert_eq!(
        status_row(&repo, &at(4, 12), "smoke")[3..5],
        ["2/5 green days", "skip 2026-11-04T10:00:00Z"]
    );
}

#[test]
fn a_failure_resets_the_streak() {
    let repo = smoke_repo(5);
    run_on(&repo, 1, 0);
    run_on(&repo, 2, 0);
    run_on(&repo, 3, 1).expect_code(0);
    assert_eq!(status_row(&repo, &at(3, 12), "smoke")[3], "0/5 green days");
    run_on(&repo, 4, 0);
    assert_eq!(status_row(&repo, &at(4, 12), "smoke")[3], "1/5 green days");
    // A pass then a fail on one day: not a green day, and the streak starts again.
    run_on(&repo, 5, 0);
    run_at(&repo, &at(5, 11), 1);
    assert_eq!(status_row(&repo, &at(5, 12), "smoke")[3], "0/5 green days");
}

#[test]
fn graduation_makes_a_failing_observational_gate_fail_the_run() {
    let repo = smoke_repo(3);
    run_on(&repo, 1, 0).expect_code(0);
    run_on(&repo, 2, 0).expect_code(0);
    // Before its third green day the gate is still observational: its failure only warns.
    let out = run_at(&repo, &at(3, 9), 1);
    out.expect_code(0);
    assert_eq!(repo.gate("smoke")["mode"], "observational");
    run_on(&repo, 4, 0).expect_code(0);
    run_on(&repo, 5, 0).expect_code(0);
    run_on(&repo, 6, 0).expect_code(0);
    assert_eq!(
        repo.gate("smoke")["mode"],
        "observational",
        "the run that completes the streak ran observational"
    );
    // Graduated on the 6th: a failure now fails the run.
    let out = run_on(&repo, 7, 1);
    out.expect_code(1);
    let g = repo.gate("smoke");
    assert_eq!(
        (&g["status"], &g["mode"], &g["configured_mode"]),
        (&"fail".into(), &"blocking".into(), &"observational".into())
    );
    assert_eq!(
        repo.report()["labels"],
        serde_json::json!([]),
        "a blocking failure is no smoke label"
    );
    assert_eq!(
        status_row(&repo, &at(7, 12), "smoke"),
        [
            "smoke",
            "observational",
            "blocking",
            "0/3 green days",
            "fail 2026-11-07T10:00:00Z",
            "graduated on 2026-11-06"
        ]
    );
    let lines = history_lines(&repo);
    assert_eq!(
        lines.last().unwrap()["mode"],
        "blocking",
        "the history records the effective mode"
    );
}

#[test]
fn graduation_is_sticky() {
    let repo = smoke_repo(2);
    run_on(&repo, 1, 0);
    run_on(&repo, 2, 0);
    for day in 3..=5 {
        run_on(&repo, day, 1).expect_code(1);
    }
    run_on(&repo, 6, 0).expect_code(0);
    let row = status_row(&repo, &at(6, 12), "smoke");
    assert_eq!(
        row[2..],
        [
            "blocking",
            "1/2 green days",
            "pass 2026-11-06T10:00:00Z",
            "graduated on 2026-11-02"
        ]
    );
    // The past stays the past: seen from the 1st it had not graduated yet.
    assert_eq!(
        status_row(&repo, &at(1, 12), "smoke")[2..4],
        ["observational", "1/2 green days"]
    );
    // `runner list` agrees on the effective mode.
    let list = repo.run(&["list"]);
    assert!(
        list.stdout
            .lines()
            .any(|l| l.starts_with("smoke") && l.contains("observational  blocking")),
        "{}",
        list.stdout
    );
}

#[test]
fn concurrent_runs_append_whole_lines() {
    let body: String = (0..100)
        .map(|i| format!("[gates.g{i:02}]\nrun = \"true\"\ncache = false\n\n"))
        .collect();
    let repo = Repo::new().gates(&body);
    let runners = 4;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..runners)
            .map(|i| {
                let repo = &repo;
                s.spawn(move || {
                    repo.run(&[
                        "run",
                        "--now",
                        &at(1, 10),
                        "--report",
                        &format!("cache/report-{i}.json"),
                    ])
                })
            })
            .collect();
        for h in handles {
            h.join().expect("runner thread").expect_code(0);
        }
    });
    let lines = history_lines(&repo);
    assert_eq!(
        lines.len(),
        runners * 100,
        "every line of every run, none torn"
    );
    for line in &lines {
        assert_eq!(line["status"], "pass");
        assert!(line["run"].is_u64() && line["at"].is_string(), "{line}");
    }
    for i in 0..100 {
        let gate = format!("g{i:02}");
        assert_eq!(
            lines.iter().filter(|l| l["gate"] == gate.as_str()).count(),
            runners,
            "{gate}"
        );
    }
    let out = repo.run(&["status", "--now", &at(1, 12)]);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
}

#[test]
fn corrupt_lines_are_skipped_with_one_warning_each() {
    let repo = smoke_repo(7);
    let good = |day: u32| {
        format!(
            r#"{{"at":"{}","gate":"smoke","status":"pass","mode":"observational","cached":false,"commit":null,"run":{day}}}"#,
            at(day, 10)
        )
    };
    repo.write(
        HISTORY,
        &[
            good(1),
            "not json at all".to_owned(),
            good(2),
            r#"{"at":"2026-11-02T11:00:00Z","gate":"smoke"}"#.to_owned(),
            r#"{"at":"2026-11-02T11:00:00Z","gate":"smoke","status":"exploded"}"#.to_owned(),
            r#"{"at":"the second","gate":"smoke","status":"fail"}"#.to_owned(),
            // A line cut short, without its newline.
            r#"{"at":"2026-11-02T12:00:00Z","gate":"smo"#.to_owned(),
        ]
        .join("\n"),
    );
    let out = repo.run(&["status", "--now", &at(2, 12)]);
    out.expect_code(0);
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 5, "{}", out.stderr);
    for (w, line) in warnings.iter().zip([2, 4, 5, 6, 7]) {
        assert!(
            w.contains(&format!(
                ".runner/history.jsonl:{line}: skipped a corrupt line"
            )),
            "{w}"
        );
    }
    assert!(
        warnings[1].contains("missing field `status`"),
        "{}",
        warnings[1]
    );
    assert!(warnings[2].contains("exploded"), "{}", warnings[2]);
    assert_eq!(
        status_row(&repo, &at(2, 12), "smoke")[3],
        "2/7 green days",
        "the good lines all count"
    );
    // A run warns the same way, then appends on a fresh line despite the torn one.
    let out = run_on(&repo, 3, 0);
    out.expect_code(0);
    assert_eq!(
        out.stderr.matches(".runner/history.jsonl:").count(),
        5,
        "{}",
        out.stderr
    );
    let again = repo.run(&["status", "--now", &at(3, 12)]);
    assert_eq!(
        again.stderr.matches("warning:").count(),
        5,
        "{}",
        again.stderr
    );
    assert_eq!(status_row(&repo, &at(3, 12), "smoke")[3], "3/7 green days");
}

#[test]
fn future_and_out_of_order_timestamps_do_not_break_streaks() {
    let repo = smoke_repo(3);
    let line =
        |at: &str, status: &str| format!(r#"{{"at":"{at}","gate":"smoke","status":"{status}"}}"#);
    // Hand-written lines without `run`, out of order, one stamped years ahead.
    repo.write(
        HISTORY,
        &[
            line(&at(3, 10), "pass"),
            line("2030-01-01T00:00:00Z", "fail"),
            line(&at(1, 10), "pass"),
            line("2026-11-02T12:00:00+05:00", "pass"),
            String::new(),
        ]
        .join("\n"),
    );
    let row = status_row(&repo, &at(3, 12), "smoke");
    assert_eq!(
        row[2..],
        [
            "blocking",
            "3/3 green days",
            "pass 2026-11-03T10:00:00Z",
            "graduated on 2026-11-03"
        ]
    );
    // Once the far-future failure's time comes it counts, and the graduation stays.
    let row = status_row(&repo, "2030-01-02T00:00:00Z", "smoke");
    assert_eq!(
        row[2..],
        [
            "blocking",
            "0/3 green days",
            "fail 2030-01-01T00:00:00Z",
            "graduated on 2026-11-03"
        ]
    );
    // A run with a clock far ahead, then runs with the right clock: they still count by day.
    run_at(&repo, "2031-06-01T10:00:00Z", 1).expect_code(1);
    run_on(&repo, 4, 0).expect_code(0);
    run_on(&repo, 5, 0).expect_code(0);
    assert_eq!(status_row(&repo, &at(5, 12), "smoke")[3], "5/3 green days");
    let mut runs: Vec<u64> = history_lines(&repo)
        .iter()
        .filter_map(|l| l["run"].as_u64())
        .collect();
    runs.dedup();
    assert_eq!(runs.len(), 3, "one number per run: {runs:?}");
    assert!(
        runs.windows(2).all(|w| w[0] < w[1]),
        "run numbers keep growing in the order written: {runs:?}"
    );
}

#[test]
fn a_clock_going_backwards_cannot_undo_a_graduation() {
    let repo = smoke_repo(3);
    for day in 1..=3 {
        run_on(&repo, day, 0).expect_code(0);
    }
    assert_eq!(
        status_row(&repo, &at(3, 12), "smoke")[5],
        "graduated on 2026-11-03"
    );
    // A runner whose clock says the 2nd: the graduation is in its future, so it judges the gate
    // observational; its failure lands on the 2nd.
    run_at(&repo, &at(2, 15), 1).expect_code(0);
    // Back on time: the failure breaks the streak, but was written after the graduation.
    let row = status_row(&repo, &at(3, 12), "smoke");
    assert_eq!(row[2..4], ["blocking", "1/3 green days"]);
    assert_eq!(row[5], "graduated on 2026-11-03");
    run_on(&repo, 4, 1).expect_code(1);
}

const COMMENTED_GATES: &str = r#"# The gates of this repository.
version = 1

[settings]
graduate_after_days = 2   # two green days are enough here

# Builds first.
[gates.build]
run = "true"   # nothing to build

# Observed until it proves itself.
[gates.smoke]
description = "end-to-end smoke"
# mode: flipped by `runner graduate --write`
mode = "observational"   # graduates after 2 green days
run = "exit $(cat outcome)"
cache = false
tags = ["smoke"]   # run alone with --tag smoke

[gates.drift]
run = "true"
mode = 'observational'
needs = ["build"]

[gates.flaky]
mode = "observational" # never graduates
graduate_after_days = 0
run = "true"

# End of file.
"#;

#[test]
fn graduate_write_keeps_comments_and_layout() {
    let repo = Repo::new();
    repo.write("gates.toml", COMMENTED_GATES);
    repo.write("outcome", "0");
    run_on(&repo, 1, 0).expect_code(0);
    // `drift` fails on the 2nd: it stays observational.
    repo.write(
        "gates.toml",
        &COMMENTED_GATES.replace(
            "run = \"true\"\nmode = 'obs",
            "run = \"false\"\nmode = 'obs",
        ),
    );
    run_on(&repo, 2, 0).expect_code(0);
    repo.write("gates.toml", COMMENTED_GATES);

    let out = repo.run(&["graduate", "--now", &at(2, 12)]);
    out.expect_code(0);
    assert_eq!(
        out.stdout,
        "due: smoke (2/2 green days since 2026-11-01, graduated on 2026-11-02)\n\
         1 gate due; `runner graduate --write` sets mode = \"blocking\" in gates.toml\n"
    );
    assert_eq!(
        repo.read("gates.toml"),
        COMMENTED_GATES,
        "listing does not write"
    );

    let out = repo.run(&["graduate", "--write", "--now", &at(2, 12)]);
    out.expect_code(0);
    assert_eq!(
        out.stdout,
        "graduated: smoke (2/2 green days since 2026-11-01)\nwrote gates.toml\n"
    );
    let written = repo.read("gates.toml");
    insta::assert_snapshot!(written);
    repo.run(&["check"]).expect_code(0);
    assert_eq!(
        status_row(&repo, &at(2, 12), "smoke")[1..4],
        ["blocking", "blocking", "-"]
    );

    let out = repo.run(&["graduate", "--write", "--now", &at(2, 12)]);
    out.expect_code(0);
    assert!(
        out.stdout.starts_with("nothing to graduate"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("  drift: 0/2 green days\n"),
        "{}",
        out.stdout
    );
    assert_eq!(
        repo.read("gates.toml"),
        written,
        "a second --write changes nothing"
    );
}

#[test]
fn graduate_with_nothing_due_leaves_the_file_untouched() {
    use std::os::unix::fs::MetadataExt as _;
    let repo = smoke_repo(3);
    run_on(&repo, 1, 0);
    let before = std::fs::metadata(repo.path("gates.toml")).unwrap();
    let text = repo.read("gates.toml");
    let out = repo.run(&["graduate", "--write", "--now", &at(1, 12)]);
    out.expect_code(0);
    assert_eq!(
        out.stdout,
        "nothing to graduate: no observational gate has reached its green-day streak\n  smoke: 1/3 green days\n"
    );
    let after = std::fs::metadata(repo.path("gates.toml")).unwrap();
    assert_eq!(repo.read("gates.toml"), text);
    assert_eq!(
        (before.ino(), before.mtime_nsec()),
        (after.ino(), after.mtime_nsec()),
        "not even rewritten"
    );
}

#[test]
fn status_table() {
    let repo = smoke_repo(3);
    run_on(&repo, 1, 0);
    run_on(&repo, 2, 0);
    run_on(&repo, 3, 0);
    run_on(&repo, 4, 1);
    let out = repo.run(&["status", "--now", &at(4, 12)]);
    out.expect_code(0);
    insta::assert_snapshot!(out.stdout);
    let out = repo.run(&["status", "--now", "yesterday"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("not an RFC 3339 time"),
        "{}",
        out.stderr
    );
}

/// `runner history compact` (SPEC 11): the old days become one record per gate and day, and
/// `runner status`, `runner graduate` and the effective mode read exactly as before; the
/// runs after it append and judge as usual.
#[test]
fn compaction_changes_nothing_status_or_graduation_read() {
    let repo = smoke_repo(3);
    // Green, green, a failure, then three green days (graduating on the 6th), a failure after
    // graduation (sticky), and several runs a day.
    for (day, code) in [
        (1, 0),
        (2, 0),
        (3, 1),
        (4, 0),
        (5, 0),
        (6, 0),
        (7, 1),
        (8, 0),
    ] {
        repo.write("outcome", &code.to_string());
        repo.run(&["run", "--now", &at(day, 9)]);
        repo.run(&["run", "--now", &at(day, 15)]);
    }
    let views = |now: &str| {
        [
            repo.run(&["status", "--now", now]),
            repo.run(&["graduate", "--now", now]),
            repo.run(&["list", "--now", now]),
        ]
        .map(|o| o.stdout)
    };
    let moments = [
        at(2, 12),
        at(6, 12),
        at(8, 12),
        "2026-12-20T00:00:00Z".to_owned(),
    ];
    let before: Vec<_> = moments.iter().map(|m| views(m)).collect();
    let size = std::fs::metadata(repo.path(HISTORY)).unwrap().len();
    // On December 10th, a horizon of 30 days: everything up to November 9th is compacted.
    let out = repo.run(&["history", "compact", "--now", "2026-12-10T00:00:00Z"]);
    out.expect_code(0);
    assert!(
        out.stdout
            .contains("32 lines of days before 2026-11-10 folded into 16 day records"),
        "{}",
        out.stdout
    );
    let text = repo.read(HISTORY);
    assert_eq!(text.lines().count(), 16);
    assert!(text.lines().all(|l| l.contains("\"day\":{")), "{text}");
    assert!(std::fs::metadata(repo.path(HISTORY)).unwrap().len() < size);
    let after: Vec<_> = moments.iter().map(|m| views(m)).collect();
    assert_eq!(after, before);
    assert!(before[3][0].contains("(32 entries)"), "{}", before[3][0]);
    // The next run appends as usual, and the graduated gate's failure still blocks.
    repo.write("outcome", "1");
    repo.run(&["run", "--now", &at(9, 9)]).expect_code(1);
    assert_eq!(
        status_row(&repo, &at(9, 12), "smoke")[2..],
        [
            "blocking",
            "0/3 green days",
            "fail 2026-11-09T09:00:00Z",
            "graduated on 2026-11-06"
        ]
    );
    repo.run(&["run", "--now", &at(9, 15)]).expect_code(1);
    // Compacting again folds the new day only: the records are kept as they are.
    let before = views(&at(20, 0));
    let out = repo.run(&[
        "history",
        "compact",
        "--older-than",
        "1d",
        "--now",
        &at(20, 0),
    ]);
    out.expect_code(0);
    assert!(
        out.stdout
            .contains("4 lines of days before 2026-11-19 folded into 2 day records"),
        "{}",
        out.stdout
    );
    assert_eq!(views(&at(20, 0)), before);
    assert_eq!(repo.read(HISTORY).lines().count(), 18);
}

/// A compaction killed before its rename leaves a `.tmp-history-*` file beside the history:
/// the next run removes it once it is an hour old, and leaves a younger one (a compaction
/// that may be running) alone; so does the next compaction.
#[test]
fn a_killed_compactions_temporary_file_is_removed_once_an_hour_old() {
    let repo = smoke_repo(3);
    repo.run(&["run", "--now", &at(1, 9)]).expect_code(0);
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600);
    let age = |rel: &str| {
        std::fs::File::options()
            .write(true)
            .open(repo.path(rel))
            .and_then(|f| f.set_modified(two_hours_ago))
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
    };
    for (stale, young) in [
        (".runner/.tmp-history-Ab12Cd", ".runner/.tmp-history-young1"),
        (".runner/.tmp-history-Ef34Gh", ".runner/.tmp-history-young2"),
    ] {
        repo.write(stale, "{\"at\":\"2026-10-01T09:00:00Z\",\"gate\":\"build\"");
        age(stale);
        repo.write(young, "being written");
        if stale.ends_with("Ab12Cd") {
            repo.run(&["run", "--now", &at(2, 9)]).expect_code(0);
        } else {
            repo.run(&["history", "compact", "--now", &at(20, 0)])
                .expect_code(0);
        }
        assert!(!repo.path(stale).exists(), "{stale} was not removed");
        assert!(repo.path(young).exists(), "{young} was removed while young");
    }
    // Other files beside the history are not touched, however old.
    repo.write(".runner/notes.txt", "mine");
    age(".runner/notes.txt");
    repo.run(&["run", "--now", &at(3, 9)]).expect_code(0);
    assert_eq!(repo.read(".runner/notes.txt"), "mine");
}
