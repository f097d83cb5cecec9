//! `registry-stub` refuses to start in a production environment, before it
//! binds a port.

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Hang guard, not a performance bound: the refusal comes before the stub
/// binds, so it exits at once; without the refusal it would serve forever.
const HANG_GUARD: Duration = Duration::from_secs(10);

#[test]
fn node_env_production_is_refused_and_named() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_registry-stub"))
        .args(["--port", "0"])
        .env_remove("RUNNER_ENV")
        .env_remove("APP_ENV")
        .env_remove("ENV")
        .env("NODE_ENV", "production")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start registry-stub");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for registry-stub") {
            break status;
        }
        if started.elapsed() > HANG_GUARD {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "registry-stub still running {HANG_GUARD:?} after start with NODE_ENV=production"
            );
        }
        sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .expect("stdout piped")
        .read_to_string(&mut stdout)
        .expect("read stdout");
    child
        .stderr
        .take()
        .expect("stderr piped")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    assert!(!status.success(), "{status:?}\n{stdout}\n{stderr}");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "registry-stub: error: refusing to start: NODE_ENV=production names a production \
         environment; the dev stub keeps state in memory only\n"
    );
    assert!(!stdout.contains("DEV-STUB ACTIVE"), "{stdout}");
}
