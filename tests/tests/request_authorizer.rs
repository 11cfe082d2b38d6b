//! The REQUEST authorizer end to end: real moto-issued Cognito tokens in REST, HTTP API 1.0 and 2.0 and WebSocket
//! `$connect` events built from the samples in `events/`, sent to the function under `cargo lambda watch` and judged
//! as API Gateway would. Every answer is also held to its shape's response contract, and every request must leave
//! exactly one decision line, with the expected status and reason, in the log.
//!
//! Two configurations, so two watch instances, one after the other: IAM answers for every shape, then simple
//! responses with CORS preflight. One test drives both and reports every failed expectation at the end.

use std::collections::BTreeSet;

use authorizer::arn::MethodArn;
use authorizer::policy::{Action, Evaluation};
use authorizer::request::Shape;
use harness::cognito::{self, Cognito};
use harness::lambda::{LambdaWatch, Outcome, arn_member, contract_violations, request_event, token_event};
use harness::mint;
use harness::moto::Moto;
use serde_json::{Value, json};

const PASSWORD: &str = "Corr3ct-Horse!";
const SHAPES: [Shape; 4] = [Shape::Rest, Shape::HttpV1, Shape::HttpV2, Shape::WebSocket];

/// What API Gateway answers, and the reason the decision line gives.
#[derive(Debug, Clone, Copy)]
struct Expected {
    status: u16,
    reason: &'static str,
}

const ALLOWED: Expected = Expected { status: 200, reason: "allowed" };
const MISSING_GROUP: Expected = Expected { status: 403, reason: "missing_group" };
const NO_TOKEN: Expected = Expected { status: 401, reason: "missing_token" };
const BAD_SIGNATURE: Expected = Expected { status: 401, reason: "bad_signature" };
const AMBIGUOUS: Expected = Expected { status: 401, reason: "ambiguous_token" };
const BAD_EVENT: Expected = Expected { status: 500, reason: "bad_event" };

/// Signed-in users: alice may read items and connect; bob, in another group, may do neither.
struct Users {
    alice: String,
    alice_sub: String,
    bob: String,
    /// bob's token claiming alice's groups, not re-signed.
    tampered: String,
}

/// Runs scenarios against one watch instance and collects failed expectations instead of stopping at the first.
struct Suite {
    watch: LambdaWatch,
    /// Whether this instance answers HTTP API 2.0 events with simple responses.
    simple: bool,
    failures: Vec<String>,
    /// Every token sent, to prove afterwards that none reached the logs.
    tokens_sent: BTreeSet<String>,
}

impl Suite {
    async fn start(config: &str, simple: bool) -> Self {
        let watch = LambdaWatch::start("request-authorizer", &[("AUTHZ_CONFIG", config)]).await.unwrap();
        // The start-up invocation (an empty event) logs a decision too; counting starts after it.
        assert_eq!(watch.decisions(1).await.len(), 1, "the start-up invocation's decision line");
        Self { watch, simple, failures: Vec::new(), tokens_sent: BTreeSet::new() }
    }

    /// Sends `event` (of `shape`) and checks the outcome, the answer's contract and the decision line.
    async fn expect(&mut self, scenario: &str, shape: Shape, event: &Value, expected: Expected) -> Outcome {
        let Expected { status, reason } = expected;
        let logged = self.watch.decisions(0).await.len();
        let (outcome, answer) = self.watch.invoke_with_answer(event).await.unwrap();
        self.check(scenario, outcome.status() == status, || format!("expected {status}, got {outcome:?}"));
        if let Some(answer) = &answer {
            let problems = contract_violations(answer);
            self.check(scenario, problems.is_empty(), || format!("{answer} breaks the contract: {problems:?}"));
            let simple = self.simple && shape == Shape::HttpV2;
            let kind = |simple: bool| if simple { "a simple response" } else { "an IAM policy" };
            self.check(scenario, answer.get("isAuthorized").is_some() == simple, || {
                format!("expected {}, got {answer}", kind(simple))
            });
            // The backend never sees a refused request, so its context has no business in the answer.
            let refused_with_context = answer["isAuthorized"] == false && answer.get("context").is_some();
            self.check(scenario, !refused_with_context, || format!("context in a refusal: {answer}"));
        }
        let decisions = self.watch.decisions(logged + 1).await;
        let new = decisions.get(logged..).unwrap_or_default();
        let as_expected = matches!(new, [line] if line["status"] == status && line["reason"] == reason);
        self.check(scenario, as_expected, || format!("expected one decision line ({status}, {reason}), got {new:?}"));
        outcome
    }

    fn check(&mut self, scenario: &str, ok: bool, detail: impl FnOnce() -> String) {
        if !ok {
            // A token makes a message unreadable, and the log check below already says whether one leaked.
            let detail = self.secrets().fold(detail(), |text, secret| text.replace(secret, "<token>"));
            self.failures.push(format!("{scenario}: {detail}"));
        }
    }

    /// Each token sent, then its claims segment and its signature (headers are shared by many tokens and hold no
    /// secret).
    fn secrets(&self) -> impl Iterator<Item = &str> {
        let tokens = self.tokens_sent.iter().map(String::as_str);
        tokens.clone().chain(tokens.flat_map(|token| token.split('.').skip(1))).filter(|part| part.len() > 16)
    }

    /// The token in the sample's place for `shape`, remembered for the log check.
    fn event(&mut self, shape: Shape, token: &str) -> Value {
        self.tokens_sent.insert(token.to_owned());
        request_event(shape, Some(token))
    }

    /// Checks that no token reached the logs, and hands over the failures; stops the watch instance.
    fn finish(mut self) -> Vec<String> {
        let output = self.watch.output();
        let leaks: Vec<&str> =
            output.lines().filter(|line| self.secrets().any(|secret| line.contains(secret))).collect();
        self.check("logs: no token or token part", leaks.is_empty(), || format!("logged in: {leaks:?}"));
        self.failures
    }
}

fn name(shape: Shape) -> &'static str {
    match shape {
        Shape::Rest => "REST",
        Shape::HttpV1 => "HTTP 1.0",
        Shape::HttpV2 => "HTTP 2.0",
        Shape::WebSocket => "WebSocket $connect",
    }
}

/// `event` for `method` instead of the samples' `GET`: the ARN's verb and every field naming the method.
fn with_method(mut event: Value, method: &str) -> Value {
    let arn_key = arn_member(&event);
    // arn:…:{api}/{stage}/{VERB}/{path}
    let arn = event[arn_key].as_str().unwrap().to_owned();
    let [api, stage, verb, path] = arn.splitn(4, '/').collect::<Vec<_>>()[..] else { panic!("{arn}") };
    event[arn_key] = json!(format!("{api}/{stage}/{method}/{path}"));
    for pointer in ["/httpMethod", "/requestContext/httpMethod", "/requestContext/http/method"] {
        if let Some(field) = event.pointer_mut(pointer) {
            *field = json!(method);
        }
    }
    for pointer in ["/routeKey", "/requestContext/routeKey"] {
        if let Some(Value::String(key)) = event.pointer_mut(pointer) {
            *key = key.replacen(verb, method, 1);
        }
    }
    event
}

#[tokio::test]
async fn request_authorizer_end_to_end() {
    let moto = Moto::start().await.unwrap();
    let cognito = Cognito::new(moto.url());
    let pool = cognito.create_user_pool("request").await.unwrap();
    let client = cognito.create_app_client(&pool, "web").await.unwrap();
    for group in ["readers", "chatters", "writers"] {
        cognito.create_group(&pool, group).await.unwrap();
    }
    cognito.create_user(&pool, "alice", PASSWORD, &["readers", "chatters"]).await.unwrap();
    cognito.create_user(&pool, "bob", PASSWORD, &["writers"]).await.unwrap();
    let alice = cognito.sign_in(&pool, &client, "alice", PASSWORD).await.unwrap().access_token;
    let bob = cognito.sign_in(&pool, &client, "bob", PASSWORD).await.unwrap().access_token;
    let mut promoted = mint::claims_of(&bob).unwrap();
    promoted["cognito:groups"] = json!(["readers", "chatters"]);
    let users = Users {
        alice_sub: mint::claims_of(&alice).unwrap()["sub"].as_str().unwrap().to_owned(),
        tampered: mint::tamper(&bob, &promoted).unwrap(),
        alice,
        bob,
    };

    // `request` ends the [request] table, which differs per instance. Cookies and the query string are identity sources
    // too, after the header.
    let config = |request: &str| {
        format!(
            "context_claims = [\"sub\", \"username\", \"cognito:groups\"]\n\n\
             [[issuers]]\ncognito_user_pool_id = \"{pool}\"\nclient_ids = [\"{client}\"]\njwks_uri = \"{}\"\n\n\
             [request]\nidentity_sources = [\"header:Authorization\", \"cookie:access_token\", \"query:access_token\"]\n\
             {request}\n\
             [rules]\nunmatched = \"deny\"\n\
             [[rules.route]]\nmatch = [\"GET /items/{{id}}\"]\ngroups_any = [\"readers\"]\n\
             [[rules.route]]\nmatch = [\"$connect\"]\ngroups_any = [\"chatters\"]\n",
            cognito::jwks_url(moto.url(), &pool)
        )
    };

    eprintln!("starting cargo lambda watch (the first run builds the function, which can take minutes)");
    let mut iam = Suite::start(&config(""), false).await;
    for shape in SHAPES {
        every_shape(&mut iam, &users, shape).await;
    }
    identity_sources(&mut iam, &users).await;
    unknown_shapes(&mut iam, &users).await;
    for shape in [Shape::Rest, Shape::HttpV2] {
        let preflight = with_method(request_event(shape, None), "OPTIONS");
        let scenario = format!("{}: OPTIONS needs a token unless preflight is allowed", name(shape));
        iam.expect(&scenario, shape, &preflight, NO_TOKEN).await;
    }
    let mut failures = iam.finish();

    let mut simple = Suite::start(&config("simple_responses = true\nallow_cors_preflight = true"), true).await;
    let warned = simple.watch.output().contains("config_warning");
    simple.check("simple: route rules with simple responses are warned about", warned, String::new);
    every_shape(&mut simple, &users, Shape::HttpV2).await;
    let v1 = simple.event(Shape::HttpV1, &users.alice);
    simple.expect("simple: HTTP 1.0 still gets a policy", Shape::HttpV1, &v1, ALLOWED).await;
    preflight(&mut simple).await;
    failures.extend(simple.finish());

    assert!(failures.is_empty(), "{} failed expectation(s):\n{}", failures.len(), failures.join("\n"));
}

/// Allow, deny by rule, and 401 without a token or with a tampered one, with the token where the sample has it.
async fn every_shape(suite: &mut Suite, users: &Users, shape: Shape) {
    let name = name(shape);
    let event = suite.event(shape, &users.alice);
    let outcome = suite.expect(&format!("{name}: allow"), shape, &event, ALLOWED).await;
    let context = outcome.context().cloned().unwrap_or_default();
    let groups = context.get("cognito:groups").and_then(Value::as_str).unwrap_or_default();
    suite.check(&format!("{name}: context"), context.get("sub") == Some(&json!(users.alice_sub)), || {
        format!("context {context:?}")
    });
    suite.check(&format!("{name}: context groups"), groups.contains("readers"), || format!("context {context:?}"));
    if let Outcome::Allow(answer) = &outcome {
        suite.check(&format!("{name}: principal"), answer.principal_id == users.alice_sub, || {
            format!("principalId {:?}", answer.principal_id)
        });
    }

    let event = suite.event(shape, &users.bob);
    suite.expect(&format!("{name}: deny, a group bob lacks"), shape, &event, MISSING_GROUP).await;
    let event = request_event(shape, None);
    suite.expect(&format!("{name}: no token"), shape, &event, NO_TOKEN).await;
    let event = suite.event(shape, &users.tampered);
    suite.expect(&format!("{name}: groups rewritten without re-signing"), shape, &event, BAD_SIGNATURE).await;
}

/// Cookies, header name case, and repeated query keys.
async fn identity_sources(suite: &mut Suite, users: &Users) {
    let (alice, bob) = (users.alice.as_str(), users.bob.as_str());
    suite.tokens_sent.extend([alice.to_owned(), bob.to_owned()]);
    let cookie = format!("access_token={alice}");

    let mut v2 = request_event(Shape::HttpV2, None);
    v2["cookies"].as_array_mut().unwrap().push(json!(cookie));
    let header = format!("{}; {cookie}", v2["headers"]["cookie"].as_str().unwrap());
    v2["headers"]["cookie"] = json!(header);
    suite.expect("HTTP 2.0: token in the cookies array", Shape::HttpV2, &v2, ALLOWED).await;

    let mut rest = request_event(Shape::Rest, None);
    rest["headers"]["Cookie"] = json!(format!("theme=dark; {cookie}"));
    rest["multiValueHeaders"]["Cookie"] = json!([format!("theme=dark; {cookie}")]);
    suite.expect("REST: token in the Cookie header", Shape::Rest, &rest, ALLOWED).await;

    let mut upper = request_event(Shape::Rest, None);
    upper["headers"]["AUTHORIZATION"] = json!(format!("Bearer {alice}"));
    upper["multiValueHeaders"]["AUTHORIZATION"] = json!([format!("Bearer {alice}")]);
    suite.expect("REST: header AUTHORIZATION matches Authorization", Shape::Rest, &upper, ALLOWED).await;

    let query = |values: &[&str]| {
        let mut v2 = request_event(Shape::HttpV2, None);
        let raw: Vec<String> = values.iter().map(|token| format!("access_token={token}")).collect();
        v2["rawQueryString"] = json!(raw.join("&"));
        // API Gateway joins repeated keys with commas here; the authorizer must read rawQueryString instead.
        v2["queryStringParameters"] = json!({"access_token": values.join(",")});
        v2
    };
    suite.expect("HTTP 2.0: token in the query string", Shape::HttpV2, &query(&[alice]), ALLOWED).await;
    suite.expect("HTTP 2.0: the same token twice", Shape::HttpV2, &query(&[alice, alice]), ALLOWED).await;
    suite.expect("HTTP 2.0: two tokens in one query key", Shape::HttpV2, &query(&[alice, bob]), AMBIGUOUS).await;

    let mut ws = request_event(Shape::WebSocket, Some(bob));
    ws["multiValueQueryStringParameters"]["token"] = json!([alice, bob]);
    suite.expect("WebSocket: ?token=a&token=b", Shape::WebSocket, &ws, AMBIGUOUS).await;
}

/// Events of no REQUEST shape are errors (500) with a decision line, never a decision on a token.
async fn unknown_shapes(suite: &mut Suite, users: &Users) {
    let mut no_method = request_event(Shape::Rest, None);
    no_method.as_object_mut().unwrap().remove("httpMethod");
    let mut no_route_arn = request_event(Shape::HttpV2, None);
    no_route_arn.as_object_mut().unwrap().remove("routeArn");
    let mut future = request_event(Shape::HttpV2, None);
    future["version"] = json!("3.0");
    // A credential where an object belongs: just as bad an event, and one that must not echo the credential.
    let mut mistyped = suite.event(Shape::Rest, &users.alice);
    mistyped["headers"] = mistyped["headers"]["Authorization"].take();
    let arn = request_event(Shape::Rest, None)["methodArn"].clone();
    let cases = [
        ("a TOKEN event", Shape::Rest, token_event("Bearer x.y.z", arn.as_str().unwrap())),
        ("REST without httpMethod", Shape::Rest, no_method),
        ("HTTP 2.0 without routeArn", Shape::HttpV2, no_route_arn),
        ("payload version 3.0", Shape::HttpV2, future),
        ("headers of the wrong JSON type", Shape::Rest, mistyped),
    ];
    for (scenario, shape, event) in cases {
        let outcome = suite.expect(&format!("unknown shape: {scenario}"), shape, &event, BAD_EVENT).await;
        suite.check(scenario, outcome == Outcome::Error("AuthorizerError: bad_event".into()), || {
            format!("error message {outcome:?}")
        });
    }
}

/// OPTIONS passes without a token, for OPTIONS only; other methods still need one.
async fn preflight(suite: &mut Suite) {
    let rest = with_method(request_event(Shape::Rest, None), "OPTIONS");
    if let Outcome::Allow(answer) = suite.expect("REST: preflight", Shape::Rest, &rest, ALLOWED).await {
        suite.check("REST: preflight principal", answer.principal_id == "anonymous-preflight", || {
            format!("principalId {:?}", answer.principal_id)
        });
        suite.check("REST: preflight context", answer.context.is_empty(), || format!("context {:?}", answer.context));
        let get = request_event(Shape::Rest, None)["methodArn"].as_str().unwrap().to_owned();
        let options_elsewhere = format!("{}OPTIONS/admin/users", MethodArn::parse(&get).unwrap().stage_prefix);
        let evaluate = |arn: &str| answer.policy_document.evaluate(Action::Invoke, arn);
        suite.check("REST: preflight policy covers only OPTIONS", evaluate(&get) != Evaluation::Allow, || {
            format!("GET allowed by {:?}", answer.policy_lines())
        });
        suite.check(
            "REST: preflight policy covers every path",
            evaluate(&options_elsewhere) == Evaluation::Allow,
            || format!("OPTIONS /admin/users not allowed by {:?}", answer.policy_lines()),
        );
    }
    for shape in [Shape::HttpV1, Shape::HttpV2] {
        let event = with_method(request_event(shape, None), "OPTIONS");
        let outcome = suite.expect(&format!("{}: preflight", name(shape)), shape, &event, ALLOWED).await;
        let context = outcome.context().cloned().unwrap_or_default();
        suite.check(&format!("{}: preflight context", name(shape)), context.is_empty(), || format!("{context:?}"));
    }
    for shape in [Shape::Rest, Shape::HttpV2, Shape::WebSocket] {
        let event = request_event(shape, None);
        suite.expect(&format!("{}: only OPTIONS passes without a token", name(shape)), shape, &event, NO_TOKEN).await;
    }
}
