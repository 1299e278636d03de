//! Names, ids and target ARNs: what EventBridge accepts.

/// The bus every account has; it cannot be created or deleted.
pub const DEFAULT_BUS: &str = "default";

fn constraint(member: &str, value: &str, rule: &str) -> String {
    format!("1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {rule}")
}

fn check(member: &str, value: &str, max: usize, extra: &[char]) -> Result<(), String> {
    if value.is_empty() || value.chars().count() > max {
        return Err(constraint(
            member,
            value,
            &format!("Member must have length less than or equal to {max} and greater than or equal to 1"),
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') || extra.contains(&c))
    {
        let class = if extra.contains(&'/') {
            "[/\\.\\-_A-Za-z0-9]+"
        } else {
            "[\\.\\-_A-Za-z0-9]+"
        };
        return Err(constraint(
            member,
            value,
            &format!("Member must satisfy regular expression pattern: {class}"),
        ));
    }
    Ok(())
}

/// A bus name (`member` is the request member, for the message).
pub fn check_bus_name(member: &str, value: &str) -> Result<(), String> {
    check(member, value, 256, &['/'])
}

pub fn check_rule_name(member: &str, value: &str) -> Result<(), String> {
    check(member, value, 64, &[])
}

pub fn check_target_id(member: &str, value: &str) -> Result<(), String> {
    check(member, value, 64, &[])
}

/// The kinds of target this server delivers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    /// A function (with an optional version or alias), invoked asynchronously.
    Lambda {
        function: String,
        qualifier: Option<String>,
    },
    Sqs {
        queue: String,
    },
    Sns {
        topic: String,
    },
}

/// What a target ARN names, or why it is refused.
pub fn target_kind(arn: &str) -> Result<TargetKind, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[1].is_empty() {
        return Err(format!(
            "Parameter {arn} is not valid. Reason: Provided Arn is not in correct format."
        ));
    }
    let resource = parts[5];
    match parts[2] {
        "lambda" => {
            let rest = resource
                .strip_prefix("function:")
                .filter(|r| !r.is_empty())
                .ok_or_else(|| format!("Parameter {arn} is not valid. Reason: Provided Arn is not in correct format."))?;
            let (function, qualifier) = match rest.split_once(':') {
                Some((f, q)) => (f.to_string(), Some(q.to_string())),
                None => (rest.to_string(), None),
            };
            Ok(TargetKind::Lambda { function, qualifier })
        }
        "sqs" if !resource.is_empty() => Ok(TargetKind::Sqs { queue: resource.to_string() }),
        "sns" if !resource.is_empty() => Ok(TargetKind::Sns { topic: resource.to_string() }),
        _ => Err(format!(
            "Target {arn} is not a supported target: this server delivers to Lambda functions, SQS queues and SNS topics."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_rule_name("name", "my-rule_1.x").is_ok());
        assert_eq!(
            check_rule_name("name", "bad name").unwrap_err(),
            "1 validation error detected: Value 'bad name' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"
        );
        assert!(check_rule_name("name", &"a".repeat(65)).is_err());
        assert!(check_bus_name("name", "org/bus").is_ok());
        assert!(check_target_id("Targets.member.1.Id", "").is_err());
    }

    #[test]
    fn arns() {
        assert_eq!(
            target_kind("arn:aws:lambda:us-east-1:000000000000:function:f:live").unwrap(),
            TargetKind::Lambda {
                function: "f".into(),
                qualifier: Some("live".into())
            }
        );
        assert_eq!(
            target_kind("arn:aws:sqs:us-east-1:000000000000:q1").unwrap(),
            TargetKind::Sqs { queue: "q1".into() }
        );
        assert!(matches!(
            target_kind("arn:aws:sns:us-east-1:0:t").unwrap(),
            TargetKind::Sns { .. }
        ));
        assert!(target_kind("nope")
            .unwrap_err()
            .contains("not in correct format"));
        assert!(target_kind("arn:aws:kinesis:us-east-1:0:stream/s")
            .unwrap_err()
            .contains("not a supported target"));
    }
}
