//! How a runtime image is started (docs/wire.md §17): the image's own bootstrap on the
//! image's root, or, for an image that holds only an interpreter, Quiver's built-in
//! bootstrap of the id's kind run by it, with the same Lambda environment as every
//! runtime. Pure, but for the one-time compile of the Java bootstrap (`java.rs`).

use std::path::Path;

use quiver_model::{ImageRuntime, RuntimeKind};

use crate::launch::{launch, Launch, TASK_ROOT};
use crate::spec::ImageSpec;
use crate::FunctionSpec;

/// Variables an image's config cannot set: Lambda's reserved ones, which the platform
/// sets per function and environment.
fn reserved(name: &str) -> bool {
    name == "_HANDLER"
        || name == "_X_AMZN_TRACE_ID"
        || name.starts_with("AWS_")
        || name.starts_with("LAMBDA_")
}

/// Builds the sandbox spec of `spec` on `image`: its command (the handler appended
/// when it is an Entrypoint), its config's Env above Quiver's defaults and below the
/// function's own variables, its root as `/`, and no built-in bootstraps at
/// `/var/runtime` (the image's own are there). An image with an empty command runs
/// the built-in bootstrap of `kind` with `interpreter` (a path inside the image), and
/// the built-in bootstraps are bound at `/var/runtime` as on the host.
pub fn launch_image(
    spec: &FunctionSpec,
    kind: &RuntimeKind,
    image: &ImageRuntime,
    interpreter: Option<&Path>,
    runtime_dir: &Path,
    env_id: &str,
    date: &str,
) -> Result<Launch, String> {
    let builtin = image.command.is_empty();
    // Java's launch would compile with the javac beside `interpreter` and bind the
    // host JDK's /etc dirs: both are the host's, not the image's, so Java is built here.
    let base_kind = match kind {
        RuntimeKind::Java { .. } => &RuntimeKind::Provided,
        _ if builtin => kind,
        _ => &RuntimeKind::Provided,
    };
    let mut l = launch(spec, base_kind, interpreter, runtime_dir, env_id, date)?;
    let argv = if builtin {
        match kind {
            RuntimeKind::Java { .. } => {
                let java = interpreter.ok_or("the image names no java")?;
                let javac = crate::java::host_javac().ok_or(
                    "the image has no bootstrap of its own, and compiling Quiver's Java bootstrap needs a javac on the host",
                )?;
                crate::java::ensure_compiled_by(runtime_dir, &javac)?;
                crate::launch::java_argv(java, spec.memory_mb)
            }
            _ => std::mem::take(&mut l.sandbox.argv),
        }
    } else {
        let mut argv = image.command.clone();
        if image.handler_arg {
            argv.push(spec.handler.clone());
        }
        argv
    };
    if argv.is_empty() {
        return Err("the image has no command".into());
    }
    let own = |k: &str| spec.environment.iter().any(|(ek, _)| ek == k);
    for (k, v) in &image.env {
        if reserved(k) || own(k) {
            continue;
        }
        match l.sandbox.env.iter_mut().find(|(ek, _)| ek == k) {
            Some(slot) => slot.1 = v.clone(),
            None => l.sandbox.env.push((k.clone(), v.clone())),
        }
    }
    if *kind != RuntimeKind::Provided {
        l.sandbox.env.retain(|(k, _)| k != "AWS_EXECUTION_ENV");
        l.sandbox.env.push((
            "AWS_EXECUTION_ENV".into(),
            format!("AWS_Lambda_{}", spec.runtime),
        ));
    }
    l.sandbox.argv = argv;
    l.sandbox.extra_ro_binds.clear();
    if !builtin {
        l.sandbox.runtime_dir = None;
    }
    l.sandbox.image_root = Some(image.root.clone());
    l.sandbox.cwd = TASK_ROOT.into();
    Ok(l)
}

/// Builds the sandbox spec of a container-image function (docs/wire.md §17.4): the
/// image's root as `/` and its own `/var/task` as the code (bound onto itself, so the
/// function's files are the image's), its ENTRYPOINT + CMD as the runtime process in
/// its working directory, with Lambda's environment; the image's Env fills in what
/// neither Lambda nor the function sets (as for runtime images). No built-in
/// bootstraps at `/var/runtime`: the image brings its runtime client.
pub fn launch_function_image(
    spec: &FunctionSpec,
    image: &ImageSpec,
    runtime_dir: &Path,
    env_id: &str,
    date: &str,
) -> Result<Launch, String> {
    if image.argv.is_empty() {
        return Err("the image has neither an ENTRYPOINT nor a CMD".into());
    }
    let mut l = launch(
        spec,
        &RuntimeKind::Provided,
        None,
        runtime_dir,
        env_id,
        date,
    )?;
    let own = |k: &str| spec.environment.iter().any(|(ek, _)| ek == k);
    for (k, v) in &image.env {
        if reserved(k) || own(k) {
            continue;
        }
        match l.sandbox.env.iter_mut().find(|(ek, _)| ek == k) {
            Some(slot) => slot.1 = v.clone(),
            None => l.sandbox.env.push((k.clone(), v.clone())),
        }
    }
    l.sandbox.argv = image.argv.clone();
    l.sandbox.runtime_dir = None;
    l.sandbox.extra_ro_binds.clear();
    l.sandbox.code_dir = image.root.join(TASK_ROOT.trim_start_matches('/'));
    l.sandbox.image_root = Some(image.root.clone());
    l.sandbox.cwd = image.working_dir.clone();
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> FunctionSpec {
        FunctionSpec {
            name: "f".into(),
            version: "$LATEST".into(),
            arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            runtime: "python3.13".into(),
            handler: "app.handler".into(),
            memory_mb: 256,
            timeout_s: 3,
            ephemeral_mb: 512,
            environment: vec![("MINE".into(), "fn".into())],
            code_dir: "/tmp".into(),
            log_group: "/aws/lambda/f".into(),
            revision: "r1".into(),
            region: "us-east-1".into(),
            reserved_concurrency: None,
            opt_dir: None,
            image: None,
        }
    }

    fn image(command: &[&str], handler_arg: bool) -> ImageRuntime {
        ImageRuntime {
            digest: format!("sha256:{}", "0a".repeat(32)),
            root: "/data/images/roots/x".into(),
            command: command.iter().map(|s| s.to_string()).collect(),
            handler_arg,
            env: [
                ("PATH", "/var/lang/bin:/usr/bin"),
                ("MINE", "image"),
                ("LANG", "C.UTF-8"),
                ("AWS_LAMBDA_FUNCTION_NAME", "spoofed"),
                ("LAMBDA_TASK_ROOT", "/elsewhere"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            os: None,
            reference: None,
        }
    }

    fn env_of(l: &Launch, k: &str) -> Vec<String> {
        l.sandbox
            .env
            .iter()
            .filter(|(ek, _)| ek == k)
            .map(|(_, v)| v.clone())
            .collect()
    }

    #[test]
    fn runs_the_image_bootstrap_with_its_env_under_the_functions() {
        let img = image(&["/var/runtime/bootstrap"], false);
        let l = launch_image(
            &spec(),
            &RuntimeKind::Python { minor: 13 },
            &img,
            None,
            Path::new("/rt"),
            "e",
            "d",
        )
        .unwrap();
        assert_eq!(l.sandbox.argv, ["/var/runtime/bootstrap"]);
        assert_eq!(
            l.sandbox.image_root.as_deref(),
            Some(Path::new("/data/images/roots/x"))
        );
        assert!(l.sandbox.runtime_dir.is_none());
        assert_eq!(env_of(&l, "PATH"), ["/var/lang/bin:/usr/bin"]);
        assert_eq!(env_of(&l, "LANG"), ["C.UTF-8"]);
        assert_eq!(
            env_of(&l, "MINE"),
            ["fn"],
            "the function's own variable wins"
        );
        assert_eq!(env_of(&l, "AWS_LAMBDA_FUNCTION_NAME"), ["f"]);
        assert_eq!(env_of(&l, "LAMBDA_TASK_ROOT"), ["/var/task"]);
        assert_eq!(env_of(&l, "LAMBDA_RUNTIME_DIR"), ["/var/runtime"]);
        assert_eq!(env_of(&l, "AWS_LAMBDA_RUNTIME_API"), ["127.0.0.1:9001"]);
        assert_eq!(env_of(&l, "_HANDLER"), ["app.handler"]);
        assert_eq!(env_of(&l, "AWS_EXECUTION_ENV"), ["AWS_Lambda_python3.13"]);
        assert_eq!(l.sandbox.cwd, "/var/task");
        // Never a pre-made sandbox: those are built on the host's root.
        assert!(
            crate::launch::assignment(&l.sandbox, Path::new("/tmp"), Path::new("/rt")).is_none()
        );
    }

    #[test]
    fn a_function_image_runs_its_own_command_on_its_own_task_root() {
        let mut s = spec();
        s.runtime = String::new();
        s.handler = "app.handler".into();
        let img = ImageSpec {
            root: "/data/images/roots/y".into(),
            argv: vec!["/lambda-entrypoint.sh".into(), "app.handler".into()],
            env: [
                ("PATH", "/var/lang/bin:/usr/bin"),
                ("MINE", "image"),
                ("AWS_LAMBDA_RUNTIME_API", "spoofed"),
                ("IMAGE_ONLY", "yes"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            working_dir: "/app".into(),
        };
        let l = launch_function_image(&s, &img, Path::new("/rt"), "e", "d").unwrap();
        assert_eq!(l.sandbox.argv, ["/lambda-entrypoint.sh", "app.handler"]);
        assert_eq!(l.sandbox.cwd, "/app");
        assert_eq!(
            l.sandbox.code_dir,
            Path::new("/data/images/roots/y/var/task")
        );
        assert_eq!(
            l.sandbox.image_root.as_deref(),
            Some(Path::new("/data/images/roots/y"))
        );
        assert!(l.sandbox.runtime_dir.is_none(), "no built-in bootstraps");
        assert_eq!(env_of(&l, "PATH"), ["/var/lang/bin:/usr/bin"]);
        assert_eq!(
            env_of(&l, "MINE"),
            ["fn"],
            "the function's own variable wins"
        );
        assert_eq!(env_of(&l, "IMAGE_ONLY"), ["yes"]);
        assert_eq!(env_of(&l, "AWS_LAMBDA_RUNTIME_API"), ["127.0.0.1:9001"]);
        assert_eq!(env_of(&l, "LAMBDA_TASK_ROOT"), ["/var/task"]);
        assert_eq!(env_of(&l, "_HANDLER"), ["app.handler"]);
        assert!(env_of(&l, "AWS_EXECUTION_ENV").is_empty());
        assert!(
            crate::launch::assignment(&l.sandbox, Path::new("/tmp"), Path::new("/rt")).is_none()
        );
        let none = ImageSpec {
            argv: vec![],
            ..img
        };
        let Err(e) = launch_function_image(&s, &none, Path::new("/rt"), "e", "d") else {
            panic!("an image without a command must be refused")
        };
        assert!(e.contains("ENTRYPOINT"), "{e}");
    }

    #[test]
    fn an_entrypoint_gets_the_handler_as_its_argument() {
        let img = image(&["/lambda-entrypoint.sh"], true);
        let mut s = spec();
        s.runtime = "provided.al2023".into();
        let l = launch_image(
            &s,
            &RuntimeKind::Provided,
            &img,
            None,
            Path::new("/rt"),
            "e",
            "d",
        )
        .unwrap();
        assert_eq!(l.sandbox.argv, ["/lambda-entrypoint.sh", "app.handler"]);
        assert!(env_of(&l, "AWS_EXECUTION_ENV").is_empty());
    }

    #[test]
    fn an_interpreter_only_image_runs_the_built_in_bootstrap() {
        let img = image(&[], false);
        let mut s = spec();
        s.runtime = "ruby3.3".into();
        s.handler = "app.Mod::Cls.run".into();
        let l = launch_image(
            &s,
            &RuntimeKind::Ruby { minor: 3 },
            &img,
            Some(Path::new("/usr/bin/ruby3.3")),
            Path::new("/rt"),
            "e",
            "d",
        )
        .unwrap();
        assert_eq!(
            l.sandbox.argv,
            ["/usr/bin/ruby3.3", "/var/runtime/bootstrap.rb"]
        );
        assert_eq!(l.sandbox.runtime_dir.as_deref(), Some(Path::new("/rt")));
        assert!(l.sandbox.image_root.is_some());
        assert_eq!(env_of(&l, "AWS_EXECUTION_ENV"), ["AWS_Lambda_ruby3.3"]);
        assert_eq!(env_of(&l, "_HANDLER"), ["app.Mod::Cls.run"]);
        assert_eq!(env_of(&l, "LANG"), ["C.UTF-8"]);
        let Err(e) = launch_image(
            &s,
            &RuntimeKind::Ruby { minor: 3 },
            &img,
            None,
            Path::new("/rt"),
            "e",
            "d",
        ) else {
            panic!("an image without the interpreter must be refused")
        };
        assert!(e.contains("no ruby"), "{e}");
    }
}
