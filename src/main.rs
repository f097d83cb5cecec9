//! The `runner` binary: all the work lives in the library.

fn main() -> std::process::ExitCode {
    runner::cli::main()
}
