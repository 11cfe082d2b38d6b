//! Proves, for every rule set here, that the policy the authorizer emits answers exactly as the rules do, for
//! every caller and every route: API Gateway caches one policy per token and reuses it for every method, so a
//! policy that disagreed with the rules anywhere would allow or deny the wrong route from the cache.

use authorizer::alg::Algorithm;
use authorizer::arn::MethodArn;
use authorizer::policy::{Action, Evaluation, PolicyDocument};
use authorizer::rules::{RuleSet, RulesConfig, VERBS};
use authorizer::verify::VerifiedToken;
use serde_json::{Map, Value, json};

const PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012:api1234/prod/";

const RULE_SETS: [&str; 4] = [
    // Typical: readers and admins, an admin area, a public health check.
    r#"
    [[route]]
    match = ["GET /items", "GET /items/{id}"]
    scopes_any = ["items/read", "items/write"]
    [[route]]
    match = ["POST /items", "PUT /items/{id}", "DELETE /items/{id}"]
    scopes_any = ["items/write"]
    [[route]]
    match = ["ANY /admin/{proxy+}"]
    groups_any = ["admins"]
    invalidate_cache = true
    [[route]]
    match = ["GET /health"]
    "#,
    // Overlapping rules: a deeper route under a parameter must satisfy both.
    r#"
    [[route]]
    match = ["GET /items/{id}"]
    groups_any = ["readers", "admins"]
    [[route]]
    match = ["GET /items/{id}/secret"]
    groups_all = ["admins", "auditors"]
    [[route]]
    match = ["GET /tenants/{t}/*"]
    claims = { "custom:tier" = ["gold", "silver"] }
    "#,
    // Unmatched routes allowed: rules only restrict.
    r#"
    unmatched = "allow"
    [[route]]
    match = ["DELETE /items/{id}", "ANY /admin/{proxy+}"]
    groups_any = ["admins"]
    [[route]]
    match = ["GET /billing"]
    claims = { "custom:tier" = "gold", "email_verified" = true }
    invalidate_cache = true
    "#,
    // Root, wildcards mid-path, every verb.
    r#"
    [[route]]
    match = ["GET /", "ANY /v1/*/status"]
    scopes_any = ["status"]
    [[route]]
    match = ["* /open/{x}"]
    "#,
];

fn caller(scopes: &[&str], groups: &[&str], claims: Value) -> VerifiedToken {
    VerifiedToken {
        issuer: "https://issuer.test".into(),
        kid: "k".into(),
        alg: Algorithm::RS256,
        principal: "p".into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        groups: groups.iter().map(|s| s.to_string()).collect(),
        claims: claims.as_object().cloned().unwrap_or_else(Map::new),
    }
}

fn callers() -> Vec<VerifiedToken> {
    vec![
        caller(&[], &[], json!({})),
        caller(&["items/read"], &["readers"], json!({"custom:tier": "bronze"})),
        caller(&["items/write", "status"], &["admins"], json!({"custom:tier": "gold", "email_verified": true})),
        caller(&[], &["admins", "auditors"], json!({"custom:tier": ["silver"], "email_verified": "true"})),
    ]
}

/// Concrete request routes: every pattern's parameters filled with one and with several segments, plus
/// routes no rule names.
fn routes() -> Vec<String> {
    let paths = [
        "",
        "items",
        "items/42",
        "items/a/b",
        "items/42/secret",
        "items/42/secret/x",
        "admin",
        "admin/",
        "admin/users",
        "admin/users/7/roles",
        "health",
        "healthz",
        "tenants/acme/orders",
        "tenants/acme",
        "billing",
        "v1/x/status",
        "v1/x/y/status",
        "v1/status",
        "open/1",
        "open/1/2",
        "x/admin/y",
        "other",
    ];
    VERBS.iter().flat_map(|verb| paths.iter().map(move |path| format!("{verb}/{path}"))).collect()
}

#[test]
fn the_emitted_policy_answers_as_the_rules_do_for_every_route() {
    let mut checked = 0;
    for (index, text) in RULE_SETS.iter().enumerate() {
        let config: RulesConfig = toml::from_str(text).unwrap();
        let rules = RuleSet::compile(&config).unwrap();
        for (who, token) in callers().iter().enumerate() {
            let verdicts = rules.evaluate(token);
            let policy = PolicyDocument::build(PREFIX, &verdicts.grants());
            for route in routes() {
                let arn = format!("{PREFIX}{route}");
                assert_eq!(MethodArn::parse(&arn).unwrap().route, route);
                let rules_allow = verdicts.decide(&route).is_ok();
                let policy_allow = policy.evaluate(Action::Invoke, &arn) == Evaluation::Allow;
                assert_eq!(policy_allow, rules_allow, "rule set {index}, caller {who}, route {route}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, RULE_SETS.len() * callers().len() * routes().len());
}

#[test]
fn invalidate_cache_is_granted_only_where_rules_grant_it() {
    let config: RulesConfig = toml::from_str(RULE_SETS[0]).unwrap();
    let rules = RuleSet::compile(&config).unwrap();
    let admin = &callers()[2];
    let policy = PolicyDocument::build(PREFIX, &rules.evaluate(admin).grants());
    let at = |route: &str| policy.evaluate(Action::InvalidateCache, &format!("{PREFIX}{route}"));
    assert_eq!(at("GET/admin/users"), Evaluation::Allow);
    assert_eq!(at("GET/items/1"), Evaluation::ImplicitDeny);
    let reader = &callers()[1];
    let policy = PolicyDocument::build(PREFIX, &rules.evaluate(reader).grants());
    assert_eq!(policy.evaluate(Action::InvalidateCache, &format!("{PREFIX}GET/admin/users")), Evaluation::ExplicitDeny);
}

#[test]
fn a_caller_who_meets_no_rule_gets_one_explicit_deny_for_the_whole_stage() {
    let config: RulesConfig = toml::from_str(RULE_SETS[1]).unwrap();
    let rules = RuleSet::compile(&config).unwrap();
    let nobody = &callers()[0];
    let policy = PolicyDocument::build(PREFIX, &rules.evaluate(nobody).grants());
    assert_eq!(policy.statements.len(), 1);
    assert_eq!(policy.evaluate(Action::Invoke, &format!("{PREFIX}GET/anything")), Evaluation::ExplicitDeny);
}

#[test]
fn emitted_resources_stay_within_api_gateway_limits() {
    let long_path = format!("GET /{}", "a".repeat(authorizer::rules::MAX_PATH_PATTERN_BYTES - 1));
    let config: RulesConfig = toml::from_str(&format!("[[route]]\nmatch = [\"{long_path}\"]")).unwrap();
    let rules = RuleSet::compile(&config).unwrap();
    let longest_prefix =
        format!("arn:aws-iso-b:execute-api:us-isob-east-1:123456789012:{}/{}/", "a".repeat(64), "s".repeat(128));
    let policy = PolicyDocument::build(&longest_prefix, &rules.evaluate(&callers()[0]).grants());
    for statement in &policy.statements {
        let json = serde_json::to_value(statement).unwrap();
        for resource in json["Resource"].as_array().unwrap() {
            assert!(resource.as_str().unwrap().len() <= 512, "{resource}");
        }
    }
}
