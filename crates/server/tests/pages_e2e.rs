//! The account pages in a real browser: the scripts in `e2e/` (playwright-core driving the system's Chromium) start
//! the built binary in an empty folder, take the link from the mail it writes, and finish each flow in the page.
//!
//! They need node, `/usr/bin/chromium` and `e2e/node_modules` (`npm ci --prefix e2e`). Without them a test is
//! skipped with a message written straight to stderr, except under `CI=true`, where that is a failure.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the scripts launch Chromium from (Debian's package).
const CHROMIUM: &str = "/usr/bin/chromium";

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository root")
}

/// What the browser tests need and this machine lacks, each with how to get it.
fn missing_tools(root: &Path) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if !Command::new("node").arg("--version").output().is_ok_and(|output| output.status.success()) {
        missing.push("node (apt-get install -y nodejs npm)");
    }
    if !Path::new(CHROMIUM).exists() {
        missing.push("/usr/bin/chromium (apt-get install -y chromium)");
    }
    if !root.join("e2e/node_modules/playwright-core").is_dir() {
        missing.push("e2e/node_modules (npm ci --prefix e2e)");
    }
    missing
}

/// Runs `node e2e/SCRIPT` against the binary this build made; fails with the script's output if it fails.
fn run_browser_test(script: &str) {
    let root = repository_root();
    let missing = missing_tools(&root);
    if !missing.is_empty() {
        let why = format!("missing {}", missing.join(", "));
        assert!(
            !std::env::var("CI").is_ok_and(|ci| ci == "true"),
            "the browser test e2e/{script} cannot run: {why}; tests cannot be skipped under CI=true"
        );
        // Straight to stderr: libtest shows captured output only for failing tests, and a skip must be seen.
        let _ = writeln!(std::io::stderr().lock(), "SKIPPED e2e/{script}: skipped, it did not run: {why}.");
        return;
    }
    let output = Command::new("node")
        .arg(root.join("e2e").join(script))
        .current_dir(&root)
        .env("USERS_SERVER_BIN", env!("CARGO_BIN_EXE_users-server"))
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Shown by libtest when the test fails, or under --nocapture.
    println!("{stdout}");
    assert!(output.status.success(), "e2e/{script} failed ({}):\n{stdout}\n{stderr}", output.status);
}

#[test]
fn given_a_reset_mail_when_its_link_is_followed_in_a_browser_then_only_the_new_password_signs_in() {
    run_browser_test("reset_password.mjs");
}

#[test]
fn given_a_sign_up_mail_when_its_link_is_confirmed_in_a_browser_then_the_address_is_verified() {
    run_browser_test("verify_email.mjs");
}
