//! `pqc-bench`: Dilithium2 keygen, sign and verify latency, measured in
//! process (the artifact of the `pqc-bench` gate kind). Formerly
//! `runner pqc-bench`.

use std::process::ExitCode;

use runner_tasks::args::main_with;
use runner_tasks::pqc::{DEFAULT_ITERATIONS, DEFAULT_MESSAGE_BYTES, bench, plain_lines};
use runner_tasks::{Args, Failure, Opt};

const USAGE: &str = "\
pqc-bench: Dilithium2 keygen, sign and verify latency, measured in process

Usage: pqc-bench [--json] [--iterations N] [--message-bytes N]

Options:
  --json             print the JSON artifact instead of plain lines
  --iterations N     timed sign+verify rounds, after 10 untimed warm-up rounds;
                     0 counts as 1 [default: 200]
  --message-bytes N  size of the signed message [default: 1024]
  -h, --help         print this help

Output (--json): {\"algorithm\": \"Dilithium2\", \"iterations\", \"keygen_ms\",
  \"sign_p50_ms\", \"sign_p95_ms\", \"verify_p50_ms\", \"verify_p95_ms\"};
  milliseconds rounded to the microsecond, percentiles by nearest rank.
Without --json: one `KEY VALUE` line per latency.

Exit codes: 0 measured; 1 a signature did not verify; 2 usage error.
";

const OPTIONS: &[Opt] = &[
    Opt::switch("json"),
    Opt::value("iterations"),
    Opt::value("message-bytes"),
];

fn main() -> ExitCode {
    main_with("pqc-bench", USAGE, OPTIONS, run)
}

fn run(args: &Args) -> Result<(), Failure> {
    let iterations = args.number("iterations", DEFAULT_ITERATIONS)?;
    let message_bytes = args.number("message-bytes", DEFAULT_MESSAGE_BYTES)?;
    // As `runner pqc-bench` did: zero rounds would leave no percentile to report.
    let artifact = bench(iterations.max(1), message_bytes)?;
    if args.switch("json") {
        let text = serde_json::to_string_pretty(&artifact)
            .map_err(|err| Failure::runtime(format!("cannot serialize the artifact: {err}")))?;
        println!("{text}");
    } else {
        print!("{}", plain_lines(&artifact));
    }
    Ok(())
}
