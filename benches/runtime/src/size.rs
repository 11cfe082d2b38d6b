//! Binary sizes: the x86_64 release binaries, and arm64 ones where that rustup target is installed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const ARM64: &str = "aarch64-unknown-linux-gnu";

/// Sizes in bytes; arm64 is a reason when there is no arm64 binary to measure.
pub struct Sizes {
    pub x86_64: u64,
    pub arm64: Result<u64, String>,
}

/// Where arm64 release binaries would be, given the x86_64 ones' directory (`<target>/release`); a reason
/// when the target is not installed. Nothing is ever downloaded.
pub fn arm64_dir(bin_dir: &Path) -> Result<PathBuf, String> {
    let listed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("arm64: not checked (rustup: {e})"))?;
    let installed = String::from_utf8_lossy(&listed.stdout).lines().any(|target| target.trim() == ARM64);
    if !installed {
        return Err("arm64: target not installable here".into());
    }
    let target_dir = bin_dir.parent().ok_or("arm64: no target directory above the binaries")?;
    Ok(target_dir.join(ARM64).join("release"))
}

pub fn measure(bin_dir: &Path, name: &str, arm64_dir: &Result<PathBuf, String>) -> Result<Sizes, String> {
    let path = bin_dir.join(name);
    let x86_64 = fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?.len();
    let arm64 = match arm64_dir {
        Ok(dir) => fs::metadata(dir.join(name)).map(|m| m.len()).map_err(|_| format!("arm64: {name} not built")),
        Err(why) => Err(why.clone()),
    };
    Ok(Sizes { x86_64, arm64 })
}
