//! The built-in Java runtime: its sources (compiled into the binary), compiled with the
//! host's `javac` into `<runtime dir>/java/classes` (`/var/runtime/java/classes` in the
//! sandbox), and the host paths outside `/usr` the JDK needs inside the sandbox.
//!
//! Why compile at all: `java Bootstrap.java` (single-file source launch) compiles on
//! every cold start, over a second of javac per environment; a class dir starts in the
//! JVM's own time. Why on the first Java cold start and not at server start: javac
//! takes seconds of CPU, and most servers never run a Java function. The result is kept
//! under the data dir, keyed by the sources and the JDK's version, so a restarted server
//! (or a second one on the same data dir) does not compile again.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use sha2::{Digest, Sha256};

/// The bootstrap's sources, as `quiver/runtime/<name>` (its package).
const SOURCES: &[(&str, &str)] = &[
    (
        "Bootstrap.java",
        include_str!("../../../runtimes/java/quiver/runtime/Bootstrap.java"),
    ),
    (
        "Convert.java",
        include_str!("../../../runtimes/java/quiver/runtime/Convert.java"),
    ),
    (
        "Handler.java",
        include_str!("../../../runtimes/java/quiver/runtime/Handler.java"),
    ),
    (
        "Invocation.java",
        include_str!("../../../runtimes/java/quiver/runtime/Invocation.java"),
    ),
    (
        "Json.java",
        include_str!("../../../runtimes/java/quiver/runtime/Json.java"),
    ),
    (
        "RuntimeApi.java",
        include_str!("../../../runtimes/java/quiver/runtime/RuntimeApi.java"),
    ),
];

/// The bootstrap's main class.
pub const MAIN_CLASS: &str = "quiver.runtime.Bootstrap";
/// Where the compiled classes are, relative to the runtime dir.
pub const CLASSES: &str = "java/classes";
/// Records which sources and JDK the classes were built from.
const STAMP: &str = ".quiver-stamp";

/// The JVM flags of Lambda's Java runtimes (fast start over peak throughput: C1 only,
/// serial GC, the CDS archive), the heap bounded by the function's memory rather than
/// the host's RAM. A function's own flags go in JAVA_TOOL_OPTIONS, which the JVM reads
/// from the environment, as on Lambda. `file.encoding=UTF-8`: the sandbox has no locale
/// files, so a JDK before 18 would take US-ASCII from the C locale, where Lambda's
/// `LANG=en_US.UTF-8` names an installed locale and gives UTF-8.
pub fn jvm_args(memory_mb: u32) -> Vec<String> {
    let heap = (u64::from(memory_mb) * 85 / 100).max(16);
    vec![
        "-XX:+TieredCompilation".into(),
        "-XX:TieredStopAtLevel=1".into(),
        "-XX:+UseSerialGC".into(),
        "-Xshare:auto".into(),
        format!("-Xmx{heap}m"),
        "-Djava.net.preferIPv4Stack=true".into(),
        "-Dfile.encoding=UTF-8".into(),
    ]
}

/// The JDK home of a `java` binary (`<home>/bin/java`).
fn java_home(java: &Path) -> Option<&Path> {
    java.parent()?.parent()
}

/// Host directories outside `/usr` that the JDK's own files point into: Debian's JDK
/// keeps `lib/jvm.cfg`, `conf/` and the security files as symlinks into
/// `/etc/java-<major>-openjdk`; without it `java.security` cannot be read and every use
/// of the security providers (MessageDigest, SecureRandom, UUID.randomUUID, TLS) fails
/// with "Error loading java.security file". Each
/// target's top directory (`/etc/<name>`) is bound read-only at the same path;
/// `/etc/ssl` is skipped (the sandbox root binds the certificates itself). Computed once
/// per JDK.
pub fn jdk_binds(java: &Path) -> Vec<PathBuf> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Vec<PathBuf>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
    c.entry(java.to_path_buf())
        .or_insert_with(|| scan_binds(java))
        .clone()
}

fn scan_binds(java: &Path) -> Vec<PathBuf> {
    let Some(home) = java_home(java) else {
        return Vec::new();
    };
    let mut found = HashSet::new();
    let mut todo = vec![home.join("lib"), home.join("conf")];
    let mut visited = 0;
    while let Some(dir) = todo.pop() {
        visited += 1;
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(md) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if md.file_type().is_symlink() {
                if let Some(b) = std::fs::read_link(&p).ok().and_then(|t| bind_for(&t)) {
                    found.insert(b);
                }
            } else if md.is_dir() && visited < 256 {
                todo.push(p);
            }
        }
    }
    let mut v: Vec<PathBuf> = found.into_iter().filter(|p| p.is_dir()).collect();
    v.sort();
    v
}

/// `/etc/java-17-openjdk/jvm-amd64.cfg` → `/etc/java-17-openjdk`; None for relative
/// targets, `/usr` and `/etc/ssl`.
fn bind_for(target: &Path) -> Option<PathBuf> {
    if !target.is_absolute() || target.starts_with("/usr") || target.starts_with("/etc/ssl") {
        return None;
    }
    let mut it = target.components();
    let top: PathBuf = [it.next()?, it.next()?, it.next()?].iter().collect();
    (top.components().count() == 3).then_some(top)
}

/// What the classes are built from: the sources and the JDK (its `release` file names
/// the exact version, so no JVM has to start to learn it).
fn stamp_of(javac: &Path) -> String {
    let mut h = Sha256::new();
    for (name, text) in SOURCES {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.update([0]);
    }
    h.update(javac.to_string_lossy().as_bytes());
    if let Some(home) = javac.parent().and_then(Path::parent) {
        h.update(std::fs::read(home.join("release")).unwrap_or_default());
    }
    hex::encode(h.finalize())
}

/// Makes sure `<runtime_dir>/java/classes` holds the bootstrap compiled by the `javac`
/// beside `java`. Compiles at most once per runtime dir per process (concurrent first
/// cold starts wait for the one compile); blocks, off the async workers when possible.
pub fn ensure_compiled(runtime_dir: &Path, java: &Path) -> Result<(), String> {
    ensure_compiled_by(runtime_dir, &java.with_file_name("javac"))
}

/// The host's `javac` (symlinks resolved), for a runtime image that holds only a JRE:
/// the bootstrap is bytecode for Java 8 (see [`compile`]), so classes compiled on the
/// host run on the image's JVM of any later major.
pub fn host_javac() -> Option<PathBuf> {
    ["/usr/bin/javac", "/usr/local/bin/javac"]
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok())
}

/// [`ensure_compiled`] with a given `javac`.
pub fn ensure_compiled_by(runtime_dir: &Path, javac: &Path) -> Result<(), String> {
    static DONE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if done.iter().any(|d| d == runtime_dir) {
        return Ok(());
    }
    let run = || compile(runtime_dir, javac);
    let multi = tokio::runtime::Handle::try_current()
        .map(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
        .unwrap_or(false);
    if multi {
        tokio::task::block_in_place(run)?;
    } else {
        run()?;
    }
    done.push(runtime_dir.to_path_buf());
    Ok(())
}

fn compile(runtime_dir: &Path, javac: &Path) -> Result<(), String> {
    let classes = runtime_dir.join(CLASSES);
    let stamp = stamp_of(javac);
    if std::fs::read_to_string(classes.join(STAMP)).ok().as_deref() == Some(stamp.as_str()) {
        return Ok(());
    }
    if !javac.is_file() {
        return Err(format!(
            "the Java runtime needs {} to compile its bootstrap",
            javac.display()
        ));
    }
    let started = Instant::now();
    let build = runtime_dir.join(format!("java/.build-{}", std::process::id()));
    let io = |what: &str, p: &Path, e: std::io::Error| format!("{what} {}: {e}", p.display());
    let _ = std::fs::remove_dir_all(&build);
    let src = build.join("src/quiver/runtime");
    std::fs::create_dir_all(&src).map_err(|e| io("mkdir", &src, e))?;
    let mut files = Vec::new();
    for (name, text) in SOURCES {
        let p = src.join(name);
        std::fs::write(&p, text).map_err(|e| io("write", &p, e))?;
        files.push(p);
    }
    let out = build.join("classes");
    // Bytecode for Java 8 runs on every later JVM, so one build serves every java* id.
    let attempt = |release: bool| {
        let mut c = Command::new(javac);
        c.env_clear()
            .args([
                "-J-XX:TieredStopAtLevel=1",
                "-J-XX:+UseSerialGC",
                "-J-Xshare:auto",
            ])
            .args(["-encoding", "UTF-8", "-nowarn", "-Xlint:-options", "-d"])
            .arg(&out);
        if release {
            c.args(["--release", "8"]);
        }
        c.args(&files).output()
    };
    let mut result = attempt(true).map_err(|e| format!("run {}: {e}", javac.display()))?;
    if !result.status.success() {
        // A JDK that no longer targets Java 8: its own release is all it needs to run.
        result = attempt(false).map_err(|e| format!("run {}: {e}", javac.display()))?;
    }
    if !result.status.success() {
        let _ = std::fs::remove_dir_all(&build);
        return Err(format!(
            "{} could not compile the Java bootstrap: {}",
            javac.display(),
            String::from_utf8_lossy(&result.stderr).trim()
        ));
    }
    std::fs::write(out.join(STAMP), &stamp).map_err(|e| io("write", &out, e))?;
    let _ = std::fs::remove_dir_all(&classes);
    std::fs::rename(&out, &classes).map_err(|e| io("install", &classes, e))?;
    let _ = std::fs::remove_dir_all(&build);
    tracing::info!(
        javac = %javac.display(),
        ms = started.elapsed().as_millis() as u64,
        "compiled the built-in Java bootstrap"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_are_top_directories_outside_usr_and_ssl() {
        assert_eq!(
            bind_for(Path::new("/etc/java-17-openjdk/jvm-amd64.cfg")),
            Some(PathBuf::from("/etc/java-17-openjdk"))
        );
        assert_eq!(
            bind_for(Path::new("/etc/java-17-openjdk/security/java.security")),
            Some(PathBuf::from("/etc/java-17-openjdk"))
        );
        assert_eq!(bind_for(Path::new("/etc/ssl/certs/java/cacerts")), None);
        assert_eq!(bind_for(Path::new("/usr/share/x")), None);
        assert_eq!(bind_for(Path::new("../../x")), None);
        assert_eq!(bind_for(Path::new("/etc")), None);
    }

    #[test]
    fn stamp_changes_with_the_jdk() {
        let a = stamp_of(Path::new("/nonexistent/a/bin/javac"));
        assert_eq!(a, stamp_of(Path::new("/nonexistent/a/bin/javac")));
        assert_ne!(a, stamp_of(Path::new("/nonexistent/b/bin/javac")));
    }

    #[test]
    fn heap_follows_memory() {
        assert!(jvm_args(1024).contains(&"-Xmx870m".to_string()));
        assert!(jvm_args(1).contains(&"-Xmx16m".to_string()));
    }
}
