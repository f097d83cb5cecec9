//! `Args`: a small command-line parser for the task binaries (`--name value`,
//! `--name=value`, boolean switches, `--help`).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::str::FromStr;

use crate::Failure;

/// One accepted option: its long name (without `--`) and whether it takes a
/// value.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    /// Long name without the leading `--`.
    pub name: &'static str,
    /// `true` for `--name VALUE`, `false` for a switch.
    pub takes_value: bool,
}

impl Opt {
    /// An option that takes a value: `--name VALUE` or `--name=VALUE`.
    #[must_use]
    pub const fn value(name: &'static str) -> Self {
        Self {
            name,
            takes_value: true,
        }
    }

    /// A switch without a value: `--name`.
    #[must_use]
    pub const fn switch(name: &'static str) -> Self {
        Self {
            name,
            takes_value: false,
        }
    }
}

/// The parsed command line. A repeated option keeps its last value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Args {
    values: BTreeMap<&'static str, String>,
    switches: Vec<&'static str>,
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// `--help` or `-h` appeared: print usage and exit 0.
    Help,
    /// Run with these arguments.
    Run(Args),
}

impl Args {
    /// Parses `argv` (without the program name) against `spec`.
    ///
    /// # Errors
    /// A usage [`Failure`] for an unknown option, a positional argument, a
    /// missing value, or a value given to a switch.
    pub fn parse<I, S>(argv: I, spec: &[Opt]) -> Result<Parsed, Failure>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut args = Self::default();
        let mut iter = argv.into_iter().map(Into::into);
        while let Some(arg) = iter.next() {
            if arg == "--help" || arg == "-h" {
                return Ok(Parsed::Help);
            }
            let Some(body) = arg.strip_prefix("--") else {
                return Err(Failure::usage(format!("unexpected argument `{arg}`")));
            };
            let (name, inline) = match body.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (body, None),
            };
            let Some(opt) = spec.iter().find(|opt| opt.name == name) else {
                return Err(Failure::usage(unknown_option(name, spec)));
            };
            if opt.takes_value {
                let value = match inline {
                    Some(value) => value,
                    None => iter
                        .next()
                        .filter(|next| !next.starts_with("--"))
                        .ok_or_else(|| Failure::usage(format!("--{name} needs a value")))?,
                };
                args.values.insert(opt.name, value);
            } else if inline.is_some() {
                return Err(Failure::usage(format!("--{name} takes no value")));
            } else if !args.switches.contains(&opt.name) {
                args.switches.push(opt.name);
            }
        }
        Ok(Parsed::Run(args))
    }

    /// The value of `--name`, if given.
    #[must_use]
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether the switch `--name` was given.
    #[must_use]
    pub fn switch(&self, name: &str) -> bool {
        self.switches.contains(&name)
    }

    /// The value of `--name` parsed as `T`, or `default` when absent.
    ///
    /// # Errors
    /// A usage [`Failure`] naming the option when the value does not parse.
    pub fn number<T: FromStr>(&self, name: &str, default: T) -> Result<T, Failure> {
        match self.value(name) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .map_err(|_| Failure::usage(format!("--{name}: `{text}` is not a valid number"))),
        }
    }
}

fn unknown_option(name: &str, spec: &[Opt]) -> String {
    let known: Vec<String> = spec.iter().map(|opt| format!("--{}", opt.name)).collect();
    format!(
        "unknown option `--{name}` (known: {}, --help)",
        known.join(", ")
    )
}

/// Shared `main` of the task binaries: parses the command line, prints
/// `usage` for `--help`, runs `task`, and maps a [`Failure`] to its exit code.
pub fn main_with(
    program: &str,
    usage: &str,
    spec: &[Opt],
    task: impl FnOnce(&Args) -> Result<(), Failure>,
) -> ExitCode {
    let result = Args::parse(std::env::args().skip(1), spec).and_then(|parsed| match parsed {
        Parsed::Help => {
            print!("{usage}");
            Ok(())
        }
        Parsed::Run(args) => task(&args),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(program),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &[Opt] = &[
        Opt::value("out"),
        Opt::value("seeds"),
        Opt::switch("update-baseline"),
    ];

    fn run(argv: &[&str]) -> Result<Parsed, Failure> {
        Args::parse(argv.iter().copied(), SPEC)
    }

    #[test]
    fn parses_values_switches_and_equals_form() {
        let Parsed::Run(args) =
            run(&["--out", "a.json", "--seeds=3", "--update-baseline"]).unwrap()
        else {
            panic!("expected Run");
        };
        assert_eq!(args.value("out"), Some("a.json"));
        assert_eq!(args.number("seeds", 10_usize).unwrap(), 3);
        assert!(args.switch("update-baseline"));
        assert_eq!(args.number("missing", 7_u32).unwrap(), 7);
    }

    #[test]
    fn help_wins_anywhere() {
        assert_eq!(run(&["--out", "x", "-h"]).unwrap(), Parsed::Help);
        assert_eq!(run(&["--help"]).unwrap(), Parsed::Help);
    }

    #[test]
    fn usage_errors_exit_2_and_name_the_option() {
        let table: &[(&[&str], &str)] = &[
            (&["--nope"], "unknown option `--nope`"),
            (&["stray"], "unexpected argument `stray`"),
            (&["--out"], "--out needs a value"),
            (&["--out", "--seeds", "3"], "--out needs a value"),
            (
                &["--update-baseline=yes"],
                "--update-baseline takes no value",
            ),
        ];
        for (argv, expected) in table {
            let failure = run(argv).unwrap_err();
            assert_eq!(failure.code, 2, "{argv:?}");
            assert!(
                failure.message.contains(expected),
                "{argv:?}: {}",
                failure.message
            );
        }
    }

    #[test]
    fn bad_number_is_a_usage_error() {
        let Parsed::Run(args) = run(&["--seeds", "ten"]).unwrap() else {
            panic!()
        };
        let failure = args.number("seeds", 10_usize).unwrap_err();
        assert_eq!(failure.code, 2);
        assert!(failure.message.contains("--seeds"));
    }
}
