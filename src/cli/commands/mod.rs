//! One module per command (or family of commands); `dispatch` picks one.

mod affected;
mod baseline;
mod cache;
pub(super) mod history;
pub(super) mod init;
mod inspect;
mod keys;
mod report;
mod run;
mod shards;
mod watch;

use super::args::{BaselineCommand, CacheCommand, Cli, Command, HistoryCommand, ReportCommand};
use super::error::{CmdResult, Done};
use std::path::Path;

use crate::workspace::Workspace;

/// Run the command `cli` names.
pub(super) fn dispatch(cli: Cli, config: &Path) -> CmdResult {
    let now = cli.now;
    match cli.command {
        Command::Run(args) => run::run(config, *args, now),
        Command::Check => inspect::check(&Workspace::open(config)?),
        Command::List => inspect::list(&Workspace::open(config)?, now),
        Command::Graph { format } => {
            let ws = Workspace::open(config)?;
            print!("{}", crate::graph::render(&ws.config, format));
            Ok(Done::Success)
        }
        Command::Explain { gate } => inspect::explain(&Workspace::open(config)?, &gate),
        Command::Status => history::status(&Workspace::open(config)?, now),
        Command::Baseline(BaselineCommand::Show { gate, base_branch }) => {
            baseline::show(&Workspace::open(config)?, &gate, base_branch.as_deref())
        }
        Command::Baseline(BaselineCommand::Accept { gate, reason }) => {
            baseline::accept(&Workspace::open(config)?, &gate, reason.as_deref(), now)
        }
        Command::Graduate { write } => history::graduate(&Workspace::open(config)?, now, write),
        Command::Init => init::init(config),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "runner", &mut std::io::stdout());
            Ok(Done::Success)
        }
        Command::Report(ReportCommand::Merge { reports, out }) => report::merge(&reports, &out),
        Command::Report(ReportCommand::Html { report, out }) => {
            report::html(&Workspace::open(config)?, report, out, now)
        }
        Command::Cache(CacheCommand::Prune {
            max_size,
            max_age,
            dry_run,
        }) => cache::prune(&Workspace::open(config)?, now, max_size, max_age, dry_run),
        Command::Cache(CacheCommand::Stats) => cache::stats(&Workspace::open(config)?, now),
        Command::History(HistoryCommand::Compact { older_than }) => {
            history::compact(&Workspace::open(config)?, now, older_than)
        }
        Command::Shards(args) => shards::shards(&Workspace::open(config)?, &args),
        Command::Watch(args) => watch::watch(config, args, now),
        Command::Keygen { out } => keys::keygen(&out),
        Command::Verify { report } => keys::verify(&Workspace::open(config)?, &report),
    }
}

/// The clock of a command: `--now` / `RUNNER_NOW`, else the system time, in UTC.
fn clock(now: Option<time::OffsetDateTime>) -> time::OffsetDateTime {
    now.unwrap_or_else(time::OffsetDateTime::now_utc)
        .to_offset(time::UtcOffset::UTC)
}
