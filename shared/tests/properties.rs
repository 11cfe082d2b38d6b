//! Property tests: for random rule sets, callers and routes, the emitted policy answers as the rules do; and
//! the wildcard matcher, method ARNs and CIDR blocks agree with naive reference implementations.

use authorizer::arn::MethodArn;
use authorizer::cidr::Cidr;
use authorizer::glob;
use authorizer::policy::{Action, Evaluation, PolicyDocument};
use authorizer::rules::{RuleSet, RulesConfig, VERBS};
use proptest::prelude::*;

mod common;
use common::caller;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr};

const PREFIX: &str = "arn:aws:execute-api:eu-west-1:123456789012:api9/live/";
const GROUPS: [&str; 3] = ["g1", "g2", "g3"];

/// A route pattern from a small alphabet, so that random routes often hit it.
fn pattern() -> impl Strategy<Value = String> {
    let segment =
        prop_oneof!["items", "a", "b", Just("{id}".to_string()), Just("*".to_string()), Just("x*".to_string())];
    let method = prop_oneof![Just("ANY"), Just("GET"), Just("POST"), Just("DELETE")];
    (method, prop::collection::vec(segment, 0..4), any::<bool>()).prop_map(|(method, segments, greedy)| {
        let mut path = segments.join("/");
        if greedy {
            path.push_str(if path.is_empty() { "{proxy+}" } else { "/{proxy+}" });
        }
        format!("{method} /{path}")
    })
}

fn rule() -> impl Strategy<Value = serde_json::Value> {
    let groups = prop::sample::subsequence(GROUPS.to_vec(), 0..=2);
    (prop::collection::vec(pattern(), 1..3), groups.clone(), groups, any::<bool>()).prop_map(
        |(patterns, any_of, all_of, invalidate)| {
            json!({"match": patterns, "groups_any": any_of, "groups_all": all_of, "invalidate_cache": invalidate})
        },
    )
}

fn rule_set() -> impl Strategy<Value = RuleSet> {
    (prop::collection::vec(rule(), 0..5), any::<bool>()).prop_map(|(routes, allow)| {
        let config: RulesConfig =
            serde_json::from_value(json!({"unmatched": if allow { "allow" } else { "deny" }, "route": routes}))
                .unwrap();
        RuleSet::compile(&config).unwrap()
    })
}

/// A concrete request route: a verb and a path over the patterns' alphabet.
fn route() -> impl Strategy<Value = String> {
    let segment = prop_oneof!["items", "a", "b", "x", "xy", "42", ""];
    (prop::sample::select(VERBS.to_vec()), prop::collection::vec(segment, 0..5))
        .prop_map(|(verb, segments)| format!("{verb}/{}", segments.join("/")))
}

/// IAM wildcard matching, written the obvious (exponential) way.
fn reference_glob(pattern: &[char], text: &[char]) -> bool {
    match pattern.first() {
        None => text.is_empty(),
        Some('*') => (0..=text.len()).any(|skip| reference_glob(&pattern[1..], &text[skip..])),
        Some('?') => !text.is_empty() && reference_glob(&pattern[1..], &text[1..]),
        Some(c) => text.first() == Some(c) && reference_glob(&pattern[1..], &text[1..]),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_policy_answers_as_the_rules_do(
        rules in rule_set(),
        groups in prop::sample::subsequence(GROUPS.to_vec(), 0..=3),
        routes in prop::collection::vec(route(), 1..20),
    ) {
        let verdicts = rules.evaluate(&caller(&[], &groups, json!({})), None);
        let policy = PolicyDocument::build(PREFIX, &verdicts.grants());
        for route in routes {
            let rules_allow = verdicts.decide(&route).is_ok();
            let policy_allow = policy.evaluate(Action::Invoke, &format!("{PREFIX}{route}")) == Evaluation::Allow;
            prop_assert_eq!(policy_allow, rules_allow, "route {}", route);
            // Nothing outside the stage is ever allowed.
            let elsewhere = format!("arn:aws:execute-api:eu-west-1:123456789012:api9/other/{route}");
            prop_assert_ne!(policy.evaluate(Action::Invoke, &elsewhere), Evaluation::Allow);
        }
    }

    #[test]
    fn glob_agrees_with_the_reference(pattern in "[ab/*?é]{0,8}", text in "[ab/é]{0,10}") {
        let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
        prop_assert_eq!(glob::matches(&pattern, &text), reference_glob(&p, &t));
    }

    #[test]
    fn method_arns_round_trip(
        partition in "aws(-cn|-us-gov)?",
        region in "[a-z]{2}-[a-z]{4,9}-[1-9]",
        account in "[0-9]{12}",
        api in "[a-z0-9]{10}",
        stage in "[A-Za-z0-9_-]{1,20}",
        verb in prop::sample::select(VERBS.to_vec()),
        path in "[a-zA-Z0-9/._~-]{0,40}",
    ) {
        let route = format!("{verb}/{path}");
        let arn = format!("arn:{partition}:execute-api:{region}:{account}:{api}/{stage}/{route}");
        let parsed = MethodArn::parse(&arn).unwrap();
        prop_assert_eq!((parsed.partition, parsed.region, parsed.account), (partition.as_str(), region.as_str(), account.as_str()));
        prop_assert_eq!((parsed.api_id, parsed.stage, parsed.route), (api.as_str(), stage.as_str(), route.as_str()));
        prop_assert_eq!(format!("{}{}", parsed.stage_prefix, parsed.route), arn);
    }

    #[test]
    fn cidr_agrees_with_masking(network in any::<u32>(), prefix in 0u8..=32, address in any::<u32>()) {
        let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
        let block: Cidr = format!("{}/{prefix}", Ipv4Addr::from(network & mask)).parse().unwrap();
        let inside = (address & mask) == (network & mask);
        prop_assert_eq!(block.contains(IpAddr::V4(Ipv4Addr::from(address))), inside);
    }
}
