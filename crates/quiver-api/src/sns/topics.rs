//! Topic operations: CreateTopic, DeleteTopic, ListTopics, Get/SetTopicAttributes,
//! Tag/UntagResource, ListTagsForResource.

use base64::Engine as _;
use quiver_model::sns::{self, attrs, SnsError, Topic, TOPICS_PAGE};

use super::form::Form;
use super::xml::Xml;
use super::Ctx;

pub(super) fn token_of(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

pub(super) fn key_of_token(t: Option<&str>) -> Result<Option<String>, SnsError> {
    t.filter(|t| !t.is_empty())
        .map(|t| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| SnsError::invalid("NextToken"))
        })
        .transpose()
}

fn check_tags(tags: &[(String, String)]) -> Result<(), SnsError> {
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(SnsError::invalid(
                "Tags Reason: a tag key is 1 to 128 characters, a value at most 256",
            ));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(SnsError::invalid(
                "Tags Reason: the aws: prefix is reserved",
            ));
        }
    }
    Ok(())
}

fn tag_limit() -> SnsError {
    SnsError::new(
        "TagLimitExceeded",
        400,
        "Could not complete request: tag quota of per resource exceeded",
    )
}

pub async fn create(ctx: &Ctx, f: &Form) -> Result<Xml, SnsError> {
    let name = sns::check_topic_name(f.get("Name"))?.to_string();
    let attributes = f.map("Attributes")?;
    for (k, v) in &attributes {
        attrs::check_topic_attribute(k, v, true)?;
    }
    let tags = f.tags("Tags")?;
    check_tags(&tags)?;
    if tags.len() > sns::MAX_TAGS {
        return Err(tag_limit());
    }
    let topic = Topic {
        arn: sns::topic_arn(ctx.partition(), &name),
        name,
        attributes: attributes.clone(),
        tags: tags.iter().cloned().collect(),
        subscriptions_deleted: 0,
    };
    let t = topic.clone();
    let (stored, created) = ctx
        .db(SnsError::topic_not_found, move |s| s.create_topic(&t))
        .await?;
    if !created {
        // Idempotent for the same name: what the caller names must match.
        let same_attrs = attributes.iter().all(|(k, v)| {
            stored
                .attributes
                .get(k)
                .map_or(k == "FifoTopic" && v.eq_ignore_ascii_case("false"), |s| {
                    s == v
                })
        });
        if !same_attrs {
            return Err(SnsError::invalid(
                "Attributes Reason: Topic already exists with different attributes",
            ));
        }
        if !tags.is_empty() && topic.tags != stored.tags {
            return Err(SnsError::invalid(
                "Tags Reason: Topic already exists with different tags",
            ));
        }
    }
    Ok(Xml::new().leaf("TopicArn", &stored.arn))
}

/// The topic a member names, which must exist.
pub(super) async fn existing(
    ctx: &Ctx,
    arn: Option<&str>,
    member: &str,
) -> Result<Topic, SnsError> {
    let name = sns::topic_name_of(ctx.partition(), arn, member)?;
    ctx.db(SnsError::topic_not_found, move |s| s.get_topic(&name))
        .await?
        .ok_or_else(SnsError::topic_not_found)
}

pub async fn delete(ctx: &Ctx, f: &Form) -> Result<(), SnsError> {
    // Idempotent: deleting a topic that does not exist is no error.
    let name = match sns::topic_name_of(ctx.partition(), f.get("TopicArn"), "TopicArn") {
        Err(e) if e.code == "NotFound" => return Ok(()),
        other => other?,
    };
    ctx.db(SnsError::topic_not_found, move |s| s.delete_topic(&name))
        .await?;
    Ok(())
}

pub async fn list(ctx: &Ctx, f: &Form) -> Result<Xml, SnsError> {
    let after = key_of_token(f.get("NextToken"))?;
    let mut page = ctx
        .db(SnsError::topic_not_found, move |s| {
            s.list_topics(after.as_deref(), TOPICS_PAGE + 1)
        })
        .await?;
    let more = page.len() > TOPICS_PAGE;
    page.truncate(TOPICS_PAGE);
    let next = more.then(|| token_of(&page[page.len() - 1].name));
    Ok(Xml::new()
        .members(
            "Topics",
            page.iter().map(|t| Xml::new().leaf("TopicArn", &t.arn)),
        )
        .opt("NextToken", next.as_deref()))
}

pub async fn get_attributes(ctx: &Ctx, f: &Form) -> Result<Xml, SnsError> {
    let topic = existing(ctx, f.get("TopicArn"), "TopicArn").await?;
    let name = topic.name.clone();
    let subs = ctx
        .db(SnsError::topic_not_found, move |s| {
            s.list_subscriptions(Some(&name), None, usize::MAX >> 1)
        })
        .await?;
    let pending = subs.iter().filter(|s| s.pending).count();
    let a = attrs::topic_attributes(
        &topic,
        &ctx.partition().account,
        subs.len() - pending,
        pending,
        topic.subscriptions_deleted as usize,
    );
    Ok(Xml::new().map("Attributes", &a))
}

pub async fn set_attributes(ctx: &Ctx, f: &Form) -> Result<(), SnsError> {
    let topic = existing(ctx, f.get("TopicArn"), "TopicArn").await?;
    let name = f
        .get("AttributeName")
        .ok_or_else(|| SnsError::invalid("AttributeName"))?
        .to_string();
    let value = f.get("AttributeValue").unwrap_or("").to_string();
    attrs::check_topic_attribute(&name, &value, false)?;
    ctx.db(SnsError::topic_not_found, move |s| {
        s.update_topic(&topic.name, &mut |t| {
            if value.is_empty() && name != "DisplayName" {
                t.attributes.remove(&name);
            } else {
                t.attributes.insert(name.clone(), value.clone());
            }
            Ok(())
        })
    })
    .await?;
    Ok(())
}

async fn tagged(ctx: &Ctx, f: &Form) -> Result<Topic, SnsError> {
    let arn = f.get("ResourceArn");
    let name = match sns::topic_name_of(ctx.partition(), arn, "ResourceArn") {
        Err(e) if e.code == "NotFound" => return Err(SnsError::resource_not_found()),
        other => other?,
    };
    ctx.db(SnsError::resource_not_found, move |s| s.get_topic(&name))
        .await?
        .ok_or_else(SnsError::resource_not_found)
}

pub async fn tag(ctx: &Ctx, f: &Form) -> Result<(), SnsError> {
    let topic = tagged(ctx, f).await?;
    let tags = f.tags("Tags")?;
    check_tags(&tags)?;
    let mut merged = topic.tags.clone();
    merged.extend(tags.iter().cloned());
    if merged.len() > sns::MAX_TAGS {
        return Err(tag_limit());
    }
    ctx.db(SnsError::resource_not_found, move |s| {
        s.update_topic(&topic.name, &mut |t| {
            t.tags.extend(tags.iter().cloned());
            Ok(())
        })
    })
    .await?;
    Ok(())
}

pub async fn untag(ctx: &Ctx, f: &Form) -> Result<(), SnsError> {
    let topic = tagged(ctx, f).await?;
    let keys = f.strings("TagKeys")?;
    ctx.db(SnsError::resource_not_found, move |s| {
        s.update_topic(&topic.name, &mut |t| {
            for k in &keys {
                t.tags.remove(k);
            }
            Ok(())
        })
    })
    .await?;
    Ok(())
}

pub async fn list_tags(ctx: &Ctx, f: &Form) -> Result<Xml, SnsError> {
    let topic = tagged(ctx, f).await?;
    Ok(Xml::new().members(
        "Tags",
        topic
            .tags
            .iter()
            .map(|(k, v)| Xml::new().leaf("Key", k).leaf("Value", v)),
    ))
}
