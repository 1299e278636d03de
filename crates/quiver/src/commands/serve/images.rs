//! Runtime images (`quiver runtime import`) in the catalogue, resolved at start.

use std::path::PathBuf;

use anyhow::Context;
use quiver_model::{AvailableRuntime, RuntimeCatalogue};
use quiver_store::ImageStore;

/// `base` with every imported image runtime added; an image replaces the host's or a
/// prefix's runtime of the same id (the operator imported it as that id).
pub fn catalogue(base: RuntimeCatalogue, images: &ImageStore) -> anyhow::Result<RuntimeCatalogue> {
    let mut added = Vec::new();
    for rec in images.list().context("cannot read the image store")? {
        let root = images.root_of(&rec.digest);
        anyhow::ensure!(
            root.is_dir(),
            "image runtime {} names the root {}, which is missing: run `quiver runtime import {} <image>` again or `quiver runtime rm {}`",
            rec.id,
            root.display(),
            rec.id,
            rec.id
        );
        if let Some(h) = base.get(&rec.id) {
            tracing::info!(runtime = %rec.id, replaced = h.source.label(), "the imported image replaces this runtime");
        }
        added.push(AvailableRuntime::image(
            &rec.id,
            rec.interpreter.as_ref().map(PathBuf::from),
            &rec.version,
            rec.runtime(root),
        ));
    }
    Ok(RuntimeCatalogue::new(base.iter().cloned().chain(added)))
}
