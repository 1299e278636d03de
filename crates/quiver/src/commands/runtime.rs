//! `quiver runtime ls|import|pull|rm`: the runtimes a server offers, and the runtime images
//! it runs functions on.
//!
//! `ls` asks the running server (its catalogue is resolved at start). `import`, `pull` and `rm`
//! change the data dir's image store directly and therefore take the data dir's lock:
//! they refuse while a server runs on it, and a server started afterwards offers the
//! images (runtimes are resolved once, at start, like `--runtime` prefixes).

use std::path::PathBuf;

use anyhow::Context;

#[derive(clap::Args, Debug)]
pub struct RuntimeArgs {
    #[command(subcommand)]
    pub command: RuntimeCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum RuntimeCommand {
    /// List the runtime catalogue: id, source (host, prefix, package, image), version, where.
    Ls(LsArgs),
    /// Import a runtime image (OCI layout or docker save archive, or a rootfs directory)
    /// as the runtime <id>, replacing an earlier image of that id. Works on the data
    /// dir while no server runs.
    Import(ImportArgs),
    /// Pull a runtime image from an OCI registry (distribution API v2) as the runtime
    /// <id>: AWS's public Lambda base image for <id> unless --image names another.
    /// Works on the data dir while no server runs, like import.
    Pull(PullArgs),
    /// Remove the image runtime <id> (and its root, unless another id uses it).
    Rm(RmArgs),
}

#[derive(clap::Args, Debug)]
pub struct PullArgs {
    /// A Lambda runtime id, e.g. python3.13.
    pub id: String,
    /// `host[:port]/repository:tag` or `...@sha256:<digest>`. Loopback registries
    /// (localhost, 127.x.x.x, [::1]) are spoken to over plain HTTP, all others over HTTPS.
    #[arg(long)]
    pub image: Option<String>,
    /// A user name for registries that want credentials (the password is read from
    /// QUIVER_REGISTRY_PASSWORD).
    #[arg(long, env = "QUIVER_REGISTRY_USERNAME")]
    pub username: Option<String>,
    /// The server's data dir.
    #[arg(long, env = "QUIVER_DATA_DIR", default_value = "./.quiver")]
    pub data_dir: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct LsArgs {
    /// The server's endpoint.
    #[arg(long, env = "QUIVER_ENDPOINT", default_value = "http://127.0.0.1:9000")]
    pub endpoint: String,
    /// Print the raw JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// A Lambda runtime id, e.g. python3.13.
    pub id: String,
    /// An OCI image layout (.tar or directory), a `docker save` archive (.tar or
    /// directory) or a root filesystem directory.
    pub path: PathBuf,
    /// The server's data dir.
    #[arg(long, env = "QUIVER_DATA_DIR", default_value = "./.quiver")]
    pub data_dir: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// The runtime id the image was imported as.
    pub id: String,
    /// The server's data dir.
    #[arg(long, env = "QUIVER_DATA_DIR", default_value = "./.quiver")]
    pub data_dir: PathBuf,
}

pub fn run(args: RuntimeArgs) -> anyhow::Result<std::process::ExitCode> {
    match args.command {
        RuntimeCommand::Ls(a) => ls(a),
        RuntimeCommand::Import(a) => import(a),
        RuntimeCommand::Pull(a) => pull(a),
        RuntimeCommand::Rm(a) => rm(a),
    }
}

fn image_store(
    data_dir: &std::path::Path,
) -> anyhow::Result<(super::serve::datadir::DataDir, quiver_store::ImageStore)> {
    let data = super::serve::datadir::DataDir::lock(data_dir).context(
        "runtime images are changed while no server runs on the data dir (a server resolves its runtimes at start): stop it, then start it again afterwards",
    )?;
    let store =
        quiver_store::ImageStore::open(&data.path).context("cannot open the image store")?;
    Ok((data, store))
}

fn import(a: ImportArgs) -> anyhow::Result<std::process::ExitCode> {
    let (_lock, store) = image_store(&a.data_dir)?;
    let started = std::time::Instant::now();
    let rec = store
        .import(&a.id, &a.path)
        .with_context(|| format!("cannot import {} as {}", a.path.display(), a.id))?;
    println!(
        "imported {} as {}: {} ({} image, {} files, {} bytes, {:.1} s) at {}",
        a.path.display(),
        rec.id,
        rec.digest,
        rec.format,
        rec.entries,
        rec.bytes,
        started.elapsed().as_secs_f64(),
        store.root_of(&rec.digest).display()
    );
    Ok(std::process::ExitCode::SUCCESS)
}

/// Removes a pull's layout however the pull ends.
struct Layout(PathBuf);

impl Drop for Layout {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pull(a: PullArgs) -> anyhow::Result<std::process::ExitCode> {
    use quiver_model::image_ref::{default_image, ImageRef};
    let asked = match (&a.image, default_image(&a.id)) {
        (Some(i), _) => i.clone(),
        (None, Some(d)) => d,
        (None, None) => anyhow::bail!(
            "AWS publishes no base image for {:?}: name one with --image host/repository:tag",
            a.id
        ),
    };
    anyhow::ensure!(
        quiver_model::runtime::kind_of(&a.id).is_some(),
        "{:?} is not a Lambda runtime id (e.g. python3.13, nodejs22.x, provided.al2023)",
        a.id
    );
    let image = ImageRef::parse(&asked).map_err(anyhow::Error::msg)?;
    let credentials = match (a.username, std::env::var("QUIVER_REGISTRY_PASSWORD").ok()) {
        (Some(username), Some(password)) => {
            Some(quiver_store::image::registry::Credentials { username, password })
        }
        (Some(_), None) => {
            anyhow::bail!("--username needs the password in QUIVER_REGISTRY_PASSWORD")
        }
        (None, _) => None,
    };
    let (_lock, store) = image_store(&a.data_dir)?;
    let started = std::time::Instant::now();
    let layout = Layout(store.work_dir()?);
    let mut registry = quiver_store::image::registry::Registry::new(image, credentials);
    let pulled = registry
        .pull(quiver_store::image::host_arch(), &layout.0, |config| {
            store.root_of(config).is_dir()
        })
        .with_context(|| format!("cannot pull {asked}"))?;
    let pinned = registry.pinned(&pulled.manifest_digest);
    let rec = store
        .import_pulled(&a.id, &layout.0, &asked, &pinned)
        .with_context(|| format!("cannot import {asked} as {}", a.id))?;
    debug_assert_eq!(rec.digest, pulled.config_digest);
    println!(
        "pulled {pinned} as {}: {} ({} image, {} files, {} bytes, {} bytes downloaded, {:.1} s) at {}",
        rec.id,
        rec.digest,
        rec.format,
        rec.entries,
        rec.bytes,
        pulled.bytes,
        started.elapsed().as_secs_f64(),
        store.root_of(&rec.digest).display()
    );
    Ok(std::process::ExitCode::SUCCESS)
}

fn rm(a: RmArgs) -> anyhow::Result<std::process::ExitCode> {
    let (_lock, store) = image_store(&a.data_dir)?;
    let rec = store.remove(&a.id)?;
    println!("removed image runtime {} ({})", rec.id, rec.digest);
    Ok(std::process::ExitCode::SUCCESS)
}

fn ls(args: LsArgs) -> anyhow::Result<std::process::ExitCode> {
    let v = super::ps::get(&args.endpoint, "/_quiver/runtimes")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(std::process::ExitCode::SUCCESS);
    }
    println!("{:<16} {:<8} {:<10} WHERE", "ID", "SOURCE", "VERSION");
    for rt in v["Runtimes"].as_array().into_iter().flatten() {
        let place = match (rt["Image"].as_object(), rt["Interpreter"].as_str()) {
            (Some(img), _) => format!(
                "{} at {}{}",
                img.get("Digest").and_then(|v| v.as_str()).unwrap_or(""),
                img.get("Root").and_then(|v| v.as_str()).unwrap_or(""),
                img.get("Reference")
                    .and_then(|r| r.as_str())
                    .map(|r| format!(" from {r}"))
                    .unwrap_or_default()
            ),
            (None, Some(bin)) => bin.to_string(),
            (None, None) => "the function's bootstrap".to_string(),
        };
        println!(
            "{:<16} {:<8} {:<10} {place}",
            rt["Id"].as_str().unwrap_or(""),
            rt["Source"].as_str().unwrap_or(""),
            rt["Version"].as_str().unwrap_or(""),
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}
