use super::*;
use std::os::unix::fs::MetadataExt;

/// A tar entry written byte for byte (the tar crate's builder refuses `..` and absolute
/// names, which is exactly what these tests need to send).
pub(crate) struct E {
    pub name: &'static [u8],
    pub ty: tar::EntryType,
    pub data: &'static [u8],
    pub link: &'static [u8],
    pub mode: u32,
}

pub(crate) fn file(name: &'static [u8], data: &'static [u8]) -> E {
    E {
        name,
        ty: tar::EntryType::Regular,
        data,
        link: b"",
        mode: 0o644,
    }
}

pub(crate) fn dir(name: &'static [u8]) -> E {
    E {
        mode: 0o755,
        ty: tar::EntryType::Directory,
        ..file(name, b"")
    }
}

pub(crate) fn link(name: &'static [u8], ty: tar::EntryType, to: &'static [u8]) -> E {
    E {
        ty,
        link: to,
        mode: 0o777,
        ..file(name, b"")
    }
}

pub(crate) fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        {
            let g = h.as_gnu_mut().unwrap();
            g.name[..e.name.len()].copy_from_slice(e.name);
            g.linkname[..e.link.len()].copy_from_slice(e.link);
        }
        h.set_entry_type(e.ty);
        h.set_size(e.data.len() as u64);
        h.set_mode(e.mode);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append(&h, e.data).unwrap();
    }
    b.into_inner().unwrap()
}

pub(crate) struct Tmp(pub PathBuf);
impl Tmp {
    pub fn new() -> Self {
        let p = std::env::temp_dir().join(format!("quiver-img-{}", uuid::Uuid::new_v4().simple()));
        fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }
}
impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn unpack(layers: &[&[E]]) -> (Tmp, Result<(), ImageError>) {
    let t = Tmp::new();
    fs::create_dir(t.0.join("root")).unwrap();
    let mut u = Unpacker::new(t.0.join("root"), ImageLimits::default());
    let r = layers
        .iter()
        .try_for_each(|l| u.apply_tar(&tar_of(l)[..]))
        .and_then(|()| u.finish().map(|_| ()));
    (t, r)
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn plain_whiteout_removes_a_lower_file_and_directory() {
    let (t, r) = unpack(&[
        &[file(b"a/x", b"1"), file(b"a/y", b"2"), file(b"a/d/z", b"3")],
        &[file(b"a/.wh.x", b""), file(b"a/.wh.d", b"")],
    ]);
    r.unwrap();
    assert_eq!(names(&t.0.join("root/a")), ["y"]);
}

#[test]
fn opaque_whiteout_keeps_only_its_own_layer_whatever_the_order() {
    let (t, r) = unpack(&[
        &[
            file(b"d/old", b"1"),
            file(b"d/sub/f", b"2"),
            file(b"keep", b"k"),
        ],
        // The new file comes before the marker: it must survive.
        // So must a directory the layer creates only implicitly (no entry of its own).
        &[
            file(b"d/new", b"3"),
            file(b"d/implicit/f", b"4"),
            file(b"d/.wh..wh..opq", b""),
        ],
    ]);
    r.unwrap();
    assert_eq!(names(&t.0.join("root/d")), ["implicit", "new"]);
    assert_eq!(names(&t.0.join("root/d/implicit")), ["f"]);
    assert_eq!(names(&t.0.join("root")), ["d", "keep"]);
}

#[test]
fn hard_links_share_the_inode_of_a_lower_file() {
    let (t, r) = unpack(&[
        &[file(b"bin/python3.13", b"ELF")],
        &[link(b"usr/bin/py", tar::EntryType::Link, b"bin/python3.13")],
    ]);
    r.unwrap();
    let a = fs::metadata(t.0.join("root/bin/python3.13")).unwrap();
    let b = fs::metadata(t.0.join("root/usr/bin/py")).unwrap();
    assert_eq!(a.ino(), b.ino());
    assert_eq!(a.nlink(), 2);
}

#[test]
fn a_later_layer_replaces_files_dirs_and_links() {
    let (t, r) = unpack(&[
        &[
            file(b"f", b"old"),
            dir(b"d"),
            link(b"l", tar::EntryType::Symlink, b"f"),
        ],
        &[
            dir(b"f"),
            file(b"d", b"now a file"),
            file(b"l", b"no longer a link"),
        ],
    ]);
    r.unwrap();
    let root = t.0.join("root");
    assert!(root.join("f").is_dir());
    assert_eq!(fs::read(root.join("d")).unwrap(), b"now a file");
    assert!(!fs::symlink_metadata(root.join("l"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn symlinks_are_kept_as_written_and_setuid_is_stripped() {
    let mut suid = file(b"usr/bin/su", b"x");
    suid.mode = 0o4755;
    let (t, r) = unpack(&[&[
        link(b"bin", tar::EntryType::Symlink, b"usr/bin"),
        link(b"etc/mtab", tar::EntryType::Symlink, b"/proc/self/mounts"),
        suid,
    ]]);
    r.unwrap();
    let root = t.0.join("root");
    assert_eq!(
        fs::read_link(root.join("bin")).unwrap(),
        Path::new("usr/bin")
    );
    assert_eq!(
        fs::read_link(root.join("etc/mtab")).unwrap(),
        Path::new("/proc/self/mounts")
    );
    let mode = fs::metadata(root.join("usr/bin/su")).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o755);
    let mtime = fs::metadata(root.join("usr/bin/su")).unwrap().mtime();
    assert_eq!(mtime, 1_700_000_000, "mtimes are kept (.pyc checks them)");
}

#[test]
fn escapes_are_refused_with_the_path_named() {
    let outside = Tmp::new();
    let out = outside.0.to_str().unwrap().as_bytes().to_vec();
    let out: &'static [u8] = Box::leak(out.into_boxed_slice());
    let cases: Vec<(Vec<E>, &str)> = vec![
        (vec![file(b"../evil", b"x")], "`..` in path"),
        (vec![file(b"a/../../evil", b"x")], "`..` in path"),
        (vec![file(b"/etc/evil", b"x")], "absolute path"),
        (
            vec![
                link(b"l", tar::EntryType::Symlink, out),
                file(b"l/evil", b"x"),
            ],
            "written through the symlink l",
        ),
        (
            vec![
                dir(b"real"),
                link(b"real/in", tar::EntryType::Symlink, b"."),
                file(b"real/in/evil", b"x"),
            ],
            "written through the symlink real/in",
        ),
        (
            vec![link(b"h", tar::EntryType::Link, b"../../etc/passwd")],
            "hard link target refused",
        ),
        (
            vec![link(b"h", tar::EntryType::Link, b"/etc/passwd")],
            "hard link target refused",
        ),
        (
            vec![
                link(b"l", tar::EntryType::Symlink, b"/etc"),
                link(b"h", tar::EntryType::Link, b"l/passwd"),
            ],
            "hard link through or to the symlink",
        ),
        (
            vec![link(b"h", tar::EntryType::Link, b"missing")],
            "does not hold",
        ),
        (
            vec![E {
                ty: tar::EntryType::Char,
                ..file(b"dev/null", b"")
            }],
            "device node or fifo",
        ),
        (
            vec![E {
                ty: tar::EntryType::Fifo,
                ..file(b"p", b"")
            }],
            "device node or fifo",
        ),
    ];
    for (entries, want) in cases {
        let (_t, r) = unpack(&[&entries]);
        let e = r.expect_err(want).to_string();
        assert!(e.contains(want), "{e:?} should contain {want:?}");
        assert!(e.starts_with("image refused: "), "{e}");
    }
    assert!(names(&outside.0).is_empty(), "nothing written outside");
}

#[test]
fn totals_over_the_limit_are_refused() {
    let t = Tmp::new();
    let mut u = Unpacker::new(
        t.0.clone(),
        ImageLimits {
            max_bytes: 5,
            max_entries: 10,
        },
    );
    let e = u
        .apply_tar(&tar_of(&[file(b"a", b"123"), file(b"b", b"456")])[..])
        .unwrap_err();
    assert!(matches!(e, ImageError::TooLarge(_)), "{e}");
    let mut u = Unpacker::new(
        t.0.join("x"),
        ImageLimits {
            max_bytes: 100,
            max_entries: 1,
        },
    );
    fs::create_dir(t.0.join("x")).unwrap();
    let e = u
        .apply_tar(&tar_of(&[dir(b"a"), dir(b"b")])[..])
        .unwrap_err();
    assert!(e.to_string().contains("more than 1 entries"), "{e}");
}

#[test]
fn a_rootfs_directory_is_applied_like_a_layer() {
    let src = Tmp::new();
    fs::create_dir_all(src.0.join("usr/bin")).unwrap();
    fs::write(src.0.join("usr/bin/a"), "A").unwrap();
    fs::hard_link(src.0.join("usr/bin/a"), src.0.join("usr/bin/b")).unwrap();
    std::os::unix::fs::symlink("usr/bin", src.0.join("bin")).unwrap();
    let t = Tmp::new();
    let mut u = Unpacker::new(t.0.clone(), ImageLimits::default());
    apply_dir(&mut u, &src.0).unwrap();
    let h1 = u.finish().unwrap();
    let ino = |p: &str| fs::metadata(t.0.join(p)).unwrap().ino();
    assert_eq!(ino("usr/bin/a"), ino("usr/bin/b"));
    assert_eq!(
        fs::read_link(t.0.join("bin")).unwrap(),
        Path::new("usr/bin")
    );
    // Same content, same digest.
    let t2 = Tmp::new();
    let mut u = Unpacker::new(t2.0.clone(), ImageLimits::default());
    apply_dir(&mut u, &src.0).unwrap();
    assert_eq!(u.finish().unwrap(), h1);
}
