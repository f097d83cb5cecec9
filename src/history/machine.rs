//! The machine fingerprint recorded with measured values: runs on different machines are not
//! comparable, so a baseline holds only values measured on a machine with the same one.
//!
//! The fingerprint is a short hash of the CPU model (`/proc/cpuinfo`), the number of logical
//! CPUs, the OS and architecture, and the runner's version (a new runner may measure
//! differently). `RUNNER_MACHINE` overrides it: a fleet of identical CI runners whose CPU model
//! string varies, or a team that decides two machines compare, sets the same label on each.

/// What the fingerprint is made of, in words (for `runner baseline show`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Machine {
    /// The short hash recorded in the history (or `RUNNER_MACHINE` as given).
    pub id: String,
    /// `AMD EPYC 7763 64-Core Processor, 2 CPUs, linux/x86_64, runner 0.1.0`.
    pub description: String,
}

impl Machine {
    /// This machine, with `env` giving `RUNNER_MACHINE`.
    #[must_use]
    pub(crate) fn current(env: &dyn Fn(&str) -> Option<String>) -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| cpu_model(&info))
            .unwrap_or_else(|| "unknown CPU".to_owned());
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Machine::of(
            &cpu,
            cpus,
            env("RUNNER_MACHINE").filter(|m| !m.trim().is_empty()),
        )
    }

    /// The fingerprint of a CPU model and count on this OS, architecture and runner version;
    /// `label` (`RUNNER_MACHINE`) replaces the hash.
    #[must_use]
    pub(crate) fn of(cpu: &str, cpus: usize, label: Option<String>) -> Machine {
        let description = format!(
            "{cpu}, {cpus} CPU{}, {}/{}, runner {}",
            if cpus == 1 { "" } else { "s" },
            std::env::consts::OS,
            std::env::consts::ARCH,
            env!("CARGO_PKG_VERSION")
        );
        let id = label.map_or_else(
            || {
                let hash = blake3::hash(description.as_bytes());
                crate::vocab::cache_key::hex(&hash.as_bytes()[..6])
            },
            |l| l.trim().to_owned(),
        );
        Machine { id, description }
    }
}

/// The first `model name` of `/proc/cpuinfo` (x86), else its `Hardware`/`CPU part` lines (arm).
fn cpu_model(info: &str) -> Option<String> {
    let field = |name: &str| {
        info.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_owned())
        })
    };
    field("model name")
        .or_else(|| field("Hardware"))
        .or_else(|| field("CPU part").map(|p| format!("CPU part {p}")))
        .filter(|m| !m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_follows_cpu_model_and_count_and_a_label_replaces_it() {
        let a = Machine::of("AMD EPYC 7763", 2, None);
        assert_eq!(a, Machine::of("AMD EPYC 7763", 2, None));
        assert_eq!(a.id.len(), 12);
        assert_ne!(a.id, Machine::of("AMD EPYC 7763", 4, None).id);
        assert_ne!(a.id, Machine::of("Intel Xeon 8375C", 2, None).id);
        assert!(
            a.description.starts_with("AMD EPYC 7763, 2 CPUs, "),
            "{}",
            a.description
        );
        assert_eq!(
            Machine::of("x", 2, Some("ci-large ".to_owned())).id,
            "ci-large"
        );
    }

    #[test]
    fn the_cpu_model_is_read_from_cpuinfo() {
        let x86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7763 64-Core Processor\n";
        assert_eq!(
            cpu_model(x86).as_deref(),
            Some("AMD EPYC 7763 64-Core Processor")
        );
        let arm = "processor\t: 0\nCPU part\t: 0xd0c\n";
        assert_eq!(cpu_model(arm).as_deref(), Some("CPU part 0xd0c"));
        assert_eq!(cpu_model(""), None);
    }
}
