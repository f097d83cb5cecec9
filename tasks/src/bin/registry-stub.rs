//! `registry-stub`: the registry dev stub, an in-memory HTTP service on
//! 127.0.0.1 for development and the `registry-smoke` gate.

use std::io::Write;
use std::process::ExitCode;

use runner_tasks::args::main_with;
use runner_tasks::registry::{DEFAULT_PORT, Server, check_environment};
use runner_tasks::{Args, Failure, Opt};

const USAGE: &str = "\
registry-stub: the MATRIZ registry dev stub (in-memory, never for production)

Usage: registry-stub [--port N]

Options:
  --port N    port on 127.0.0.1; 0 picks a free one [default: 8787]
  -h, --help  print this help

Routes (every response is JSON with `X-Dev-Stub: active`):
  GET  /health             200 {\"status\":\"healthy\",\"mode\":\"dev-stub\"}
  POST /checkpoints        201 {\"id\", \"created_at\", \"checkpoint\"}; 400 on malformed JSON
  GET  /checkpoints        200 {\"count\", \"ids\"}
  GET  /checkpoints/{id}   200 the stored record; 404 when unknown

Prints `DEV-STUB ACTIVE ... http://ADDRESS` once listening. Refuses to start
(exit 1) when any of RUNNER_ENV, APP_ENV, NODE_ENV or ENV is `production` or
`prod` (any letter case, surrounding whitespace ignored). Stop it with SIGTERM
or Ctrl-C.
";

const OPTIONS: &[Opt] = &[Opt::value("port")];

fn main() -> ExitCode {
    main_with("registry-stub", USAGE, OPTIONS, run)
}

fn run(args: &Args) -> Result<(), Failure> {
    check_environment(|name| std::env::var(name).ok())?;
    let port = args.number("port", DEFAULT_PORT)?;
    let server = Server::bind(port)?;
    let address = server.local_addr()?;
    let mut stdout = std::io::stdout().lock();
    // A supervisor may wait for this line, so it must not sit in a buffer.
    let _ = writeln!(
        stdout,
        "DEV-STUB ACTIVE: registry dev stub listening on http://{address} (state in memory only)"
    );
    let _ = stdout.flush();
    drop(stdout);
    server.serve();
    Ok(())
}
