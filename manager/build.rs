//! Rebuilds the manager when the web UI's build output changes. `rust-embed` reads
//! `web/dist` at compile time, and cargo tracks only the files it found then: a manager built
//! before `scripts/build-web.sh` first ran would keep serving the "not built" page forever.
//! Watching the folder (cargo scans it whole; a missing folder re-runs this script on every
//! build until it exists) ties the binary to the UI build it embeds.

fn main() {
    println!("cargo:rerun-if-changed=../web/dist");
    println!("cargo:rerun-if-changed=build.rs");
}
