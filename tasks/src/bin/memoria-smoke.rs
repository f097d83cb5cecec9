//! `memoria-smoke`: compresses the fixed memoria sample documents with
//! deflate, decodes them, and writes ratio and loss (the
//! `memoria-compression` gate's artifact).

use std::path::Path;
use std::process::ExitCode;

use runner_tasks::args::main_with;
use runner_tasks::memoria::{DEFAULT_LEVEL, MemoriaReport, load_samples};
use runner_tasks::{Args, Failure, Opt, write_json_atomic};

const USAGE: &str = "\
memoria-smoke: deflate round trip of the memoria sample documents

Usage: memoria-smoke [--samples DIR] [--out PATH] [--level N]

Options:
  --samples DIR  folder of sample documents: every regular, non-hidden file,
                 in name order [default: tasks/data/memoria]
  --out PATH     write the JSON here (atomically); without it, print it
  --level N      deflate level 0-10 [default: 9]
  -h, --help     print this help

Output: {\"documents\", \"original_bytes\", \"compressed_bytes\", \"compression_ratio\",
         \"semantic_loss\", \"codec\", \"level\", \"per_document\": [...]}
compression_ratio = 1 - compressed_bytes / original_bytes;
semantic_loss = differing whitespace-separated tokens after the round trip
                / compared tokens (0.0 when lossless).

Exit codes: 0 written (whatever the numbers), 1 cannot write or decode,
            2 usage error or missing/empty samples folder.
";

const OPTIONS: &[Opt] = &[
    Opt::value("samples"),
    Opt::value("out"),
    Opt::value("level"),
];

const DEFAULT_SAMPLES: &str = "tasks/data/memoria";

fn main() -> ExitCode {
    main_with("memoria-smoke", USAGE, OPTIONS, run)
}

fn run(args: &Args) -> Result<(), Failure> {
    let level = args.number("level", DEFAULT_LEVEL)?;
    if level > 10 {
        return Err(Failure::usage(format!("--level must be 0-10, not {level}")));
    }
    let samples = load_samples(Path::new(args.value("samples").unwrap_or(DEFAULT_SAMPLES)))?;
    let report = MemoriaReport::measure(&samples, level)?;
    let json = report.to_json();
    match args.value("out") {
        Some(out) => {
            write_json_atomic(Path::new(out), &json)?;
            println!(
                "memoria-smoke: {} documents, {} -> {} bytes: compression_ratio {:.4}, \
                 semantic_loss {:.4} -> {out}",
                report.documents.len(),
                report.original_bytes(),
                report.compressed_bytes(),
                report.compression_ratio(),
                report.semantic_loss()
            );
        }
        None => println!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        ),
    }
    Ok(())
}
