//! How each runtime is started inside a sandbox: command line and environment.
//! Pure: turns a [`FunctionSpec`] into a [`SandboxSpec`].

use std::path::Path;

use quiver_model::RuntimeKind;
use quiver_sandbox::{Assignment, SandboxSpec};

use crate::FunctionSpec;

/// Where the Runtime API listens inside every environment.
pub const RUNTIME_API_ADDR: &str = "127.0.0.1:9001";
/// Where the built-in bootstraps are shown inside the sandbox.
pub const RUNTIME_DIR: &str = "/var/runtime";
/// Where the function's code is shown inside the sandbox.
pub const TASK_ROOT: &str = "/var/task";
/// UTS hostname of every environment (pre-made sandboxes are built with it).
pub const HOSTNAME: &str = "sandbox";

/// Everything needed to start one environment of `spec`.
pub struct Launch {
    /// The sandbox to create.
    pub sandbox: SandboxSpec,
    /// Log stream name of the environment (`YYYY/MM/DD/[version]id`).
    pub log_stream: String,
}

/// The `AWS_LAMBDA_LOG_STREAM_NAME` of an environment created on `date` (`YYYY/MM/DD`).
pub fn log_stream_name(date: &str, version: &str, env_id: &str) -> String {
    format!("{date}/[{version}]{env_id}")
}

/// Builds the sandbox spec. `interpreter` is required for Python, Node and Java. For
/// Java, the first call per runtime dir compiles the bootstrap (see `java.rs`).
pub fn launch(
    spec: &FunctionSpec,
    kind: &RuntimeKind,
    interpreter: Option<&Path>,
    runtime_dir: &Path,
    env_id: &str,
    date: &str,
) -> Result<Launch, String> {
    let log_stream = log_stream_name(date, &spec.version, env_id);
    let argv = match kind {
        RuntimeKind::Python { .. } => {
            let py = interpreter.ok_or("no python interpreter")?;
            vec![
                py.display().to_string(),
                "-I".into(),
                "-S".into(),
                format!("{RUNTIME_DIR}/bootstrap.py"),
            ]
        }
        RuntimeKind::Node { .. } => {
            let node = interpreter.ok_or("no node interpreter")?;
            // V8 sizes its heap from the host's RAM otherwise (docs/wire.md §5.2).
            let heap = (u64::from(spec.memory_mb) * 85 / 100).max(64);
            vec![
                node.display().to_string(),
                format!("--max-old-space-size={heap}"),
                format!("{RUNTIME_DIR}/bootstrap.mjs"),
            ]
        }
        RuntimeKind::Java { .. } => {
            let java = interpreter.ok_or("no java interpreter")?;
            crate::java::ensure_compiled(runtime_dir, java)?;
            java_argv(java, spec.memory_mb)
        }
        RuntimeKind::Ruby { .. } => {
            let ruby = interpreter.ok_or("no ruby interpreter")?;
            vec![
                ruby.display().to_string(),
                format!("{RUNTIME_DIR}/bootstrap.rb"),
            ]
        }
        RuntimeKind::Provided => vec![format!("{TASK_ROOT}/bootstrap")],
        RuntimeKind::Unsupported => return Err("Quiver has no bootstrap for this runtime".into()),
    };
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), "/usr/local/bin:/usr/bin/:/bin:/opt/bin".into()),
        ("LANG".into(), "en_US.UTF-8".into()),
        ("TZ".into(), ":UTC".into()),
        (
            "LD_LIBRARY_PATH".into(),
            format!("/lib64:/usr/lib64:{RUNTIME_DIR}:{RUNTIME_DIR}/lib:{TASK_ROOT}:{TASK_ROOT}/lib:/opt/lib"),
        ),
    ];
    if let RuntimeKind::Node { major } = kind {
        // Lambda's NODE_PATH: the layers' version-specific and common module folders
        // first (docs/wire.md §16.4). CommonJS `require` honours it; ESM imports do not.
        env.push((
            "NODE_PATH".into(),
            format!("/opt/nodejs/node{major}/node_modules:/opt/nodejs/node_modules:{RUNTIME_DIR}/node_modules:{RUNTIME_DIR}:{TASK_ROOT}"),
        ));
    }
    // The function's own variables may override the unreserved defaults above.
    for (k, v) in &spec.environment {
        env.retain(|(ek, _)| ek != k);
        env.push((k.clone(), v.clone()));
    }
    let mut reserved: Vec<(String, String)> = vec![
        ("_HANDLER".into(), spec.handler.clone()),
        ("LAMBDA_TASK_ROOT".into(), TASK_ROOT.into()),
        ("LAMBDA_RUNTIME_DIR".into(), RUNTIME_DIR.into()),
        ("AWS_LAMBDA_RUNTIME_API".into(), RUNTIME_API_ADDR.into()),
        ("AWS_LAMBDA_FUNCTION_NAME".into(), spec.name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), spec.version.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
            spec.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_LOG_GROUP_NAME".into(), spec.log_group.clone()),
        ("AWS_LAMBDA_LOG_STREAM_NAME".into(), log_stream.clone()),
        ("AWS_REGION".into(), spec.region.clone()),
        ("AWS_DEFAULT_REGION".into(), spec.region.clone()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into()),
    ];
    if *kind != RuntimeKind::Provided {
        reserved.push((
            "AWS_EXECUTION_ENV".into(),
            format!("AWS_Lambda_{}", spec.runtime),
        ));
    }
    for (k, v) in reserved {
        env.retain(|(ek, _)| *ek != k);
        env.push((k, v));
    }
    // The runtime's own install (a prefix, an interpreter outside /usr) is bound by
    // the engine from the catalogue; here only what the runtime kind itself needs.
    let mut extra_ro_binds = Vec::new();
    if let (RuntimeKind::Java { .. }, Some(java)) = (kind, interpreter) {
        extra_ro_binds.extend(crate::java::jdk_binds(java));
    }
    let sandbox = SandboxSpec {
        memory_mb: spec.memory_mb,
        ephemeral_mb: spec.ephemeral_mb,
        code_dir: spec.code_dir.clone(),
        runtime_dir: Some(runtime_dir.to_path_buf()),
        image_root: None,
        // The runtime's own binds (an install prefix) come from the catalogue: the
        // engine adds `AvailableRuntime::binds`.
        extra_ro_binds,
        argv,
        env,
        cwd: TASK_ROOT.into(),
        hostname: HOSTNAME.into(),
        // The Runtime API listener must exist before the runtime's first request.
        hold: true,
        opt_dir: spec.opt_dir.clone(),
    };
    Ok(Launch {
        sandbox,
        log_stream,
    })
}

/// What an environment started ahead of time for provisioned concurrency is told
/// instead of `on-demand`.
pub const PROVISIONED_INIT_TYPE: &str = "provisioned-concurrency";

/// Makes `l` a provisioned environment's launch (`AWS_LAMBDA_INITIALIZATION_TYPE`).
pub fn mark_provisioned(l: &mut Launch) {
    for (k, v) in &mut l.sandbox.env {
        if k == "AWS_LAMBDA_INITIALIZATION_TYPE" {
            *v = PROVISIONED_INIT_TYPE.into();
        }
    }
}

/// `java <Lambda's JVM flags> -cp /var/runtime/java/classes quiver.runtime.Bootstrap`.
pub(crate) fn java_argv(java: &Path, memory_mb: u32) -> Vec<String> {
    let mut argv = vec![java.display().to_string()];
    argv.extend(crate::java::jvm_args(memory_mb));
    argv.extend([
        "-cp".into(),
        format!("{RUNTIME_DIR}/{}", crate::java::CLASSES),
        crate::java::MAIN_CLASS.into(),
    ]);
    argv
}

/// The [`Assignment`] that turns a pre-made sandbox into the one `sandbox` describes,
/// when that is possible: its code tree is a child of `code_base` named by its SHA-256
/// (what the code store makes), its bootstraps are the pre-made sandbox's
/// `runtime_dir`, it needs no extra binds (an install prefix outside `/usr`) and no
/// layers at `/opt` (the pre-made root stages the code base there). `None`:
/// build the sandbox as usual.
///
/// Why a runtime with binds never takes a pre-made sandbox: the stock is built before
/// anyone knows which runtime it will serve, and its root is sealed read-only by then;
/// binding every configured prefix into every pre-made sandbox would show each function
/// the other runtimes' installs. Such a runtime pays a full sandbox build on a cold
/// start (see BENCHMARKS.md, "Cold start by runtime source").
pub fn assignment(
    sandbox: &SandboxSpec,
    code_base: &Path,
    runtime_dir: &Path,
) -> Option<Assignment> {
    // An image root: the pre-made stock is built on the host's root.
    if sandbox.image_root.is_some() {
        return None;
    }
    if !sandbox.extra_ro_binds.is_empty()
        || sandbox.opt_dir.is_some()
        || sandbox.runtime_dir.as_deref() != Some(runtime_dir)
    {
        return None;
    }
    if sandbox.code_dir.parent() != Some(code_base) {
        return None;
    }
    let code = sandbox.code_dir.file_name()?.to_str()?;
    if !quiver_sandbox::is_code_name(code) {
        return None;
    }
    Some(Assignment {
        code: code.to_string(),
        argv: sandbox.argv.clone(),
        env: sandbox.env.clone(),
        cwd: sandbox.cwd.clone(),
        hostname: sandbox.hostname.clone(),
        ephemeral_mb: sandbox.ephemeral_mb,
        memory_mb: sandbox.memory_mb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> FunctionSpec {
        FunctionSpec {
            name: "f".into(),
            version: "$LATEST".into(),
            arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            runtime: "python3.11".into(),
            handler: "app.handler".into(),
            memory_mb: 256,
            timeout_s: 3,
            ephemeral_mb: 512,
            environment: vec![("PATH".into(), "/custom".into()), ("MY".into(), "1".into())],
            code_dir: "/tmp".into(),
            opt_dir: None,
            image: None,
            log_group: "/aws/lambda/f".into(),
            revision: "r1".into(),
            region: "us-east-1".into(),
            reserved_concurrency: None,
        }
    }

    fn env_of(l: &Launch, k: &str) -> Option<String> {
        l.sandbox
            .env
            .iter()
            .find(|(ek, _)| ek == k)
            .map(|(_, v)| v.clone())
    }

    #[test]
    fn python_launch_has_lambda_environment() {
        let l = launch(
            &spec(),
            &RuntimeKind::Python { minor: 11 },
            Some(Path::new("/usr/bin/python3.11")),
            Path::new("/rt"),
            "abc",
            "2026/11/26",
        )
        .unwrap();
        assert_eq!(
            l.sandbox.argv,
            [
                "/usr/bin/python3.11",
                "-I",
                "-S",
                "/var/runtime/bootstrap.py"
            ]
        );
        assert_eq!(env_of(&l, "_HANDLER").unwrap(), "app.handler");
        assert_eq!(
            env_of(&l, "AWS_LAMBDA_RUNTIME_API").unwrap(),
            "127.0.0.1:9001"
        );
        assert_eq!(
            env_of(&l, "AWS_EXECUTION_ENV").unwrap(),
            "AWS_Lambda_python3.11"
        );
        assert_eq!(
            env_of(&l, "AWS_LAMBDA_LOG_STREAM_NAME").unwrap(),
            "2026/11/26/[$LATEST]abc"
        );
        assert_eq!(
            env_of(&l, "PATH").unwrap(),
            "/custom",
            "user may override unreserved vars"
        );
        assert_eq!(env_of(&l, "MY").unwrap(), "1");
        assert_eq!(l.sandbox.env.iter().filter(|(k, _)| k == "PATH").count(), 1);
        assert_eq!(l.sandbox.cwd, "/var/task");
    }

    #[test]
    fn environments_say_how_they_were_initialised() {
        let mut l = launch(
            &spec(),
            &RuntimeKind::Python { minor: 11 },
            Some(Path::new("/usr/bin/python3.11")),
            Path::new("/rt"),
            "abc",
            "d",
        )
        .unwrap();
        assert_eq!(
            env_of(&l, "AWS_LAMBDA_INITIALIZATION_TYPE").unwrap(),
            "on-demand"
        );
        mark_provisioned(&mut l);
        assert_eq!(
            env_of(&l, "AWS_LAMBDA_INITIALIZATION_TYPE").unwrap(),
            "provisioned-concurrency"
        );
    }

    #[test]
    fn provided_runs_the_package_bootstrap_without_execution_env() {
        let l = launch(
            &spec(),
            &RuntimeKind::Provided,
            None,
            Path::new("/rt"),
            "abc",
            "2026/11/26",
        )
        .unwrap();
        assert_eq!(l.sandbox.argv, ["/var/task/bootstrap"]);
        assert!(env_of(&l, "AWS_EXECUTION_ENV").is_none());
    }

    #[test]
    fn assignment_only_for_sha_named_trees_of_the_code_base() {
        let sha = "0a".repeat(32);
        let mut f = spec();
        f.code_dir = Path::new("/data/code").join(&sha);
        let l = launch(
            &f,
            &RuntimeKind::Python { minor: 11 },
            Some(Path::new("/usr/bin/python3.11")),
            Path::new("/rt"),
            "abc",
            "d",
        )
        .unwrap();
        let a = assignment(&l.sandbox, Path::new("/data/code"), Path::new("/rt")).unwrap();
        assert_eq!(a.code, sha);
        assert_eq!(a.argv, l.sandbox.argv);
        assert_eq!(a.env, l.sandbox.env);
        assert_eq!(
            (a.memory_mb, a.ephemeral_mb, a.cwd.as_str()),
            (256, 512, "/var/task")
        );
        assert!(assignment(&l.sandbox, Path::new("/other/code"), Path::new("/rt")).is_none());
        assert!(assignment(&l.sandbox, Path::new("/data/code"), Path::new("/rt2")).is_none());
        let mut extra = l.sandbox.clone();
        extra.extra_ro_binds.push("/opt/node".into());
        assert!(assignment(&extra, Path::new("/data/code"), Path::new("/rt")).is_none());
        let mut layered = l.sandbox.clone();
        layered.opt_dir = Some("/data/opt/x".into());
        assert!(assignment(&layered, Path::new("/data/code"), Path::new("/rt")).is_none());
        let mut odd = l.sandbox.clone();
        odd.code_dir = Path::new("/data/code").join("..");
        assert!(assignment(&odd, Path::new("/data/code"), Path::new("/rt")).is_none());
        odd.code_dir = Path::new("/data/code/not-a-sha").into();
        assert!(assignment(&odd, Path::new("/data/code"), Path::new("/rt")).is_none());
    }

    #[test]
    fn java_argv_runs_the_compiled_bootstrap() {
        let argv = java_argv(Path::new("/usr/lib/jvm/j17/bin/java"), 512);
        assert_eq!(argv[0], "/usr/lib/jvm/j17/bin/java");
        assert!(argv.contains(&"-XX:TieredStopAtLevel=1".to_string()));
        assert!(argv.contains(&"-Xmx435m".to_string()));
        assert_eq!(
            argv[argv.len() - 3..],
            [
                "-cp",
                "/var/runtime/java/classes",
                "quiver.runtime.Bootstrap"
            ]
        );
    }

    #[test]
    fn node_heap_follows_memory() {
        let l = launch(
            &spec(),
            &RuntimeKind::Node { major: 20 },
            Some(Path::new("/usr/bin/node")),
            Path::new("/rt"),
            "abc",
            "d",
        )
        .unwrap();
        assert_eq!(l.sandbox.argv[1], "--max-old-space-size=217");
        assert_eq!(
            env_of(&l, "NODE_PATH").unwrap(),
            "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task"
        );
    }
}
