//! The image of a container-image function (docs/wire.md §17.4): `Code.ImageUri`
//! parsed, pulled from its registry off the async runtime (the registry client is
//! blocking), and the store's failures worded as Lambda's errors.

use quiver_model::image_function::{
    image_facts, image_not_found, parse_image_uri, resolved_image_uri,
};
use quiver_model::FunctionImage;
use quiver_store::ImageError;

use crate::error::ApiError;
use crate::state::AppState;

/// Pulls `uri` (or finds the digest it pins among the images pulled before) and
/// returns what the function's configuration keeps of it. Nothing is stored in the
/// function store here; the image store keeps the unpacked root.
pub async fn pull(state: &AppState, uri: &str) -> Result<FunctionImage, ApiError> {
    let image = parse_image_uri(uri)?;
    let Some(images) = state.images.clone() else {
        return Err(ApiError::InvalidParameter(
            "This server has no image store: container-image functions cannot be created on it."
                .into(),
        ));
    };
    let asked = image.clone();
    let rec = tokio::task::spawn_blocking(move || images.pull_function_image(&asked, None))
        .await
        .map_err(|e| ApiError::Service(format!("image pull task failed: {e}")))?
        .map_err(|e| pull_error(uri, e))?;
    Ok(FunctionImage {
        image_uri: uri.to_string(),
        resolved_image_uri: resolved_image_uri(&image, &rec.manifest_digest),
        manifest_digest: rec.manifest_digest,
        image_id: rec.image_id,
        ..image_facts(&rec.config)
    })
}

/// Lambda's "does not exist" for an unknown repository, tag or digest and for a
/// registry that cannot be reached (to the caller, the image is not there); an image
/// that was found but cannot be used (a digest mismatch, a hostile layer, another
/// platform) gets InvalidParameterValueException with the reason.
fn pull_error(uri: &str, e: ImageError) -> ApiError {
    tracing::info!(image = uri, error = %e, "function image not pulled");
    match e {
        ImageError::ImageNotFound(_) => image_not_found(uri).into(),
        ImageError::Registry(m) if m.starts_with("cannot reach the registry") => {
            image_not_found(uri).into()
        }
        ImageError::Io(e) => ApiError::Service(format!("image store: {e}")),
        other => ApiError::InvalidParameter(format!("Source image {uri} cannot be used: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(e: ApiError) -> String {
        match e {
            ApiError::InvalidParameter(m) => m,
            other => panic!("expected InvalidParameterValueException, got {other:?}"),
        }
    }

    #[test]
    fn pull_failures_get_lambdas_words() {
        let uri = "127.0.0.1:1/fn:v1";
        let missing =
            "Source image 127.0.0.1:1/fn:v1 does not exist. Provide a valid source image.";
        assert_eq!(
            message(pull_error(uri, ImageError::ImageNotFound("x".into()))),
            missing
        );
        assert_eq!(
            message(pull_error(
                uri,
                ImageError::Registry(
                    "cannot reach the registry http://127.0.0.1:1: refused".into()
                )
            )),
            missing
        );
        assert_eq!(
            message(pull_error(uri, ImageError::Digest("blob x".into()))),
            "Source image 127.0.0.1:1/fn:v1 cannot be used: image refused: digest mismatch: blob x"
        );
        assert!(matches!(
            pull_error(uri, ImageError::Io(std::io::Error::other("disk"))),
            ApiError::Service(_)
        ));
    }
}
