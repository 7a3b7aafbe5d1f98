//! The OpenAPI document is usable as a typed contract: openapi-typescript turns it into a
//! TypeScript `paths` type, and code using a few operations' request and response types
//! compiles under `tsc --strict`.
//!
//! The node tools are pinned in `tests/openapi_ts/` (`npm ci` there; scripts/test does it).

use std::path::{Path, PathBuf};
use std::process::Command;

fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openapi_ts")
}

fn npx(dir: &Path, args: &[&str]) -> (bool, String) {
    match Command::new("npx")
        .arg("--no-install")
        .args(args)
        .current_dir(dir)
        .output()
    {
        Ok(out) => (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ),
        Err(e) => (false, format!("cannot run npx: {e}")),
    }
}

#[test]
fn the_openapi_document_generates_a_typescript_client_that_type_checks() {
    let package = package_dir();
    assert!(
        package
            .join("node_modules/.bin/openapi-typescript")
            .exists()
            && package.join("node_modules/.bin/tsc").exists(),
        "node_modules is missing in {}: run `npm ci` there (scripts/test does)",
        package.display()
    );
    let tmp = tempfile::tempdir().expect("a temp dir");
    let doc = tmp.path().join("openapi.json");
    std::fs::write(&doc, oes_app::http::openapi::document_json()).expect("write the document");
    std::fs::copy(package.join("client.ts"), tmp.path().join("client.ts")).expect("copy client.ts");

    let api = tmp.path().join("api.d.ts");
    let (ok, out) = npx(
        &package,
        &[
            "openapi-typescript",
            doc.to_str().expect("utf-8 path"),
            "--output",
            api.to_str().expect("utf-8 path"),
        ],
    );
    assert!(ok, "openapi-typescript failed:\n{out}");
    let generated = std::fs::read_to_string(&api).expect("api.d.ts written");
    assert!(
        generated.contains("\"/api/exam/create\""),
        "the generated types lack the exam routes"
    );

    let (ok, out) = npx(
        &package,
        &[
            "tsc",
            "--noEmit",
            "--strict",
            "--target",
            "ES2022",
            "--module",
            "ESNext",
            "--moduleResolution",
            "Bundler",
            tmp.path().join("client.ts").to_str().expect("utf-8 path"),
        ],
    );
    assert!(ok, "tsc rejected the client code:\n{out}");
}
