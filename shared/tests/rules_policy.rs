//! Proves, for every rule set here, that the policy the authorizer emits answers exactly as the rules do, for
//! every caller and every route: API Gateway caches one policy per token and reuses it for every method, so a
//! policy that disagreed with the rules anywhere would allow or deny the wrong route from the cache.

use authorizer::arn::MethodArn;
use authorizer::outcome::{Denial, Requirement};
use authorizer::policy::{Action, Effect, Evaluation, PolicyDocument};
use authorizer::request::{ClientCert, Request, Shape};
use authorizer::rules::{RuleSet, RulesConfig, VERBS};
use authorizer::verify::VerifiedToken;

mod common;
use common::caller;
use serde_json::json;

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
            let verdicts = rules.evaluate(token, None);
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
    let policy = PolicyDocument::build(PREFIX, &rules.evaluate(admin, None).grants());
    let at = |route: &str| policy.evaluate(Action::InvalidateCache, &format!("{PREFIX}{route}"));
    assert_eq!(at("GET/admin/users"), Evaluation::Allow);
    assert_eq!(at("GET/items/1"), Evaluation::ImplicitDeny);
    let reader = &callers()[1];
    let policy = PolicyDocument::build(PREFIX, &rules.evaluate(reader, None).grants());
    assert_eq!(policy.evaluate(Action::InvalidateCache, &format!("{PREFIX}GET/admin/users")), Evaluation::ExplicitDeny);
}

#[test]
fn a_caller_who_meets_no_rule_gets_one_explicit_deny_for_the_whole_stage() {
    let config: RulesConfig = toml::from_str(RULE_SETS[1]).unwrap();
    let rules = RuleSet::compile(&config).unwrap();
    let nobody = &callers()[0];
    let policy = PolicyDocument::build(PREFIX, &rules.evaluate(nobody, None).grants());
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
    let policy = PolicyDocument::build(&longest_prefix, &rules.evaluate(&callers()[0], None).grants());
    for statement in &policy.statements {
        let json = serde_json::to_value(statement).unwrap();
        for resource in json["Resource"].as_array().unwrap() {
            assert!(resource.as_str().unwrap().len() <= 512, "{resource}");
        }
    }
}

/// Request-aware rules: tenant binding, source addresses, headers and client certificates.
const REQUEST_RULES: &str = r#"
[[route]]
match = ["ANY /tenants/{tenantId}/{proxy+}", "GET /tenants/{tenantId}"]
path_claims = { tenantId = "custom:tenant_id" }
[[route]]
match = ["GET /internal/*"]
source_ips = ["10.0.0.0/8", "2001:db8::/32"]
deny_source_ips = ["10.66.0.0/16"]
[[route]]
match = ["POST /uploads"]
required_headers = ["x-upload-id"]
[[route]]
match = ["ANY /partner/{proxy+}"]
client_cert = { subject = "CN=partner-client,O=Example Partner,C=GB", sha256 = "AB:CD" }
"#;

fn request(source_ip: &str, headers: &[(&str, &str)], cert_sha256: Option<&str>) -> Request {
    Request {
        shape: Shape::Rest,
        arn: format!("{PREFIX}GET/"),
        http_method: Some("GET".into()),
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        query: vec![],
        cookies: vec![],
        source_ip: source_ip.parse().ok(),
        client_cert: cert_sha256.map(|sha| ClientCert {
            subject_dn: "CN=partner-client,O=Example Partner,C=GB".into(),
            issuer_dn: "CN=Example Partner CA".into(),
            sha256: Some(sha.into()),
        }),
    }
}

#[test]
fn request_aware_policies_answer_as_the_rules_do_for_every_route() {
    let rules = RuleSet::compile(&toml::from_str(REQUEST_RULES).unwrap()).unwrap();
    let tenants = [
        json!({}),
        json!({"custom:tenant_id": "acme"}),
        json!({"custom:tenant_id": "glob*"}),
        json!({"custom:tenant_id": 7}),
    ];
    let requests = [
        request("10.1.2.3", &[("x-upload-id", "u1")], Some("abcd")),
        request("10.66.0.9", &[("x-upload-id", " ")], Some("beef")),
        request("2001:db8::7", &[], None),
        request("not an address", &[], None),
        request("203.0.113.10", &[("X-Upload-Id", "u2")], Some("abcd")),
    ];
    let paths = [
        "tenants/acme",
        "tenants/acme/orders/1",
        "tenants/other/orders",
        "tenants/glob*/x",
        "internal/metrics",
        "uploads",
        "partner/orders",
        "tenants",
    ];
    for claims in &tenants {
        let token = caller(&[], &[], claims.clone());
        for (r, request) in requests.iter().enumerate() {
            let verdicts = rules.evaluate(&token, Some(request));
            let policy = PolicyDocument::build(PREFIX, &verdicts.grants());
            for route in VERBS.iter().flat_map(|verb| paths.iter().map(move |path| format!("{verb}/{path}"))) {
                let rules_allow = verdicts.decide(&route).is_ok();
                let policy_allow = policy.evaluate(Action::Invoke, &format!("{PREFIX}{route}")) == Evaluation::Allow;
                assert_eq!(policy_allow, rules_allow, "claims {claims}, request {r}, route {route}");
            }
        }
    }
}

#[test]
fn tenant_binding_allows_only_the_callers_own_tenant() {
    let rules = RuleSet::compile(&toml::from_str(REQUEST_RULES).unwrap()).unwrap();
    let acme = caller(&[], &[], json!({"custom:tenant_id": "acme"}));
    let verdicts = rules.evaluate(&acme, None);
    assert!(verdicts.decide("GET/tenants/acme/orders").is_ok());
    assert_eq!(verdicts.decide("GET/tenants/other/orders"), Err(Denial::NoMatchingRule));
    let policy = PolicyDocument::build(PREFIX, &verdicts.grants());
    let allowed: Vec<&str> = policy.resources(Effect::Allow).collect();
    assert!(allowed.iter().all(|r| !r.contains("/tenants/*")), "no Allow may span tenants: {allowed:?}");
    // A claim that could widen the resource (a wildcard) or is missing binds nothing and names every tenant, unmet.
    for claims in [json!({"custom:tenant_id": "a*"}), json!({"custom:tenant_id": "a/b"}), json!({})] {
        let verdicts = rules.evaluate(&caller(&[], &[], claims.clone()), None);
        assert!(
            matches!(
                verdicts.decide("GET/tenants/acme"),
                Err(Denial::Unmet { requirement: Requirement::PathClaim(_), .. })
            ),
            "{claims}"
        );
    }
}

#[test]
fn token_events_never_meet_request_requirements() {
    let rules = RuleSet::compile(&toml::from_str(REQUEST_RULES).unwrap()).unwrap();
    let verdicts = rules.evaluate(&caller(&[], &[], json!({})), None);
    for (route, requirement) in [
        ("GET/internal/metrics", Requirement::SourceIp),
        ("POST/uploads", Requirement::Header("x-upload-id".into())),
        ("GET/partner/x", Requirement::ClientCert),
    ] {
        assert_eq!(verdicts.decide(route), Err(Denial::Unmet { rule: route_rule(route), requirement }), "{route}");
    }
    assert!(rules.depends_on_request());
}

fn route_rule(route: &str) -> usize {
    match route {
        "GET/internal/metrics" => 1,
        "POST/uploads" => 2,
        _ => 3,
    }
}

#[test]
fn request_rule_settings_are_checked() {
    let cases = [
        (
            "[[route]]\nmatch = [\"GET /a/{x}\", \"GET /b\"]\npath_claims = { x = \"c\" }",
            "rules.route[0].path_claims.x",
        ),
        ("unmatched = \"allow\"\n[[route]]\nmatch = [\"GET /a/{x}\"]\npath_claims = { x = \"c\" }", "rules.unmatched"),
        ("[[route]]\nmatch = [\"GET /a\"]\nsource_ips = [\"10.0.0.1/8\"]", "rules.route[0].source_ips[0]"),
        ("[[route]]\nmatch = [\"GET /a\"]\ndeny_source_ips = [\"nope\"]", "rules.route[0].deny_source_ips[0]"),
        ("[[route]]\nmatch = [\"GET /a\"]\nrequired_headers = [\"\"]", "rules.route[0].required_headers"),
        ("[[route]]\nmatch = [\"GET /a\"]\nclient_cert = {}", "rules.route[0].client_cert"),
    ];
    for (text, setting) in cases {
        let error = RuleSet::compile(&toml::from_str(text).unwrap()).unwrap_err();
        assert_eq!(error.setting, setting, "{text}");
    }
}
