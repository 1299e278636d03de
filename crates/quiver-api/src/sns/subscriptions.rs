//! Subscription operations: Subscribe, ConfirmSubscription, Unsubscribe,
//! ListSubscriptions(ByTopic), Get/SetSubscriptionAttributes.

use quiver_model::sns::{
    self, attrs, Protocol, SnsError, Subscription, PENDING_ARN, SUBSCRIPTIONS_PAGE,
};
use quiver_store::StoreError;

use super::form::Form;
use super::topics::{existing, key_of_token, token_of};
use super::xml::Xml;
use super::Ctx;

pub async fn subscribe(ctx: &Ctx, f: &Form) -> Result<Xml, SnsError> {
    let topic = existing(ctx, f.get("TopicArn"), "TopicArn").await?;
    let protocol = Protocol::parse(f.get("Protocol"))?;
    let endpoint = sns::check_endpoint(protocol, f.get("Endpoint"))?;
    let given = f.map("Attributes")?;
    for (k, v) in &given {
        attrs::check_subscription_attribute(protocol, k, v, false)?;
    }
    let return_arn = f.bool("ReturnSubscriptionArn")?.unwrap_or(false);
    let pending = protocol.needs_confirmation();
    // Refused before anything is stored when there is no delivery side to confirm with.
    let topics = ctx.topics()?;
    let mut sub = Subscription {
        arn: format!("{}:{}", topic.arn, uuid::Uuid::new_v4()),
        topic_arn: topic.arn.clone(),
        protocol,
        endpoint,
        owner: ctx.partition().account.clone(),
        attributes: Default::default(),
        pending,
        token: pending.then(|| {
            format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )
        }),
    };
    for (k, v) in &given {
        attrs::set_subscription_attribute(&mut sub, k, v);
    }
    let s2 = sub.clone();
    let name = topic.name.clone();
    let (stored, created) = ctx
        .db(SnsError::topic_not_found, move |s| {
            s.create_subscription(&name, &s2)
        })
        .await?;
    if !created {
        let mut wanted = stored.clone();
        for (k, v) in &given {
            attrs::set_subscription_attribute(&mut wanted, k, v);
        }
        if wanted.attributes != stored.attributes {
            return Err(SnsError::invalid(
                "Attributes Reason: Subscription already exists with different attributes",
            ));
        }
    }
    if stored.pending {
        // A new pending subscription, or the same one subscribed again: (re)send the
        // SubscriptionConfirmation, as SNS does.
        topics
            .request_confirmation(&stored)
            .await
            .map_err(super::internal)?;
    }
    let shown = if stored.pending && !return_arn {
        PENDING_ARN
    } else {
        &stored.arn
    };
    Ok(Xml::new().leaf("SubscriptionArn", shown))
}

pub async fn confirm(ctx: &Ctx, f: &Form) -> Result<Xml, SnsError> {
    let topic = existing(ctx, f.get("TopicArn"), "TopicArn").await?;
    let token = f
        .get("Token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| SnsError::invalid("Token"))?
        .to_string();
    let subs = ctx
        .db(SnsError::topic_not_found, move |s| {
            s.list_subscriptions(Some(&topic.name), None, usize::MAX >> 1)
        })
        .await?;
    let sub = subs
        .into_iter()
        .find(|s| s.token.as_deref() == Some(token.as_str()))
        .ok_or_else(|| SnsError::invalid("Invalid token"))?;
    let arn = sub.arn.clone();
    let confirmed = ctx
        .db(SnsError::subscription_not_found, move |s| {
            s.update_subscription(&arn, &mut |x| {
                x.pending = false;
                Ok(())
            })
        })
        .await?;
    Ok(Xml::new().leaf("SubscriptionArn", &confirmed.arn))
}

pub async fn unsubscribe(ctx: &Ctx, f: &Form) -> Result<(), SnsError> {
    let arn = f.get("SubscriptionArn").unwrap_or("").to_string();
    sns::topic_of_subscription(Some(&arn))?;
    let gone = ctx
        .db(SnsError::subscription_not_found, move |s| {
            s.delete_subscription(&arn)
        })
        .await?;
    if !gone {
        return Err(SnsError::subscription_not_found());
    }
    Ok(())
}

fn listed(s: &Subscription) -> Xml {
    Xml::new()
        .leaf("SubscriptionArn", s.listed_arn())
        .leaf("Owner", &s.owner)
        .leaf("Protocol", s.protocol.as_str())
        .leaf("Endpoint", &s.endpoint)
        .leaf("TopicArn", &s.topic_arn)
}

pub async fn list(ctx: &Ctx, f: &Form, by_topic: bool) -> Result<Xml, SnsError> {
    let topic = if by_topic {
        Some(existing(ctx, f.get("TopicArn"), "TopicArn").await?.name)
    } else {
        None
    };
    let after = key_of_token(f.get("NextToken"))?;
    let mut page = ctx
        .db(SnsError::topic_not_found, move |s| {
            s.list_subscriptions(topic.as_deref(), after.as_deref(), SUBSCRIPTIONS_PAGE + 1)
        })
        .await?;
    let more = page.len() > SUBSCRIPTIONS_PAGE;
    page.truncate(SUBSCRIPTIONS_PAGE);
    let next = more.then(|| token_of(&page[page.len() - 1].arn));
    Ok(Xml::new()
        .members("Subscriptions", page.iter().map(listed))
        .opt("NextToken", next.as_deref()))
}

async fn existing_subscription(ctx: &Ctx, f: &Form) -> Result<Subscription, SnsError> {
    let arn = f.get("SubscriptionArn").unwrap_or("").to_string();
    sns::topic_of_subscription(Some(&arn))?;
    ctx.db(SnsError::subscription_not_found, move |s| {
        s.get_subscription(&arn)
    })
    .await?
    .ok_or_else(SnsError::subscription_not_found)
}

pub async fn get_attributes(ctx: &Ctx, f: &Form) -> Result<Xml, SnsError> {
    let sub = existing_subscription(ctx, f).await?;
    Ok(Xml::new().map("Attributes", &attrs::subscription_attributes(&sub)))
}

pub async fn set_attributes(ctx: &Ctx, f: &Form) -> Result<(), SnsError> {
    let sub = existing_subscription(ctx, f).await?;
    let name = f
        .get("AttributeName")
        .ok_or_else(|| SnsError::invalid("AttributeName"))?
        .to_string();
    let value = f.get("AttributeValue").unwrap_or("").to_string();
    attrs::check_subscription_attribute(sub.protocol, &name, &value, true)?;
    ctx.db(SnsError::subscription_not_found, move |s| {
        s.update_subscription(&sub.arn, &mut |x| {
            attrs::set_subscription_attribute(x, &name, &value);
            Ok::<(), StoreError>(())
        })
    })
    .await?;
    Ok(())
}
