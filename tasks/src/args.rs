//! `Args`: a small command-line parser for the task binaries (`--name value`,
//! `--name=value`, boolean switches, `--help`, and operands such as input
//! files for the programs that accept them).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::str::FromStr;

use crate::Failure;

/// One accepted element of a command line: an option (by its long name,
/// without `--`) that takes a value or not, or the program's operands.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    /// Long name without the leading `--`; for operands, the name shown in
    /// messages (such as `FILE`).
    pub name: &'static str,
    /// What the element is.
    pub kind: OptKind,
}

/// The kinds of [`Opt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptKind {
    /// `--name VALUE` or `--name=VALUE`.
    Value,
    /// `--name`, without a value.
    Switch,
    /// Arguments that are not options (and everything after `--`); without
    /// this in the spec, such an argument is a usage error.
    Operands,
}

impl Opt {
    /// An option that takes a value: `--name VALUE` or `--name=VALUE`.
    #[must_use]
    pub const fn value(name: &'static str) -> Self {
        Self {
            name,
            kind: OptKind::Value,
        }
    }

    /// A switch without a value: `--name`.
    #[must_use]
    pub const fn switch(name: &'static str) -> Self {
        Self {
            name,
            kind: OptKind::Switch,
        }
    }

    /// Operands (arguments that are not options), in command-line order.
    #[must_use]
    pub const fn operands(name: &'static str) -> Self {
        Self {
            name,
            kind: OptKind::Operands,
        }
    }
}

/// The parsed command line. A repeated option keeps its last value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Args {
    values: BTreeMap<&'static str, String>,
    switches: Vec<&'static str>,
    operands: Vec<String>,
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
    /// With [`Opt::operands`] in `spec`, an argument that does not start with
    /// `-` (or is `-` alone) is an operand, and so is every argument after
    /// `--`.
    ///
    /// # Errors
    /// A usage [`Failure`] for an unknown option, an operand the spec does
    /// not accept, a missing value, or a value given to a switch.
    pub fn parse<I, S>(argv: I, spec: &[Opt]) -> Result<Parsed, Failure>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let takes_operands = spec.iter().any(|opt| opt.kind == OptKind::Operands);
        let mut args = Self::default();
        let mut iter = argv.into_iter().map(Into::into);
        let mut only_operands = false;
        while let Some(arg) = iter.next() {
            if !only_operands && (arg == "--help" || arg == "-h") {
                return Ok(Parsed::Help);
            }
            if takes_operands && !only_operands && arg == "--" {
                only_operands = true;
                continue;
            }
            let option = if only_operands {
                None
            } else {
                arg.strip_prefix("--")
            };
            let Some(body) = option else {
                if takes_operands && (only_operands || arg == "-" || !arg.starts_with('-')) {
                    args.operands.push(arg);
                    continue;
                }
                return Err(Failure::usage(format!("unexpected argument `{arg}`")));
            };
            let (name, inline) = match body.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (body, None),
            };
            let Some(opt) = spec
                .iter()
                .find(|opt| opt.kind != OptKind::Operands && opt.name == name)
            else {
                return Err(Failure::usage(unknown_option(name, spec)));
            };
            if opt.kind == OptKind::Value {
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

    /// The operands, in command-line order (empty unless the spec has
    /// [`Opt::operands`]).
    #[must_use]
    pub fn operands(&self) -> &[String] {
        &self.operands
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
    let known: Vec<String> = spec
        .iter()
        .filter(|opt| opt.kind != OptKind::Operands)
        .map(|opt| format!("--{}", opt.name))
        .collect();
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
    let result = argv()
        .and_then(|argv| Args::parse(argv, spec))
        .and_then(|parsed| match parsed {
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

/// The process's arguments without the program name.
///
/// # Errors
/// A usage [`Failure`] naming the argument when one is not valid UTF-8
/// (where `std::env::args` would panic).
pub fn argv() -> Result<Vec<String>, Failure> {
    std::env::args_os()
        .skip(1)
        .map(|arg| {
            arg.into_string().map_err(|arg| {
                Failure::usage(format!(
                    "argument `{}` is not valid UTF-8",
                    arg.to_string_lossy()
                ))
            })
        })
        .collect()
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

    const WITH_OPERANDS: &[Opt] = &[Opt::operands("FILE"), Opt::value("out"), Opt::switch("x")];

    fn run_operands(argv: &[&str]) -> Result<Parsed, Failure> {
        Args::parse(argv.iter().copied(), WITH_OPERANDS)
    }

    /// (argv, operands, `--out`, `--x`).
    type OperandCase<'a> = (&'a [&'a str], &'a [&'a str], Option<&'a str>, bool);

    #[test]
    fn operands_in_order_around_options_and_after_double_dash() {
        let table: &[OperandCase<'_>] = &[
            (&[], &[], None, false),
            (&["a.json"], &["a.json"], None, false),
            (
                &["a.json", "--out", "r.json", "b.json", "--x"],
                &["a.json", "b.json"],
                Some("r.json"),
                true,
            ),
            (
                &["--out=r.json", "-", "c"],
                &["-", "c"],
                Some("r.json"),
                false,
            ),
            (
                &["a", "--", "--out", "-h", "--"],
                &["a", "--out", "-h", "--"],
                None,
                false,
            ),
        ];
        for (argv, operands, out, x) in table {
            let Parsed::Run(args) = run_operands(argv).unwrap() else {
                panic!("{argv:?}: expected Run");
            };
            assert_eq!(args.operands(), *operands, "{argv:?}");
            assert_eq!(args.value("out"), *out, "{argv:?}");
            assert_eq!(args.switch("x"), *x, "{argv:?}");
        }
    }

    #[test]
    fn operand_mode_still_rejects_unknown_options() {
        let table: &[(&[&str], &str)] = &[
            (
                &["a", "--nope"],
                "unknown option `--nope` (known: --out, --x, --help)",
            ),
            (&["-q"], "unexpected argument `-q`"),
            (&["a", "--out"], "--out needs a value"),
            (&["--FILE"], "unknown option `--FILE`"),
        ];
        for (argv, expected) in table {
            let failure = run_operands(argv).unwrap_err();
            assert_eq!(failure.code, 2, "{argv:?}");
            assert!(
                failure.message.contains(expected),
                "{argv:?}: {}",
                failure.message
            );
        }
        assert_eq!(run_operands(&["a", "-h"]).unwrap(), Parsed::Help);
        // Without operands in the spec, `--` stays an unknown option.
        assert!(
            run(&["--", "a"])
                .unwrap_err()
                .message
                .contains("unknown option `--`")
        );
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
