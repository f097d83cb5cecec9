//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use time::OffsetDateTime;

use super::ci_logs::LogOrder;
use crate::graph::GraphFormat;
use crate::shard::Shard;

/// Declarative quality gates: parallel, cached, judged.
#[derive(Debug, Parser)]
#[command(name = "runner", version, about, propagate_version = true)]
pub struct Cli {
    /// The config file [default: gates.toml in this folder, else in the nearest folder above
    /// it, up to the repository's root].
    #[arg(short, long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Fix the clock (RFC 3339) for history and graduation, and the cache's record of uses.
    #[arg(
        long,
        global = true,
        env = "RUNNER_NOW",
        value_name = "RFC3339",
        value_parser = parse_now
    )]
    pub now: Option<OffsetDateTime>,
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run gates (all, or the named ones and what they need).
    Run(Box<RunArgs>),
    /// Validate the config and print the graph's size.
    Check,
    /// List gates with kind, modes, needs and tags.
    List,
    /// Print the DAG.
    Graph {
        /// Output format.
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphFormat,
    },
    /// Show a gate's cache key inputs and what changed since its last stored run.
    Explain {
        /// The gate to explain.
        gate: String,
    },
    /// Per gate: effective mode, green-day streak, graduation state, last result.
    Status,
    /// List observational gates due to graduate; --write flips them to blocking in gates.toml.
    Graduate {
        /// Rewrite gates.toml (comments and layout kept).
        #[arg(long)]
        write: bool,
    },
    /// Write a commented starter gates.toml (never overwrites).
    Init,
    /// Print shell completions.
    Completions {
        /// The shell to write completions for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Work with run reports.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Show a gate's baselines, or start them anew after an intended change.
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// Keep the local cache within its budget, or look at it (`[settings.cache]`).
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Work with the history file.
    #[command(subcommand)]
    History(HistoryCommand),
    /// Split the gates into N shards and print them, or the CI matrix (`--json`).
    Shards(ShardsArgs),
    /// Run the gates, then re-run the ones whose inputs change (and what needs them) until
    /// interrupted.
    Watch(WatchArgs),
    /// Write a Dilithium2 key pair for signing cache entries and reports.
    Keygen {
        /// Path prefix: writes PREFIX.key and PREFIX.pub.
        #[arg(long, value_name = "PREFIX")]
        out: PathBuf,
    },
    /// Check a signed report (`<report>.sig`) against the trusted keys; exit 0 or 1.
    Verify {
        /// The report file to check.
        report: PathBuf,
    },
}

/// `runner baseline ...`.
#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Per baseline threshold of GATE: the samples, the baseline, the limit and how the latest
    /// recorded value fares against it.
    Show {
        /// The gate.
        gate: String,
        /// The branch whose runs make the baseline (default as for `run`).
        #[arg(long, value_name = "BRANCH", env = "RUNNER_BASE_BRANCH")]
        base_branch: Option<String>,
    },
    /// Start GATE's baselines anew (after an intended change): runs recorded before are no
    /// longer compared. Recorded in the history, with the reason.
    Accept {
        /// The gate.
        gate: String,
        /// Why (kept in the history).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
}

/// `runner report ...`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Combine shard reports and recompute the exit code.
    Merge {
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
    },
    /// Draw a run's JSON report as one self-contained HTML file (gate table, timeline, DAG).
    Html {
        /// The JSON report to draw (default: `<cache_dir>/report.json`, the last run's).
        #[arg(long, value_name = "PATH")]
        report: Option<PathBuf>,
        /// Where to write the page (default: `<cache_dir>/report.html`).
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
    },
}

/// `runner cache ...` (SPEC 11).
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Evict entries unused for longer than the maximum age, then the least recently used
    /// while the entries and the cache folder's own files exceed the maximum size; and the
    /// logs of gates no longer configured.
    Prune {
        /// The size to bring the entries and the cache folder's own files (index, stat and
        /// listing caches, ledger, report; not the logs) down to [default: `[settings.cache]
        /// max_size`].
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_size: Option<u64>,
        /// Evict entries unused for longer than this [default: `[settings.cache] max_age`].
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        max_age: Option<std::time::Duration>,
        /// List what would be removed, and remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Entries, bytes, the budget, the oldest use and the hit rate over recent runs.
    Stats,
}

/// `runner history ...` (SPEC 11).
#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Compact the history's lines older than a horizon into one record per gate and day
    /// (streaks, green days, graduation and `runner status` stay the same).
    Compact {
        /// Lines of days older than this are compacted.
        #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_duration)]
        older_than: std::time::Duration,
    },
}

/// How `--shard` splits the gates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Balance {
    /// By a hash of each gate's name: a gate's shard never depends on the other gates.
    #[default]
    Name,
    /// By the durations in the history, longest first to the least loaded shard; gates
    /// without a recorded duration by name. Every shard must start from the same history.
    Duration,
}

/// `runner watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Gates to watch (default: all).
    pub gates: Vec<String>,
    /// Only gates with this tag (repeatable).
    #[arg(long = "tag", value_name = "T")]
    pub tags: Vec<String>,
    /// Parallel gates (default: settings.jobs, else the number of CPUs).
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Quiet time after the last change before the gates run (e.g. 100ms, 1s).
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub debounce: std::time::Duration,
}

/// `runner shards N`.
#[derive(Debug, Args)]
pub struct ShardsArgs {
    /// The number of shards.
    #[arg(value_parser = clap::value_parser!(u32).range(1..=256))]
    pub n: u32,
    /// Gates to split (default: all).
    pub gates: Vec<String>,
    /// Only gates with this tag (repeatable).
    #[arg(long = "tag", value_name = "T")]
    pub tags: Vec<String>,
    /// How to split them.
    #[arg(long, value_enum, default_value = "name")]
    pub balance: Balance,
    /// Print the GitHub Actions matrix: `{"include":[{"shard":"1/3"},...]}`.
    #[arg(long)]
    pub json: bool,
}

/// `runner run` flags (SPEC 5).
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Gates to run (default: all).
    pub gates: Vec<String>,
    /// Parallel gates (default: settings.jobs, else the number of CPUs).
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Only gates with this tag (repeatable).
    #[arg(long = "tag", value_name = "T")]
    pub tags: Vec<String>,
    /// Do not replay from the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Run the gates traced (ptrace) and list every file they read that their key does not
    /// hold, with a glob to add: a diagnostic, which reads nothing from the cache, stores
    /// nothing and appends nothing to the history.
    #[arg(long)]
    pub trace_inputs: bool,
    /// Print the plan (hit or miss, and why) and run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Stream gate output while they run.
    #[arg(short, long)]
    pub verbose: bool,
    /// Print only the summary line and warnings.
    #[arg(short, long)]
    pub quiet: bool,
    /// Where to write the JSON report (default: `<cache_dir>/report.json`).
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Also write JUnit XML here.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Also write a Markdown summary here (and append to `$GITHUB_STEP_SUMMARY` when set).
    #[arg(long, value_name = "PATH")]
    pub summary: Option<PathBuf>,
    /// Also write Prometheus text exposition here.
    #[arg(long, value_name = "PATH")]
    pub metrics: Option<PathBuf>,
    /// The branch whose runs make baselines (default: `GITHUB_BASE_REF`, GitLab's target or
    /// default branch, else the repository's default branch).
    #[arg(long, value_name = "BRANCH", env = "RUNNER_BASE_BRANCH")]
    pub base_branch: Option<String>,
    /// Also write a self-contained HTML report here (open it in a browser; no network needed).
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
    /// Run only shard K of N (1-based), plus what its gates need.
    #[arg(long, value_name = "K/N", value_parser = Shard::parse)]
    pub shard: Option<Shard>,
    /// How --shard splits the gates: by name hash, or by the durations in the history.
    #[arg(long, value_enum, default_value = "name", requires = "shard")]
    pub balance: Balance,
    /// Exit code to use instead of 78 when every gate skipped (e.g. 0 on GitHub Actions).
    #[arg(long, value_name = "N")]
    pub skip_exit_code: Option<i32>,
    /// Write the run as a Chrome trace (Perfetto, `chrome://tracing`): one event per gate on its
    /// worker's lane, its cache and run phases nested; the summary names the critical path.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// How gate logs are shown: `grouped` prints each gate's whole log when it finishes (folded
    /// under GitHub Actions, GitLab CI and Buildkite, failures expanded after the summary);
    /// `stream` prints status lines as gates finish (`--verbose`: lines as they come); `auto`
    /// is grouped on those CI systems and stream elsewhere.
    #[arg(long, value_enum, default_value = "auto", value_name = "ORDER")]
    pub log_order: LogOrder,
    /// Only gates whose inputs changed since the merge base with --base (and the work tree's
    /// changes, unless --head is given), plus the gates that need them.
    #[arg(long)]
    pub affected: bool,
    /// The branch --affected compares with [default: `origin/$GITHUB_BASE_REF`,
    /// `origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME`, else `origin/HEAD`].
    #[arg(long, value_name = "REF", requires = "affected")]
    pub base: Option<String>,
    /// The commit --affected compares [default: HEAD plus the work tree and untracked files].
    #[arg(long, value_name = "REF", requires = "affected")]
    pub head: Option<String>,
    /// Run a failed gate again up to N times (a gate's own `retries` wins); a pass on a retry
    /// is a flaky pass.
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
}

/// A size such as `5GiB` (`vocab::size`).
fn parse_size(text: &str) -> Result<u64, String> {
    crate::vocab::size::parse(text)
}

/// A duration such as `30d` (`vocab::duration`).
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    crate::vocab::duration::parse(text)
}

/// `--now`: an RFC 3339 time.
fn parse_now(text: &str) -> Result<OffsetDateTime, String> {
    crate::vocab::clock::parse(text)
}
