//! The built-in runtimes: the Python, Node and Ruby bootstraps (the Runtime API clients that
//! load the user's handler), compiled into the binary so that one file is the whole
//! platform, and written under the runtime dir at start, which every sandbox shows
//! read-only at `/var/runtime`.

use std::path::Path;

use crate::EngineError;

const PYTHON_BOOTSTRAP: &str = include_str!("../../../runtimes/python/bootstrap.py");
const NODE_BOOTSTRAP: &str = include_str!("../../../runtimes/node/bootstrap.mjs");
const RUBY_BOOTSTRAP: &str = include_str!("../../../runtimes/ruby/bootstrap.rb");

/// Writes the bootstraps into `dir`, each through a temporary file and a rename, so
/// that neither a crash half-way nor a runtime starting while they are rewritten can
/// ever find a half-written bootstrap.
pub(crate) fn install(dir: &Path) -> Result<(), EngineError> {
    let err = |source| EngineError::InstallRuntimes {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    for (name, text) in [
        ("bootstrap.py", PYTHON_BOOTSTRAP),
        ("bootstrap.mjs", NODE_BOOTSTRAP),
        ("bootstrap.rb", RUBY_BOOTSTRAP),
    ] {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn writes_every_bootstrap_and_no_temporary_files() {
        let dir = std::env::temp_dir().join(format!("quiver-rt-{}", uuid::Uuid::new_v4().simple()));
        super::install(&dir).unwrap();
        super::install(&dir).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["bootstrap.mjs", "bootstrap.py", "bootstrap.rb"]);
        let py = std::fs::read_to_string(dir.join("bootstrap.py")).unwrap();
        assert_eq!(py, super::PYTHON_BOOTSTRAP);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
