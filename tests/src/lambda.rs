//! Runs a function of this workspace under `cargo lambda watch` on a free 127.0.0.1 port, invokes it over HTTP, and
//! classifies each answer the way API Gateway would: 401, 403, 500 or allowed through. It captures the process
//! output so tests can inspect the function's logs, and builds the events API Gateway sends: TOKEN events, and
//! REQUEST events of every shape from the samples in `events/`.
//!
//! The function gets dummy AWS credentials and `AWS_EC2_METADATA_DISABLED=true`, so it can never reach the
//! instance-metadata address; nothing here may listen beyond 127.0.0.1.

use std::fmt;
use std::io::{BufRead as _, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use authorizer::policy::{Action, Effect, Evaluation, OneOrMany, PolicyDocument};
use authorizer::request::Shape;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::process::{ServerProcess, free_port};
use crate::{Error, Result, loopback_client};

/// The first invocation waits for a debug build of the function, which takes minutes on a small machine.
const FIRST_INVOKE_TIMEOUT: Duration = Duration::from_secs(600);
/// Later invocations include at most a JWKS fetch with its own time-out.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);
const LISTEN_TIMEOUT: Duration = Duration::from_secs(60);
/// What `cargo lambda watch` (1.9) logs when the function process ends.
const FUNCTION_EXITED: &str = "command exited";
/// How long a function that reported a failed start-up may take to exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a decision line may trail its answer: the function writes it first, but it reaches us through a pipe
/// and a reader thread.
const LOG_LAG: Duration = Duration::from_secs(5);

/// The API every method ARN built here belongs to.
pub const API_PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod";

/// Settings the function would otherwise inherit from the caller's shell and silently use: its configuration,
/// and AWS settings (real credentials, a profile, a log format) that have no place in a local run.
const NOT_INHERITED: [&str; 3] = ["AWS_", "AUTHZ_", "COGNITO_"];

/// The method ARN API Gateway sends for `method` on `path` (which starts with `/`).
pub fn method_arn(method: &str, path: &str) -> String {
    format!("{API_PREFIX}/{method}{path}")
}

/// The member of `event` holding the ARN to authorize: `routeArn` in HTTP API payload 2.0, `methodArn` elsewhere.
pub fn arn_member(event: &Value) -> &'static str {
    if event.get("routeArn").is_some() { "routeArn" } else { "methodArn" }
}

/// A REST API TOKEN authorizer event.
pub fn token_event(authorization_token: &str, method_arn: &str) -> Value {
    json!({"type": "TOKEN", "authorizationToken": authorization_token, "methodArn": method_arn})
}

/// The sample REQUEST event of `shape` from `events/`: `GET /items/42`, or `$connect` for WebSocket (on another API
/// than [`API_PREFIX`]). The samples' placeholder token is replaced by `token` wherever it appears (the
/// `Authorization` header, or the `token` query parameter for WebSocket, and `identitySource`); with `None`, every
/// field that held it is removed, so the event carries no credential at all.
pub fn request_event(shape: Shape, token: Option<&str>) -> Value {
    let mut event = serde_json::from_str(request_sample(shape)).expect("the samples in events/ are JSON");
    swap_placeholder(&mut event, token);
    event
}

fn request_sample(shape: Shape) -> &'static str {
    match shape {
        Shape::Rest => include_str!("../../events/request-rest.json"),
        Shape::HttpV1 => include_str!("../../events/request-http-v1.json"),
        Shape::HttpV2 => include_str!("../../events/request-http-v2.json"),
        Shape::WebSocket => include_str!("../../events/request-websocket-connect.json"),
    }
}

/// The expired placeholder token every sample carries, read from the REST sample's `Authorization` header.
fn placeholder() -> &'static str {
    static PLACEHOLDER: LazyLock<String> = LazyLock::new(|| {
        let rest: Value = serde_json::from_str(request_sample(Shape::Rest)).expect("the REST sample is JSON");
        let header = rest["headers"]["Authorization"].as_str().and_then(|value| value.strip_prefix("Bearer "));
        header.expect("the REST sample carries a bearer token").to_owned()
    });
    &PLACEHOLDER
}

fn swap_placeholder(value: &mut Value, token: Option<&str>) {
    let holds_it = |value: &Value| match value {
        Value::String(text) => text.contains(placeholder()),
        // A multi-value map's list, or 2.0's `identitySource`.
        Value::Array(items) => {
            !items.is_empty() && items.iter().all(|item| item.as_str().is_some_and(|s| s.contains(placeholder())))
        }
        _ => false,
    };
    match value {
        Value::String(text) => {
            if let Some(token) = token {
                *text = text.replace(placeholder(), token);
            }
        }
        Value::Object(members) => {
            if token.is_none() {
                members.retain(|_, member| !holds_it(member));
            }
            members.values_mut().for_each(|member| swap_placeholder(member, token));
        }
        Value::Array(items) => {
            if token.is_none() {
                items.retain(|item| !holds_it(item));
            }
            items.iter_mut().for_each(|item| swap_placeholder(item, token));
        }
        _ => {}
    }
}

/// What API Gateway does with an authorizer's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The policy allows the method: the request reaches the backend.
    Allow(Authorized),
    /// A valid answer whose policy does not allow the method (explicitly or not): 403.
    Deny(Authorized),
    /// An HTTP API simple response `{"isAuthorized": true}`: the request reaches the backend with this context.
    SimpleAllow(Map<String, Value>),
    /// A simple response `{"isAuthorized": false}`: 403.
    SimpleDeny,
    /// The function failed with exactly "Unauthorized": 401.
    Unauthorized,
    /// Any other failure, or an answer API Gateway cannot use: 500.
    Error(String),
}

impl Outcome {
    /// The status API Gateway answers with; 200 stands for "passed on to the backend".
    pub fn status(&self) -> u16 {
        match self {
            Outcome::Allow(_) | Outcome::SimpleAllow(_) => 200,
            Outcome::Deny(_) | Outcome::SimpleDeny => 403,
            Outcome::Unauthorized => 401,
            Outcome::Error(_) => 500,
        }
    }

    /// The context the backend receives, when the request reaches it.
    pub fn context(&self) -> Option<&Map<String, Value>> {
        match self {
            Outcome::Allow(answer) => Some(&answer.context),
            Outcome::SimpleAllow(context) => Some(context),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Allow(_) | Outcome::SimpleAllow(_) => f.write_str("Allow"),
            Outcome::Deny(_) | Outcome::SimpleDeny => f.write_str("Deny 403"),
            Outcome::Unauthorized => f.write_str("Unauthorized 401"),
            Outcome::Error(message) => write!(f, "Error 500 ({message})"),
        }
    }
}

/// A well-formed authorizer answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorized {
    pub principal_id: String,
    pub policy_document: PolicyDocument,
    /// Absent and `null` both read as empty.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub context: Map<String, Value>,
}

/// An HTTP API simple response (payload 2.0 with `enableSimpleResponses`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SimpleAnswer {
    is_authorized: bool,
    #[serde(default, deserialize_with = "null_as_empty")]
    context: Map<String, Value>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Map<String, Value>, D::Error> {
    Ok(Option::deserialize(deserializer)?.unwrap_or_default())
}

impl Authorized {
    /// One readable line per statement: effect, actions, resources, e.g.
    /// `Allow execute-api:Invoke arn:aws:execute-api:…/prod/GET/items arn:aws:execute-api:…/prod/GET/items/*`.
    pub fn policy_lines(&self) -> Vec<String> {
        let join = |field: &OneOrMany, separator: &str| match field {
            OneOrMany::One(one) => one.clone(),
            OneOrMany::Many(many) => many.join(separator),
        };
        self.policy_document
            .statements
            .iter()
            .map(|statement| {
                let effect = match statement.effect {
                    Effect::Allow => "Allow",
                    Effect::Deny => "Deny",
                };
                format!("{effect} {} {}", join(&statement.action, ","), join(&statement.resource, " "))
            })
            .collect()
    }
}

/// Classifies an invocation answer for the event's `methodArn` (or 2.0's `routeArn`). A function error arrives as
/// HTTP 500 under `cargo lambda watch` and as 200 with `X-Amz-Function-Error` on real Lambda; both carry
/// `{"errorType", "errorMessage"}`. An answer with `isAuthorized` is a simple response, any other a policy.
pub fn classify(function_error: bool, body: &[u8], method_arn: &str) -> Outcome {
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(_) => return Outcome::Error(format!("not JSON: {}", String::from_utf8_lossy(body))),
    };
    if function_error {
        return match value.get("errorMessage").and_then(Value::as_str) {
            Some("Unauthorized") => Outcome::Unauthorized,
            Some(message) => Outcome::Error(message.to_owned()),
            None => Outcome::Error(value.to_string()),
        };
    }
    if value.get("isAuthorized").is_some() {
        return match serde_json::from_value::<SimpleAnswer>(value) {
            Err(e) => Outcome::Error(format!("malformed simple response: {e}")),
            Ok(answer) => match non_scalar(&answer.context) {
                Some(problem) => Outcome::Error(problem),
                None if answer.is_authorized => Outcome::SimpleAllow(answer.context),
                None => Outcome::SimpleDeny,
            },
        };
    }
    let authorized: Authorized = match serde_json::from_value(value) {
        Ok(authorized) => authorized,
        Err(e) => return Outcome::Error(format!("malformed authorizer response: {e}")),
    };
    if let Some(problem) = non_scalar(&authorized.context) {
        return Outcome::Error(problem);
    }
    match authorized.policy_document.evaluate(Action::Invoke, method_arn) {
        Evaluation::Allow => Outcome::Allow(authorized),
        Evaluation::ExplicitDeny | Evaluation::ImplicitDeny => Outcome::Deny(authorized),
    }
}

/// API Gateway refuses the whole answer (AuthorizerConfigurationException) for non-scalar context values.
fn non_scalar(context: &Map<String, Value>) -> Option<String> {
    context
        .iter()
        .find(|(_, value)| !(value.is_string() || value.is_number() || value.is_boolean()))
        .map(|(key, _)| format!("context value {key:?} is not a string, number or boolean"))
}

/// Where an answer that returned (not an error) breaks the contract of these authorizers, which is stricter than
/// what [`classify`] lets through: no `null` anywhere; a policy answer has a non-empty string `principalId` and a
/// `policyDocument`; a simple response has a boolean `isAuthorized` and nothing but it and `context`; context
/// values are strings, numbers or booleans.
pub fn contract_violations(answer: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    find_nulls(answer, "", &mut problems);
    let Some(members) = answer.as_object() else {
        problems.push("the answer is not a JSON object".into());
        return problems;
    };
    if members.contains_key("isAuthorized") {
        if !members["isAuthorized"].is_boolean() {
            problems.push("isAuthorized is not a boolean".into());
        }
        let extra = members.keys().filter(|key| !matches!(key.as_str(), "isAuthorized" | "context"));
        problems.extend(extra.map(|key| format!("a simple response has no member {key:?}")));
    } else {
        if members.get("principalId").and_then(Value::as_str).is_none_or(str::is_empty) {
            problems.push("principalId is missing, empty or not a string".into());
        }
        if !members.get("policyDocument").is_some_and(Value::is_object) {
            problems.push("policyDocument is missing or not an object".into());
        }
    }
    match members.get("context") {
        None | Some(Value::Null) => {}
        Some(Value::Object(context)) => problems.extend(non_scalar(context)),
        Some(_) => problems.push("context is not an object".into()),
    }
    problems
}

/// Adds the JSON pointer of every `null` in `value` to `problems`.
fn find_nulls(value: &Value, pointer: &str, problems: &mut Vec<String>) {
    match value {
        Value::Null => problems.push(format!("null at {:?}", if pointer.is_empty() { "/" } else { pointer })),
        Value::Array(items) => {
            items.iter().enumerate().for_each(|(i, item)| find_nulls(item, &format!("{pointer}/{i}"), problems));
        }
        Value::Object(members) => {
            let escape = |key: &str| key.replace('~', "~0").replace('/', "~1");
            members
                .iter()
                .for_each(|(key, member)| find_nulls(member, &format!("{pointer}/{}", escape(key)), problems));
        }
        _ => {}
    }
}

/// How an invocation ended.
enum Answer {
    /// The function answered; `function_error` marks a failure report.
    Returned { function_error: bool, body: Vec<u8> },
    /// The function posted this `init/error` (a failed start-up) instead of taking the event.
    InitFailed(String),
    /// The function process ended instead, e.g. on a configuration error at cold start.
    Exited(String),
}

/// A function served by `cargo lambda watch`; stops the whole process group on drop.
#[derive(Debug)]
pub struct LambdaWatch {
    function: String,
    invoke_url: String,
    http: reqwest::Client,
    output: Arc<Mutex<String>>,
    /// Held for its `Drop`, which stops watch, cargo and the function.
    _process: ServerProcess,
}

impl LambdaWatch {
    /// Starts `cargo lambda watch` in the workspace with `env` for the function, and returns once `function` has
    /// answered a first invocation, which includes building it.
    pub async fn start(function: &str, env: &[(&str, &str)]) -> Result<Self> {
        let port = free_port()?;
        let mut command = Command::new("cargo");
        command
            .args(["lambda", "watch", "--ignore-changes", "-A", "127.0.0.1", "-P", &port.to_string()])
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, _) in std::env::vars_os() {
            if name.to_str().is_some_and(|name| NOT_INHERITED.iter().any(|prefix| name.starts_with(prefix))) {
                command.env_remove(name);
            }
        }
        command
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", crate::cognito::REGION)
            // Through the environment rather than --env-var, which splits values at commas.
            .envs(env.iter().copied());
        let mut process = ServerProcess::spawn("cargo lambda watch", command)?;

        let output = Arc::new(Mutex::new(String::new()));
        if let Some(stdout) = process.take_stdout() {
            capture(stdout, Arc::clone(&output))?;
        }
        if let Some(stderr) = process.take_stderr() {
            capture(stderr, Arc::clone(&output))?;
        }

        process.wait_until_listening(port, LISTEN_TIMEOUT).await?;
        let watch = Self {
            function: function.to_owned(),
            invoke_url: format!("http://127.0.0.1:{port}/2015-03-31/functions/{function}/invocations"),
            http: loopback_client()?,
            output,
            _process: process,
        };
        // Any answer will do, even an error for the empty event: it proves the build is done and the function runs.
        match watch.post(&json!({}), FIRST_INVOKE_TIMEOUT).await? {
            Answer::Returned { .. } => Ok(watch),
            Answer::InitFailed(error) => {
                let failure = match tokio::time::timeout(EXIT_TIMEOUT, watch.function_exit()).await {
                    Ok(line) => format!(
                        "{function} exited at its first invocation, after reporting an init error: {error}: {line}"
                    ),
                    Err(_) => {
                        format!("{function} reported an init error at its first invocation but did not exit: {error}")
                    }
                };
                Err(watch.with_output_tail(Error::Failed(failure)))
            }
            Answer::Exited(line) => {
                Err(watch.with_output_tail(Error::Failed(format!("{function} exited at its first invocation: {line}"))))
            }
        }
    }

    /// Invokes the function with `event` and classifies the answer for the event's `methodArn` or `routeArn`.
    pub async fn invoke(&self, event: &Value) -> Result<Outcome> {
        Ok(self.invoke_with_answer(event).await?.0)
    }

    /// Like [`Self::invoke`], and also hands back the JSON the function answered with, unless it failed, to check it
    /// against [`contract_violations`].
    pub async fn invoke_with_answer(&self, event: &Value) -> Result<(Outcome, Option<Value>)> {
        let arn = event[arn_member(event)].as_str().unwrap_or_default();
        Ok(match self.post(event, INVOKE_TIMEOUT).await? {
            Answer::Returned { function_error, body } => {
                let answer = if function_error { None } else { serde_json::from_slice(&body).ok() };
                (classify(function_error, &body, arn), answer)
            }
            // Like a failed Lambda init: API Gateway answers 500.
            Answer::InitFailed(error) => (Outcome::Error(format!("init error: {error}")), None),
            Answer::Exited(line) => (Outcome::Error(format!("the function exited: {line}")), None),
        })
    }

    /// Invokes a function that is not an authorizer: `Ok` with its answer, or `Err` with its error report
    /// (`{"errorType", "errorMessage"}`).
    pub async fn call(&self, event: &Value) -> Result<std::result::Result<Value, Value>> {
        match self.post(event, INVOKE_TIMEOUT).await? {
            Answer::Returned { function_error, body } => {
                let answer: Value = serde_json::from_slice(&body)
                    .map_err(|_| Error::Failed(format!("{} answered with something other than JSON", self.function)))?;
                Ok(if function_error { Err(answer) } else { Ok(answer) })
            }
            Answer::InitFailed(error) => Err(Error::Failed(format!("{} failed to start: {error}", self.function))),
            Answer::Exited(line) => Err(Error::Failed(format!("{} exited: {line}", self.function))),
        }
    }

    /// Sends a TOKEN event carrying `Bearer <token>` for `method` on `path`.
    pub async fn authorize(&self, token: &str, method: &str, path: &str) -> Result<Outcome> {
        self.invoke(&token_event(&format!("Bearer {token}"), &method_arn(method, path))).await
    }

    /// Everything watch, cargo and the function printed so far, stdout and stderr interleaved by line.
    pub fn output(&self) -> String {
        self.output.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The fields of every decision line the function logged so far (JSON lines with `"event": "decision"`), once
    /// there are at least `count` of them or [`LOG_LAG`] has passed.
    pub async fn decisions(&self, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + LOG_LAG;
        loop {
            let decisions: Vec<Value> = self.output().lines().filter_map(decision_fields).collect();
            if decisions.len() >= count || Instant::now() >= deadline {
                return decisions;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn post(&self, event: &Value, timeout: Duration) -> Result<Answer> {
        let what = || format!("invoking {} under cargo lambda watch", self.function);
        let request = async {
            let response = self
                .http
                .post(&self.invoke_url)
                .json(event)
                .timeout(timeout)
                .send()
                .await
                .map_err(|source| self.with_output_tail(Error::http(what(), source)))?;
            let function_error =
                response.status().is_server_error() || response.headers().contains_key("x-amz-function-error");
            let body = response.bytes().await.map_err(|source| self.with_output_tail(Error::http(what(), source)))?;
            if !function_error && is_init_error(&body) {
                return Ok(Answer::InitFailed(String::from_utf8_lossy(&body).into_owned()));
            }
            Ok(Answer::Returned { function_error, body: body.to_vec() })
        };
        tokio::select! {
            answer = request => answer,
            line = self.function_exit() => Ok(Answer::Exited(line)),
        }
    }

    /// Resolves once the function process has ended. Watch does not restart it (with `--ignore-changes`), so an
    /// invocation would otherwise hang until its time-out.
    async fn function_exit(&self) -> String {
        loop {
            let exit = {
                let output = self.output.lock().unwrap_or_else(PoisonError::into_inner);
                output.lines().find(|line| line.contains(FUNCTION_EXITED)).map(|line| line.trim().to_owned())
            };
            if let Some(line) = exit {
                return line;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A failed invocation is usually explained by the build or the function's last words.
    fn with_output_tail(&self, error: Error) -> Error {
        let output = self.output();
        let lines: Vec<&str> = output.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        Error::Failed(format!("{error}\n--- last lines of cargo lambda watch ---\n{tail}"))
    }
}

/// Watch (1.9) answers the invocation pending during a failed start-up with 200 and the function's `init/error`
/// body, `{"errorType", "errorMessage"}`, which no authorizer answer looks like; real Lambda answers a function
/// error.
fn is_init_error(body: &[u8]) -> bool {
    let value: Option<Map<String, Value>> = serde_json::from_slice(body).ok();
    value.is_some_and(|members| {
        members.len() == 2
            && members.get("errorType").is_some_and(Value::is_string)
            && members.contains_key("errorMessage")
    })
}

/// The fields of a JSON log line (tracing's layout: `{"level", "fields": {...}}`) if it is a decision line.
fn decision_fields(line: &str) -> Option<Value> {
    let mut line: Value = serde_json::from_str(line.trim()).ok()?;
    let fields = line.get_mut("fields")?.take();
    (fields["event"] == "decision").then_some(fields)
}

/// The workspace holding the functions: this package's parent directory.
fn workspace_root() -> &'static Path {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir)
}

/// Appends `stream` to `output` line by line on a background thread, until the process closes it.
fn capture(stream: impl Read + Send + 'static, output: Arc<Mutex<String>>) -> Result<()> {
    std::thread::Builder::new()
        .name("watch-output".into())
        .spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut line = Vec::new();
            while matches!(reader.read_until(b'\n', &mut line), Ok(read) if read > 0) {
                output.lock().unwrap_or_else(PoisonError::into_inner).push_str(&String::from_utf8_lossy(&line));
                line.clear();
            }
        })
        .map(drop)
        .map_err(|source| Error::io("starting an output reader thread", source))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow_items() -> Value {
        json!({
            "principalId": "alice",
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": [format!("{API_PREFIX}/GET/items")]}
            ]},
            "context": {"sub": "alice", "n": 1, "ok": true}
        })
    }

    fn classify_json(function_error: bool, body: &Value, method: &str, path: &str) -> Outcome {
        classify(function_error, body.to_string().as_bytes(), &method_arn(method, path))
    }

    #[test]
    fn errors_map_to_401_or_500() {
        let unauthorized = json!({"errorType": "Unauthorized", "errorMessage": "Unauthorized"});
        assert_eq!(classify_json(true, &unauthorized, "GET", "/items"), Outcome::Unauthorized);
        let other = json!({"errorType": "JwksUnavailable", "errorMessage": "unauthorized: kid unknown"});
        assert_eq!(classify_json(true, &other, "GET", "/items").status(), 500);
        assert_eq!(classify(true, b"gateway timeout", "arn").status(), 500);
    }

    #[test]
    fn policy_decides_between_allow_and_deny() {
        let answer = allow_items();
        let Outcome::Allow(authorized) = classify_json(false, &answer, "GET", "/items") else { panic!() };
        assert_eq!(authorized.principal_id, "alice");
        assert_eq!(authorized.policy_lines(), [format!("Allow execute-api:Invoke {API_PREFIX}/GET/items")]);
        assert_eq!(classify_json(false, &answer, "DELETE", "/items").status(), 403);
    }

    #[test]
    fn unusable_answers_are_500() {
        let mut nested = allow_items();
        nested["context"]["groups"] = json!(["admins"]);
        assert_eq!(classify_json(false, &nested, "GET", "/items").status(), 500);
        let mut missing = allow_items();
        missing.as_object_mut().unwrap().remove("principalId");
        assert_eq!(classify_json(false, &missing, "GET", "/items").status(), 500);
    }

    #[test]
    fn null_context_is_empty() {
        let mut answer = allow_items();
        answer["context"] = Value::Null;
        let Outcome::Allow(authorized) = classify_json(false, &answer, "GET", "/items") else { panic!() };
        assert!(authorized.context.is_empty());
    }

    #[test]
    fn simple_responses_allow_or_deny_whatever_the_route() {
        let allow = json!({"isAuthorized": true, "context": {"sub": "alice"}});
        let Outcome::SimpleAllow(context) = classify_json(false, &allow, "DELETE", "/anything") else { panic!() };
        assert_eq!(context.get("sub"), Some(&json!("alice")));
        assert_eq!(classify_json(false, &json!({"isAuthorized": false}), "GET", "/items"), Outcome::SimpleDeny);
        for unusable in [json!({"isAuthorized": "true"}), json!({"isAuthorized": true, "context": {"groups": ["a"]}})] {
            assert_eq!(classify_json(false, &unusable, "GET", "/items").status(), 500, "{unusable}");
        }
    }

    #[test]
    fn contract_violations_are_named() {
        assert_eq!(contract_violations(&allow_items()), Vec::<String>::new());
        assert_eq!(contract_violations(&json!({"isAuthorized": false})), Vec::<String>::new());
        let mut broken = allow_items();
        broken["principalId"] = json!("");
        broken["policyDocument"]["Statement"][0]["Condition"] = Value::Null;
        broken["context"]["a/b"] = json!({"nested": true});
        let problems = contract_violations(&broken);
        assert!(problems.iter().any(|p| p.contains("principalId")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("/policyDocument/Statement/0/Condition")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("\"a/b\"")), "{problems:?}");
        let simple = contract_violations(&json!({"isAuthorized": 1, "principalId": "x", "context": null}));
        assert_eq!(simple.len(), 3, "{simple:?}");
    }

    #[test]
    fn request_events_carry_the_given_token_or_none() {
        for shape in [Shape::Rest, Shape::HttpV1, Shape::HttpV2, Shape::WebSocket] {
            let sample: Value = serde_json::from_str(request_sample(shape)).unwrap();
            assert!(sample.to_string().contains(placeholder()), "{shape:?}: the sample carries the placeholder");
            let with = request_event(shape, Some("new.token.here")).to_string();
            assert!(with.contains("new.token.here") && !with.contains(placeholder()), "{shape:?}: {with}");
            let without = request_event(shape, None);
            assert!(!without.to_string().contains(placeholder()), "{shape:?}: {without}");
            let arn = arn_member(&sample);
            assert!(
                sample[arn].is_string() && without[arn] == sample[arn],
                "{shape:?}: everything else is the sample's"
            );
        }
        let rest = request_event(Shape::Rest, None);
        assert!(
            rest["headers"].get("Authorization").is_none() && rest["multiValueHeaders"].get("Authorization").is_none()
        );
        assert_eq!(request_event(Shape::Rest, Some("t"))["multiValueHeaders"]["Authorization"], json!(["Bearer t"]));
        assert_eq!(request_event(Shape::WebSocket, Some("t"))["queryStringParameters"]["token"], "t");
    }
}
