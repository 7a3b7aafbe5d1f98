//! The browser tests' set-up: Debian's Chromium, driven by the pinned `playwright-core` in
//! `tests/browser` (its scripts print one JSON report line for the Rust test to assert on).

use std::path::{Path, PathBuf};
use std::process::Command;

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// `tests/browser`, with its packages installed: `npm ci` once, from the committed lock file.
pub fn prepared_dir() -> PathBuf {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: `apt-get install chromium` (scripts/test installs it)"
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if !dir
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .expect("npm runs (install Node.js and npm; scripts/test does)");
        assert!(status.success(), "npm ci failed in {}", dir.display());
    }
    dir
}

/// The last line of a script's output that is a JSON object: its report.
pub fn report(stdout: &str, stderr: &str) -> serde_json::Value {
    stdout
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(serde_json::Value::is_object)
        .unwrap_or_else(|| panic!("no JSON report; stdout: {stdout}\nstderr: {stderr}"))
}
