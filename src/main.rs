//! The `runner` binary: all the work lives in the library.

/// mimalloc, not the system's allocator: a run at 100,000 gates holds millions of small
/// allocations (paths, names, runs) made and freed on several threads, where glibc's per-thread
/// arenas kept about 80 MiB of freed memory resident (`bench/RESULTS.md`, 2026-11-29, fourth
/// session). Built without transparent huge pages (`no_thp`): with them a 2,500-gate run held
/// 42 MiB instead of 18.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option: its place in mimalloc v3's `mi_option_e`.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    // Give freed memory back to the system at once rather than after a second: a run drops its
    // stat cache and expanded inputs before it builds the report, and the report's memory
    // should take their place, not add to them (265 MiB at 100,000 gates instead of 308). A
    // default, so `MIMALLOC_PURGE_DELAY` in the environment still wins.
    // SAFETY: sets an option's default value; mimalloc reads it on its next purge.
    unsafe { libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, 0) };
    runner::cli::main()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // mimalloc v3's default purge delay is 1,000 ms, and no option beside it defaults to
        // that: if an upgrade renumbers the options, this fails rather than `main` setting
        // another option to 0.
        // SAFETY: reads an option's value.
        let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert!(
            delay == 1000 || std::env::var_os("MIMALLOC_PURGE_DELAY").is_some(),
            "option {MI_OPTION_PURGE_DELAY} is {delay}, not mimalloc's purge delay"
        );
    }
}
