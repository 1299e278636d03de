use super::unpack::tests::{file, link, tar_of, Tmp};
use super::*;
use sha2::{Digest, Sha256};

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn bootstrap() -> super::unpack::tests::E {
    let mut e = file(b"var/runtime/bootstrap", b"#!/bin/sh\n");
    e.mode = 0o755;
    e
}

/// An OCI layout archive of `layers` (the first gzip-compressed), as bytes.
fn oci_tar(layers: &[Vec<u8>], config_extra: serde_json::Value) -> Vec<u8> {
    let mut blobs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut descs = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let (bytes, media) = if i == 0 {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(l).unwrap();
            (
                gz.finish().unwrap(),
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        } else {
            (l.clone(), "application/vnd.oci.image.layer.v1.tar")
        };
        descs.push(serde_json::json!({"mediaType": media, "digest": format!("sha256:{}", sha(&bytes)), "size": bytes.len()}));
        blobs.push((sha(&bytes), bytes));
    }
    let mut config =
        serde_json::json!({"os": "linux", "architecture": host_arch(), "config": {"Env": ["A=1"]}});
    if let Some(o) = config_extra.as_object() {
        for (k, v) in o {
            config[k] = v.clone();
        }
    }
    let config = serde_json::to_vec(&config).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", sha(&config)), "size": config.len()},
        "layers": descs,
    }))
    .unwrap();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{}", sha(&manifest)), "size": manifest.len()}],
    }))
    .unwrap();
    blobs.push((sha(&config), config));
    blobs.push((sha(&manifest), manifest));
    let mut b = tar::Builder::new(Vec::new());
    let mut put = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    };
    put("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    put("index.json", &index);
    for (d, bytes) in &blobs {
        put(&format!("blobs/sha256/{d}"), bytes);
    }
    b.into_inner().unwrap()
}

fn store() -> (Tmp, ImageStore) {
    let t = Tmp::new();
    let s = ImageStore::open(&t.0).unwrap();
    (t, s)
}

fn leftovers(t: &Tmp) -> Vec<String> {
    fs::read_dir(t.0.join("images"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-"))
        .collect()
}

#[test]
fn an_oci_archive_is_unpacked_in_layer_order_and_sealed() {
    let (t, s) = store();
    let l1 = tar_of(&[
        file(b"usr/bin/python3.13", b"ELF"),
        file(b"usr/share/doc/x", b"d"),
        bootstrap(),
    ]);
    let l2 = tar_of(&[
        file(b"usr/share/doc/.wh..wh..opq", b""),
        link(
            b"etc/resolv.conf",
            tar::EntryType::Symlink,
            b"/run/resolv.conf",
        ),
    ]);
    let archive = t.0.join("img.tar");
    fs::write(&archive, oci_tar(&[l1, l2], serde_json::json!({}))).unwrap();
    let rec = s.import("python3.13", &archive).unwrap();
    assert_eq!(rec.format, "oci");
    assert_eq!(rec.command, ["/var/runtime/bootstrap"]);
    assert!(!rec.handler_arg);
    assert_eq!(rec.env, [("A".to_string(), "1".to_string())]);
    assert_eq!(rec.interpreter.as_deref(), Some("/usr/bin/python3.13"));
    assert_eq!(rec.version, "3.13");
    let root = s.root_of(&rec.digest);
    assert!(fs::read_dir(root.join("usr/share/doc"))
        .unwrap()
        .next()
        .is_none());
    // Mount points are real: the symlinked resolv.conf became an empty file.
    assert!(fs::symlink_metadata(root.join("etc/resolv.conf"))
        .unwrap()
        .is_file());
    for d in ["dev", "proc", "tmp", "opt", "var/task"] {
        assert!(root.join(d).is_dir(), "{d}");
    }
    assert_eq!(s.list().unwrap(), std::slice::from_ref(&rec));
    assert!(leftovers(&t).is_empty());
    // The same image as another id shares the root; removing one keeps it.
    let rec2 = s.import("python3.13", &archive).unwrap();
    assert_eq!(rec2.digest, rec.digest);
    assert_eq!(rec2.bytes, rec.bytes);
    s.remove("python3.13").unwrap();
    assert!(!root.exists());
    assert!(matches!(s.get("python3.13"), Err(ImageError::NotFound(_))));
}

#[test]
fn a_tampered_layer_and_a_foreign_platform_are_refused_leaving_nothing() {
    let (t, s) = store();
    let l1 = tar_of(&[bootstrap()]);
    let mut bytes = oci_tar(std::slice::from_ref(&l1), serde_json::json!({}));
    // Flip one byte of the gzip layer's payload (after the outer tar's first headers).
    let layer_sha = {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&l1).unwrap();
        gz.finish().unwrap()
    };
    let pos = bytes
        .windows(layer_sha.len())
        .position(|w| w == layer_sha.as_slice())
        .unwrap();
    bytes[pos + layer_sha.len() - 9] ^= 0xff;
    let archive = t.0.join("bad.tar");
    fs::write(&archive, bytes).unwrap();
    let e = s
        .import("provided.al2023", &archive)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("digest mismatch") || e.contains("not a usable image: layer blobs/sha256/"),
        "{e}"
    );
    let arm = t.0.join("arm.tar");
    let other = if host_arch() == "amd64" {
        "arm64"
    } else {
        "amd64"
    };
    fs::write(
        &arm,
        oci_tar(&[l1], serde_json::json!({"architecture": other})),
    )
    .unwrap();
    let e = s.import("provided.al2023", &arm).unwrap_err();
    assert!(e.to_string().contains(&format!("linux/{other}")), "{e}");
    assert!(leftovers(&t).is_empty());
    assert!(fs::read_dir(t.0.join("images/roots"))
        .unwrap()
        .next()
        .is_none());
}

#[test]
fn a_docker_save_archive_checks_diff_ids_and_uses_the_entrypoint() {
    let (t, s) = store();
    let l1 = tar_of(&[file(b"lambda-entrypoint.sh", b"#!/bin/sh\n")]);
    let config = serde_json::to_vec(&serde_json::json!({
        "os": "linux", "architecture": host_arch(),
        "config": {"Entrypoint": ["/lambda-entrypoint.sh"], "Cmd": ["app.handler"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha(&l1))]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!([{"Config": "config.json", "RepoTags": ["x:1"], "Layers": ["abc/layer.tar"]}])).unwrap();
    let dir = t.0.join("saved");
    fs::create_dir_all(dir.join("abc")).unwrap();
    fs::write(dir.join("manifest.json"), manifest).unwrap();
    fs::write(dir.join("config.json"), &config).unwrap();
    fs::write(dir.join("abc/layer.tar"), &l1).unwrap();
    let rec = s.import("provided.al2023", &dir).unwrap();
    assert_eq!(rec.format, "docker");
    assert_eq!(rec.digest, format!("sha256:{}", sha(&config)));
    assert_eq!(rec.command, ["/lambda-entrypoint.sh"]);
    assert!(rec.handler_arg);
    // A layer that does not match its diff_id.
    fs::write(dir.join("abc/layer.tar"), tar_of(&[file(b"other", b"x")])).unwrap();
    s.remove("provided.al2023").unwrap();
    let e = s.import("provided.al2023", &dir).unwrap_err();
    assert!(e.to_string().contains("digest mismatch"), "{e}");
}

#[test]
fn wrong_ids_missing_interpreters_and_missing_bootstraps_are_refused() {
    let (t, s) = store();
    let rootfs = t.0.join("rootfs");
    fs::create_dir_all(rootfs.join("usr/bin")).unwrap();
    let e = s.import("python9.9", &rootfs).unwrap_err();
    assert!(e.to_string().contains("not a Lambda runtime id"), "{e}");
    let e = s.import("provided.al2023", &rootfs).unwrap_err();
    assert!(
        e.to_string()
            .contains("neither an executable /var/runtime/bootstrap"),
        "{e}"
    );
    fs::create_dir_all(rootfs.join("var/runtime")).unwrap();
    fs::write(rootfs.join("var/runtime/bootstrap"), "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(
        rootfs.join("var/runtime/bootstrap"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let e = s.import("python3.12", &rootfs).unwrap_err();
    assert!(e.to_string().contains("the image has no python3.12"), "{e}");
    let rec = s.import("provided.al2023", &rootfs).unwrap();
    assert_eq!(rec.format, "rootfs");
    assert!(s
        .root_of(&rec.digest)
        .join("var/runtime/bootstrap")
        .is_file());
    assert!(leftovers(&t).is_empty());
    // Only the provided.al2023 root is left: the refused imports dropped theirs.
    assert_eq!(fs::read_dir(t.0.join("images/roots")).unwrap().count(), 1);
}

#[test]
fn interpreter_only_images_run_the_built_in_bootstrap() {
    let (t, s) = store();
    let rootfs = t.0.join("ruby");
    fs::create_dir_all(rootfs.join("usr/bin")).unwrap();
    let e = s.import("ruby3.3", &rootfs).unwrap_err();
    assert!(e.to_string().contains("it has no ruby"), "{e}");
    fs::write(rootfs.join("usr/bin/ruby3.3"), "").unwrap();
    let rec = s.import("ruby3.3", &rootfs).unwrap();
    assert!(rec.command.is_empty() && !rec.handler_arg, "{rec:?}");
    assert_eq!(rec.interpreter.as_deref(), Some("/usr/bin/ruby3.3"));
    assert_eq!(rec.version, "3.3");
    // Its /var/runtime is made a mount point for the bootstraps.
    assert!(s.root_of(&rec.digest).join("var/runtime").is_dir());
    let e = s.import("dotnet8", &rootfs).unwrap_err();
    assert!(
        e.to_string().contains("no built-in bootstrap for dotnet8"),
        "{e}"
    );

    // Java: the major is read from the JDK's release file through the image's links.
    let rootfs = t.0.join("java");
    let home = rootfs.join("usr/lib/jvm/java-21-openjdk-amd64");
    fs::create_dir_all(home.join("bin")).unwrap();
    fs::create_dir_all(rootfs.join("usr/bin")).unwrap();
    fs::create_dir_all(rootfs.join("etc/alternatives")).unwrap();
    fs::write(home.join("bin/java"), "").unwrap();
    fs::write(home.join("release"), "JAVA_VERSION=\"21.0.9\"\n").unwrap();
    std::os::unix::fs::symlink("/etc/alternatives/java", rootfs.join("usr/bin/java")).unwrap();
    std::os::unix::fs::symlink(
        "../../usr/lib/jvm/java-21-openjdk-amd64/bin/java",
        rootfs.join("etc/alternatives/java"),
    )
    .unwrap();
    let e = s.import("java17", &rootfs).unwrap_err();
    assert!(e.to_string().contains("a JDK 21 (21.0.9)"), "{e}");
    let rec = s.import("java21", &rootfs).unwrap();
    assert!(rec.command.is_empty());
    assert_eq!(rec.interpreter.as_deref(), Some("/usr/bin/java"));
    assert_eq!(rec.version, "21.0.9");
}

#[test]
fn a_pulled_layout_records_where_it_came_from_and_work_dirs_go_at_open() {
    let (t, s) = store();
    let archive = t.0.join("img.tar");
    fs::write(
        &archive,
        oci_tar(&[tar_of(&[bootstrap()])], serde_json::json!({})),
    )
    .unwrap();
    let pinned = format!("127.0.0.1:5000/r:1@sha256:{}", "ab".repeat(32));
    let rec = s
        .import_pulled("provided.al2023", &archive, "127.0.0.1:5000/r:1", &pinned)
        .unwrap();
    assert_eq!(rec.imported_from, "127.0.0.1:5000/r:1");
    assert_eq!(rec.reference.as_deref(), Some(pinned.as_str()));
    assert_eq!(
        rec.runtime(s.root_of(&rec.digest)).reference.as_deref(),
        Some(pinned.as_str())
    );
    assert_eq!(s.get("provided.al2023").unwrap(), rec);
    // An import has no reference, and its record says nothing of one.
    let rec = s.import("provided.al2", &archive).unwrap();
    assert_eq!(rec.reference, None);
    let text = fs::read_to_string(t.0.join("images/runtimes/provided.al2.json")).unwrap();
    assert!(!text.contains("reference"), "{text}");
    // A pull's work dir left by a crash is dropped when the store is opened again.
    let w = s.work_dir().unwrap();
    fs::write(w.join("partial"), b"x").unwrap();
    assert_eq!(leftovers(&t).len(), 1);
    ImageStore::open(&t.0).unwrap();
    assert!(leftovers(&t).is_empty());
}

#[test]
fn a_function_image_is_unpacked_once_and_keeps_its_root_from_runtime_rm() {
    let (t, s) = store();
    let archive = t.0.join("img.tar");
    let cfg =
        serde_json::json!({"config": {"Entrypoint": ["/e"], "Cmd": ["app.h"], "WorkingDir": "/w"}});
    fs::write(&archive, oci_tar(&[tar_of(&[bootstrap()])], cfg)).unwrap();
    // A pull leaves an OCI layout directory; the same image unpacks to one root.
    let layout = t.0.join("layout");
    tar::Archive::new(fs::File::open(&archive).unwrap())
        .unpack(&layout)
        .unwrap();
    let (id, config, bytes, _) = s.unpack_layout(&layout).unwrap();
    assert!(bytes > 0);
    assert_eq!(config["Cmd"], serde_json::json!(["app.h"]));
    let root = s.root_of(&id);
    assert!(root.join("var/task").is_dir(), "sealed like a runtime root");
    let (again, _, bytes_again, _) = s.unpack_layout(&layout).unwrap();
    assert_eq!((again.as_str(), bytes_again), (id.as_str(), 0));
    assert!(leftovers(&t).is_empty());
    // Recorded under its manifest digest, it is found without a registry.
    let manifest = format!("sha256:{}", "ef".repeat(32));
    let rec = function::FunctionImageRecord {
        manifest_digest: manifest.clone(),
        image_id: id.clone(),
        config,
        bytes,
        entries: 1,
    };
    fs::create_dir_all(t.0.join("images/functions")).unwrap();
    fs::write(
        t.0.join(format!("images/functions/{}.json", "ef".repeat(32))),
        serde_json::to_vec(&rec).unwrap(),
    )
    .unwrap();
    assert_eq!(s.function_image(&manifest).unwrap(), Some(rec));
    assert_eq!(s.function_image("sha256:nothex").unwrap(), None);
    // A runtime on the same image, removed: the function image keeps the root.
    let rt = s.import("provided.al2023", &archive).unwrap();
    assert_eq!(rt.digest, id);
    s.remove("provided.al2023").unwrap();
    assert!(root.is_dir());
    assert!(s.function_image(&manifest).unwrap().is_some());
}
