//! Parses the `methodArn` / `routeArn` API Gateway sends, into the parts a policy reuses.
//!
//! `arn:{partition}:execute-api:{region}:{account}:{apiId}/{stage}/{route}` where the route is
//! `{VERB}/{path}` for REST and HTTP APIs or a route key such as `$connect` for WebSocket APIs. The parts
//! a policy reuses must never carry a wildcard: a `*` there would widen every emitted statement.

/// API Gateway refuses longer method ARNs (the client gets 414).
pub const MAX_METHOD_ARN_BYTES: usize = 1600;
const MAX_PART_BYTES: usize = 64;
const MAX_STAGE_BYTES: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodArn<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub api_id: &'a str,
    pub stage: &'a str,
    /// `GET/items/42`, `GET/` for the root, or `$connect`.
    pub route: &'a str,
    /// `arn:…:{apiId}/{stage}/`: the prefix of every resource in the policy.
    pub stage_prefix: &'a str,
}

impl<'a> MethodArn<'a> {
    pub fn parse(arn: &'a str) -> Result<Self, String> {
        if arn.len() > MAX_METHOD_ARN_BYTES {
            return Err(format!("method ARN longer than {MAX_METHOD_ARN_BYTES} bytes"));
        }
        let mut fields = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("execute-api"), Some(region), Some(account), Some(resource)) =
            (fields.next(), fields.next(), fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err("not an execute-api ARN".into());
        };
        let mut parts = resource.splitn(3, '/');
        let (Some(api_id), Some(stage), Some(route)) = (parts.next(), parts.next(), parts.next()) else {
            return Err("the ARN names no stage and route".into());
        };
        let word = |s: &str, extra: &[u8], max: usize| {
            !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
        };
        let valid = word(partition, b"-", MAX_PART_BYTES)
            && word(region, b"-", MAX_PART_BYTES)
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && word(api_id, b"", MAX_PART_BYTES)
            && word(stage, b"-_$", MAX_STAGE_BYTES)
            && !route.is_empty();
        if !valid {
            return Err("malformed execute-api ARN".into());
        }
        let stage_prefix = &arn[..arn.len() - route.len()];
        Ok(MethodArn { partition, region, account, api_id, stage, route, stage_prefix })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rest_root_and_websocket_arns() {
        let arn = MethodArn::parse("arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/items/42").unwrap();
        assert_eq!(
            (arn.partition, arn.region, arn.account, arn.api_id, arn.stage, arn.route),
            ("aws", "us-east-1", "123456789012", "abcdef1234", "prod", "GET/items/42")
        );
        assert_eq!(arn.stage_prefix, "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/");
        let root = MethodArn::parse("arn:aws-cn:execute-api:cn-north-1:123456789012:a1/v1/GET/").unwrap();
        assert_eq!(root.route, "GET/");
        let ws = MethodArn::parse("arn:aws:execute-api:eu-west-1:123456789012:ws1/$default/$connect").unwrap();
        assert_eq!((ws.stage, ws.route), ("$default", "$connect"));
    }

    #[test]
    fn rejects_wildcards_and_malformed_parts() {
        for bad in [
            "",
            "arn:aws:execute-api:us-east-1:123456789012:abc/prod",
            "arn:aws:execute-api:us-east-1:123456789012:abc/prod/",
            "arn:aws:lambda:us-east-1:123456789012:abc/prod/GET/",
            "arn:aws:execute-api:us-east-1:12345678901:abc/prod/GET/",
            "arn:aws:execute-api:us-east-1:123456789012:*/prod/GET/",
            "arn:aws:execute-api:us-east-1:123456789012:abc/*/GET/",
            "arn:aws:execute-api:*:123456789012:abc/prod/GET/",
            "arn:*:execute-api:us-east-1:123456789012:abc/prod/GET/",
            "arn:aws:execute-api:us-east-1:123456789012:abc/pr?d/GET/",
            "arn:aws:execute-api:us-east-1:12345678901a:abc/prod/GET/",
        ] {
            assert!(MethodArn::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/{}", "a".repeat(1600));
        assert!(MethodArn::parse(&long).is_err());
    }
}
