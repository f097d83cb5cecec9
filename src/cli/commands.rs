//! One function per subcommand.

use std::process::ExitCode;

use clap::Parser;

use super::args::{AuditCommand, Cli, Command, ReportCommand, RunArgs};
use crate::exit_code;
use crate::run::{self, RunRequest, Workspace};

/// Entry point of the binary.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit_code::USAGE as u8
            } else {
                0
            });
        }
    };
    let code = dispatch(cli);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn dispatch(cli: Cli) -> i32 {
    if !matches!(cli.command, Command::Run(_)) {
        // Listing commands piped into `head` end quietly, as Unix tools do. `run` keeps
        // SIGPIPE ignored: a closed stdout must not kill it while gates are running.
        // SAFETY: setting a signal disposition to its default touches no memory.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    match cli.command {
        Command::Run(args) => run::run(&request(&cli.config, args)),
        Command::Check => with_workspace(&cli.config, check),
        Command::List => with_workspace(&cli.config, list),
        Command::Graph { format } => with_workspace(&cli.config, |ws| {
            print!("{}", crate::graph::render(&ws.config, format));
            exit_code::SUCCESS
        }),
        Command::Explain { gate } => with_workspace(&cli.config, |ws| explain(ws, &gate)),
        Command::Status { now } => with_workspace(&cli.config, |ws| {
            crate::history::status_command(ws, now.as_deref())
        }),
        Command::Graduate { write, now } => with_workspace(&cli.config, |ws| {
            crate::history::graduate_command(ws, now.as_deref(), write)
        }),
        Command::Init => crate::init::init_command(&cli.config),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "runner", &mut std::io::stdout());
            exit_code::SUCCESS
        }
        Command::Report(ReportCommand::Merge { reports, out }) => {
            crate::report::merge::merge_command(&reports, &out)
        }
        Command::Keygen { out } => crate::signing::keygen_command(&out),
        Command::Verify { report } => with_workspace(&cli.config, |ws| {
            crate::signing::verify_command(ws, &report)
        }),
        Command::Audit(AuditCommand::Normalize { files, out }) => {
            crate::audit::normalize_command(&files, &out)
        }
        Command::PqcBench {
            json,
            iterations,
            message_bytes,
        } => pqc_bench(json, iterations, message_bytes),
    }
}

fn request(config: &std::path::Path, a: RunArgs) -> RunRequest {
    RunRequest {
        config: config.to_path_buf(),
        gates: a.gates,
        tags: a.tags,
        jobs: a.jobs,
        no_cache: a.no_cache,
        dry_run: a.dry_run,
        verbose: a.verbose,
        quiet: a.quiet,
        now: a.now,
        report: a.report,
        junit: a.junit,
        summary: a.summary,
        metrics: a.metrics,
        shard: a.shard,
        skip_exit_code: a.skip_exit_code,
    }
}

fn with_workspace(config: &std::path::Path, f: impl FnOnce(&Workspace) -> i32) -> i32 {
    match run::open(config) {
        Ok(ws) => f(&ws),
        Err(code) => code,
    }
}

fn check(ws: &Workspace) -> i32 {
    let all: Vec<String> = Vec::new();
    if let Err(code) = run::prepare(ws, &all, &[], None) {
        return code;
    }
    println!(
        "{}: ok, {} gates, {} edges",
        ws.config.file_name,
        ws.config.gates.len(),
        ws.graph.edge_count()
    );
    exit_code::SUCCESS
}

fn list(ws: &Workspace) -> i32 {
    let history = crate::history::History::load(&ws.config.settings.history);
    let now = match run::now(None) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::USAGE;
        }
    };
    println!(
        "{:<24} {:<10} {:<14} {:<14} {:<24} TAGS",
        "GATE", "KIND", "MODE", "EFFECTIVE", "NEEDS"
    );
    for g in &ws.config.gates {
        println!(
            "{:<24} {:<10} {:<14} {:<14} {:<24} {}",
            g.name,
            g.kind.name(),
            g.mode.as_str(),
            history.effective_mode(g, &ws.config.settings, now).as_str(),
            if g.needs.is_empty() {
                "-".to_owned()
            } else {
                g.needs.join(",")
            },
            if g.tags.is_empty() {
                "-".to_owned()
            } else {
                g.tags.join(",")
            }
        );
    }
    exit_code::SUCCESS
}

fn explain(ws: &Workspace, gate: &str) -> i32 {
    let names = vec![gate.to_owned()];
    let prepared = match run::prepare(ws, &names, &[], None) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let Some(index) = ws.graph.index(gate) else {
        return exit_code::USAGE;
    };
    let opts = crate::exec::RunOptions {
        jobs: 1,
        no_cache: false,
        verbose: false,
        now: String::new(),
    };
    crate::plan::explain(ws, &prepared, index, &opts);
    exit_code::SUCCESS
}

fn pqc_bench(json: bool, iterations: u32, message_bytes: usize) -> i32 {
    let artifact = match crate::gate::pqc::bench(iterations.max(1), message_bytes) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::GATES_FAILED;
        }
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&artifact).unwrap_or_default()
        );
    } else {
        for key in [
            "keygen_ms",
            "sign_p50_ms",
            "sign_p95_ms",
            "verify_p50_ms",
            "verify_p95_ms",
        ] {
            println!(
                "{key:<14} {}",
                artifact
                    .get(key)
                    .map_or_else(String::new, ToString::to_string)
            );
        }
    }
    exit_code::SUCCESS
}
