//! Container-image functions (`PackageType: Image`): the package type, `Code.ImageUri`,
//! `ImageConfig` and Lambda's refusals around them. Pure: the pull from a registry is the
//! store's, the launch the engine's.
//!
//! A function image holds the runtime *and* the code (an AWS base image plus the user's
//! files in `/var/task`); Lambda runs the image's ENTRYPOINT + CMD, and `ImageConfig`
//! overrides EntryPoint, Command and WorkingDirectory. That is why Handler, Runtime and
//! Layers have no meaning for such a function and are refused rather than ignored.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Violations};
use crate::image_ref::{ImageRef, Reference};

/// `StringList` of the service model: at most 1,500 items (EntryPoint, Command).
pub const IMAGE_CONFIG_LIST_MAX: usize = 1500;
/// `WorkingDirectory` of the service model: at most 1,000 characters.
pub const WORKING_DIRECTORY_MAX: usize = 1000;

/// How a function's code is delivered. `Zip` when CreateFunction names none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PackageType {
    #[default]
    Zip,
    Image,
}

impl PackageType {
    /// The wire value; `None` means the member was absent (Lambda's default is Zip).
    /// Unknown values are refused earlier, by the enum check of the settings' shapes.
    pub fn from_wire(v: Option<&str>) -> PackageType {
        match v {
            Some("Image") => PackageType::Image,
            _ => PackageType::Zip,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PackageType::Zip => "Zip",
            PackageType::Image => "Image",
        }
    }
}

/// `ImageConfig` as sent: every member optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageConfigInput {
    pub entry_point: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    pub working_directory: Option<String>,
}

/// The validated overrides of the image's own config. An absent member means "the
/// image's value"; an empty list is kept as given (Lambda echoes it back).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_point: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
}

impl ImageConfig {
    /// Checks the service model's limits and returns the value to store.
    pub fn from_input(i: &ImageConfigInput) -> Result<ImageConfig, ModelError> {
        let mut v = Violations::new();
        for (list, member) in [
            (&i.entry_point, "imageConfig.entryPoint"),
            (&i.command, "imageConfig.command"),
        ] {
            if let Some(l) = list {
                if l.len() > IMAGE_CONFIG_LIST_MAX {
                    v.push(
                        format!("[{}]", l.join(", ")),
                        member,
                        format!(
                            "Member must have length less than or equal to {IMAGE_CONFIG_LIST_MAX}"
                        ),
                    );
                }
            }
        }
        if let Some(w) = &i.working_directory {
            if w.chars().count() > WORKING_DIRECTORY_MAX {
                v.push(
                    w.as_str(),
                    "imageConfig.workingDirectory",
                    format!(
                        "Member must have length less than or equal to {WORKING_DIRECTORY_MAX}"
                    ),
                );
            }
        }
        v.into_result()?;
        Ok(ImageConfig {
            entry_point: i.entry_point.clone(),
            command: i.command.clone(),
            working_directory: i.working_directory.clone(),
        })
    }

    /// The process an environment starts: the override of each part, else the image's.
    /// Lambda runs ENTRYPOINT followed by CMD (CMD is the handler for AWS base images).
    pub fn argv(&self, image_entry_point: &[String], image_cmd: &[String]) -> Vec<String> {
        let entry = self.entry_point.as_deref().unwrap_or(image_entry_point);
        let cmd = self.command.as_deref().unwrap_or(image_cmd);
        entry.iter().chain(cmd).cloned().collect()
    }

    /// The working directory of that process: the override, else the image's `WorkingDir`,
    /// else `/var/task` (where Lambda's base images keep the function's files).
    pub fn working_dir<'a>(&'a self, image_working_dir: Option<&'a str>) -> &'a str {
        self.working_directory
            .as_deref()
            .filter(|w| !w.is_empty())
            .or(image_working_dir.filter(|w| !w.is_empty()))
            .unwrap_or("/var/task")
    }
}

/// The image a function runs, as found when its ImageUri was pulled: part of the
/// version's configuration, so a published version keeps the image it was published
/// with, and a new image is a new revision (old environments are drained).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionImage {
    /// `Code.ImageUri` as given (a tag or a digest).
    pub image_uri: String,
    /// `registry/repo@sha256:<manifest digest>` ([`resolved_image_uri`]).
    pub resolved_image_uri: String,
    /// `sha256:<hex>` of the manifest the reference named: Lambda's `CodeSha256`.
    pub manifest_digest: String,
    /// `sha256:<hex>` of the image's config (its image id): the root it runs on.
    pub image_id: String,
    /// The image config's `Entrypoint`, `Cmd`, `WorkingDir` and `Env`, kept here so a
    /// cold start needs no image store lookup.
    #[serde(default)]
    pub entry_point: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub env: Vec<(String, String)>,
}

impl FunctionImage {
    /// The process an environment starts: ENTRYPOINT + CMD, each overridable.
    pub fn argv(&self, overrides: &ImageConfig) -> Vec<String> {
        overrides.argv(&self.entry_point, &self.cmd)
    }

    /// `_HANDLER`: the first word of the (overridden) CMD, as Lambda sets it for an
    /// image (AWS's base images read the handler from there); empty without a CMD.
    pub fn handler(&self, overrides: &ImageConfig) -> String {
        overrides
            .command
            .as_deref()
            .unwrap_or(&self.cmd)
            .first()
            .cloned()
            .unwrap_or_default()
    }

    /// `CodeSha256` of an image function: the manifest digest's hex, as Lambda shows it.
    pub fn code_sha256(&self) -> &str {
        self.manifest_digest
            .strip_prefix("sha256:")
            .unwrap_or(&self.manifest_digest)
    }
}

/// Reads `Entrypoint`, `Cmd`, `WorkingDir` and `Env` of an image config's `config`
/// object (the OCI image spec's field names) into a [`FunctionImage`] whose other
/// members are left for the caller; absent or mistyped members are empty.
pub fn image_facts(config: &serde_json::Value) -> FunctionImage {
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let env = strings(&config["Env"])
        .into_iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .filter(|(k, _)| !k.is_empty())
        .collect();
    let working_dir = config["WorkingDir"]
        .as_str()
        .filter(|w| !w.is_empty())
        .map(String::from);
    FunctionImage {
        entry_point: strings(&config["Entrypoint"]),
        cmd: strings(&config["Cmd"]),
        working_dir,
        env,
        ..FunctionImage::default()
    }
}

/// Handler, Runtime and Layers describe a .zip package's environment; an image brings its
/// own. Lambda refuses them (one message for all three) rather than ignoring them.
pub fn check_image_settings(
    handler: Option<&str>,
    runtime: Option<&str>,
    layers: Option<&[String]>,
) -> Result<(), ModelError> {
    if handler.is_some() || runtime.is_some() || layers.is_some_and(|l| !l.is_empty()) {
        return Err(ModelError::InvalidParameter(
            "Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image.".into(),
        ));
    }
    Ok(())
}

/// The code source CreateFunction needs for `package_type`: an ImageUri for Image, a zip
/// (never an ImageUri) for Zip. `has_zip` covers ZipFile and S3Bucket/S3Key.
pub fn check_create_source(
    package_type: PackageType,
    has_zip: bool,
    has_image_uri: bool,
) -> Result<(), ModelError> {
    let refuse = |m: &str| Err(ModelError::InvalidParameter(m.into()));
    match package_type {
        PackageType::Image if has_zip => refuse(
            "Please don't provide ZipFile or S3Bucket or S3Key when the intended function PackageType is Image.",
        ),
        PackageType::Image if !has_image_uri => {
            refuse("Please provide ImageUri when the intended function PackageType is Image.")
        }
        PackageType::Zip if has_image_uri => {
            refuse("Please don't provide ImageUri when the intended function PackageType is Zip.")
        }
        _ => Ok(()),
    }
}

/// UpdateFunctionCode keeps the package type: an image function takes a new ImageUri
/// only, a .zip function never one (Lambda: a function cannot change its package type).
pub fn check_update_source(
    package_type: PackageType,
    has_zip: bool,
    has_image_uri: bool,
) -> Result<(), ModelError> {
    let refuse = |m: &str| Err(ModelError::InvalidParameter(m.into()));
    match package_type {
        PackageType::Image if has_zip || !has_image_uri => {
            refuse("Please provide ImageUri when updating a function with packageType Image.")
        }
        PackageType::Zip if has_image_uri => {
            refuse("Please don't provide ImageUri when updating a function with packageType Zip.")
        }
        _ => Ok(()),
    }
}

/// `Code.ImageUri` parsed into where it is pulled from. A reference that cannot name an
/// image gets Lambda's "is not valid" refusal.
pub fn parse_image_uri(uri: &str) -> Result<ImageRef, ModelError> {
    ImageRef::parse(uri).map_err(|_| {
        ModelError::InvalidParameter(format!(
            "Source image {uri} is not valid. Provide a valid source image."
        ))
    })
}

/// Lambda's refusal when the registry has no such image (unknown repository or tag).
pub fn image_not_found(uri: &str) -> ModelError {
    ModelError::InvalidParameter(format!(
        "Source image {uri} does not exist. Provide a valid source image."
    ))
}

/// `ResolvedImageUri`: the image pinned by its manifest digest, `registry/repo@sha256:…`,
/// whatever tag the function was created with (a later push to the tag changes nothing).
pub fn resolved_image_uri(image: &ImageRef, manifest_digest: &str) -> String {
    ImageRef {
        registry: image.registry.clone(),
        repository: image.repository.clone(),
        reference: Reference::Digest(manifest_digest.to_string()),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(r: Result<(), ModelError>) -> String {
        match r {
            Err(ModelError::InvalidParameter(m)) => m,
            other => panic!("expected InvalidParameterValueException, got {other:?}"),
        }
    }

    #[test]
    fn package_type_defaults_to_zip() {
        assert_eq!(PackageType::from_wire(None), PackageType::Zip);
        assert_eq!(PackageType::from_wire(Some("Zip")), PackageType::Zip);
        assert_eq!(PackageType::from_wire(Some("Image")), PackageType::Image);
        assert_eq!(PackageType::Image.as_str(), "Image");
    }

    #[test]
    fn handler_runtime_layers_are_refused_with_one_message() {
        let msg = "Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image.";
        let layers = vec!["arn:aws:lambda:us-east-1:123456789012:layer:l:1".to_string()];
        assert_eq!(invalid(check_image_settings(Some("a.b"), None, None)), msg);
        assert_eq!(
            invalid(check_image_settings(None, Some("python3.13"), None)),
            msg
        );
        assert_eq!(
            invalid(check_image_settings(None, None, Some(&layers))),
            msg
        );
        assert!(check_image_settings(None, None, Some(&[])).is_ok());
        assert!(check_image_settings(None, None, None).is_ok());
    }

    #[test]
    fn create_source_matches_the_package_type() {
        assert!(check_create_source(PackageType::Image, false, true).is_ok());
        assert!(check_create_source(PackageType::Zip, true, false).is_ok());
        assert!(
            invalid(check_create_source(PackageType::Image, false, false))
                .contains("Please provide ImageUri")
        );
        assert!(invalid(check_create_source(PackageType::Image, true, true))
            .contains("Please don't provide ZipFile"));
        assert!(invalid(check_create_source(PackageType::Zip, false, true))
            .contains("Please don't provide ImageUri"));
    }

    #[test]
    fn update_source_keeps_the_package_type() {
        assert!(check_update_source(PackageType::Image, false, true).is_ok());
        assert!(check_update_source(PackageType::Zip, true, false).is_ok());
        assert_eq!(
            invalid(check_update_source(PackageType::Image, true, false)),
            "Please provide ImageUri when updating a function with packageType Image."
        );
        assert_eq!(
            invalid(check_update_source(PackageType::Zip, false, true)),
            "Please don't provide ImageUri when updating a function with packageType Zip."
        );
    }

    #[test]
    fn image_uri_is_parsed_or_refused_in_lambdas_words() {
        let r = parse_image_uri("127.0.0.1:5000/fn:v1").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("127.0.0.1:5000", "fn")
        );
        assert_eq!(r.reference, Reference::Tag("v1".into()));
        match parse_image_uri("fn:v1") {
            Err(ModelError::InvalidParameter(m)) => assert_eq!(
                m,
                "Source image fn:v1 is not valid. Provide a valid source image."
            ),
            other => panic!("{other:?}"),
        }
        match image_not_found("127.0.0.1:5000/fn:nope") {
            ModelError::InvalidParameter(m) => assert_eq!(
                m,
                "Source image 127.0.0.1:5000/fn:nope does not exist. Provide a valid source image."
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn resolved_uri_pins_the_digest() {
        let d = format!("sha256:{}", "ab".repeat(32));
        let r = parse_image_uri("127.0.0.1:5000/team/fn:v1").unwrap();
        assert_eq!(
            resolved_image_uri(&r, &d),
            format!("127.0.0.1:5000/team/fn@{d}")
        );
    }

    #[test]
    fn image_config_limits() {
        let ok = ImageConfig::from_input(&ImageConfigInput {
            entry_point: None,
            command: Some(vec!["app.other".into()]),
            working_directory: Some("/var/task".into()),
        })
        .unwrap();
        assert_eq!(ok.command.as_deref(), Some(&["app.other".to_string()][..]));
        let too_many = ImageConfigInput {
            command: Some(vec!["x".into(); IMAGE_CONFIG_LIST_MAX + 1]),
            ..Default::default()
        };
        match ImageConfig::from_input(&too_many) {
            Err(ModelError::Validation(v)) => {
                assert_eq!(v[0].member, "imageConfig.command");
                assert_eq!(
                    v[0].constraint,
                    "Member must have length less than or equal to 1500"
                );
            }
            other => panic!("{other:?}"),
        }
        let long_dir = ImageConfigInput {
            working_directory: Some("d".repeat(WORKING_DIRECTORY_MAX + 1)),
            ..Default::default()
        };
        assert!(matches!(
            ImageConfig::from_input(&long_dir),
            Err(ModelError::Validation(_))
        ));
    }

    #[test]
    fn image_facts_and_the_handler_lambda_sets() {
        let cfg = serde_json::json!({
            "Entrypoint": ["/lambda-entrypoint.sh"],
            "Cmd": ["app.handler", "extra"],
            "WorkingDir": "",
            "Env": ["PATH=/var/lang/bin:/usr/bin", "EMPTY=", "=bad", "NOEQ"],
        });
        let img = FunctionImage {
            manifest_digest: format!("sha256:{}", "ab".repeat(32)),
            ..image_facts(&cfg)
        };
        assert_eq!(img.working_dir, None);
        assert_eq!(
            img.env,
            [
                ("PATH".to_string(), "/var/lang/bin:/usr/bin".to_string()),
                ("EMPTY".to_string(), String::new())
            ]
        );
        let none = ImageConfig::default();
        assert_eq!(img.handler(&none), "app.handler");
        assert_eq!(
            img.argv(&none),
            ["/lambda-entrypoint.sh", "app.handler", "extra"]
        );
        let cmd = ImageConfig {
            command: Some(vec!["other.fn".into()]),
            ..Default::default()
        };
        assert_eq!(img.handler(&cmd), "other.fn");
        let empty = ImageConfig {
            command: Some(vec![]),
            ..Default::default()
        };
        assert_eq!(img.handler(&empty), "");
        assert_eq!(img.code_sha256(), "ab".repeat(32));
    }

    #[test]
    fn overrides_replace_each_part_of_the_command() {
        let image_ep = vec!["/lambda-entrypoint.sh".to_string()];
        let image_cmd = vec!["app.handler".to_string()];
        let none = ImageConfig::default();
        assert_eq!(
            none.argv(&image_ep, &image_cmd),
            ["/lambda-entrypoint.sh", "app.handler"]
        );
        let cmd = ImageConfig {
            command: Some(vec!["app.other".into()]),
            ..Default::default()
        };
        assert_eq!(
            cmd.argv(&image_ep, &image_cmd),
            ["/lambda-entrypoint.sh", "app.other"]
        );
        let ep = ImageConfig {
            entry_point: Some(vec!["/bin/run".into()]),
            command: Some(vec![]),
            ..Default::default()
        };
        assert_eq!(ep.argv(&image_ep, &image_cmd), ["/bin/run"]);
        assert_eq!(none.working_dir(None), "/var/task");
        assert_eq!(none.working_dir(Some("/app")), "/app");
        let wd = ImageConfig {
            working_directory: Some("/srv".into()),
            ..Default::default()
        };
        assert_eq!(wd.working_dir(Some("/app")), "/srv");
    }
}
