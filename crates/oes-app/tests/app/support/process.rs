//! A process of its own for the few tests that act on or measure the whole process (a signal to
//! itself, its peak memory): every other test shares this binary's process and runs beside them.

use std::process::Command;

/// Names the one test a child process is started for.
const CHILD_RUNS: &str = "OES_TEST_CHILD_RUNS";

/// Whether the calling test should run its body here: `true` in the child process started for
/// it; in any other process it runs the test in such a child, asserts that it passed, and
/// answers `false`. `module` is the test's `module_path!()`, `test` its function's name.
pub fn in_own_process(module: &str, test: &str) -> bool {
    // libtest names a test by its path inside the crate, without the crate's own name.
    let path = match module.split_once("::") {
        Some((_crate, inner)) => format!("{inner}::{test}"),
        None => test.to_owned(),
    };
    if std::env::var(CHILD_RUNS).is_ok_and(|v| v == path) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(exe)
        .args([path.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_RUNS, &path)
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{path} in a process of its own: {}\n{stdout}\n{stderr}",
        out.status
    );
    // Shown with --nocapture, like the output of any other test.
    eprint!("{stderr}");
    false
}
