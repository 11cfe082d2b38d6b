//! Runs a function of this workspace under `cargo lambda watch` on a free 127.0.0.1 port, invokes it over HTTP, and
//! classifies each answer the way API Gateway would: 401, 403, 500 or allowed through. It captures the process
//! output so tests can inspect the function's logs.
//!
//! The function gets dummy AWS credentials and `AWS_EC2_METADATA_DISABLED=true`, so it can never reach the
//! instance-metadata address; nothing here may listen beyond 127.0.0.1.

use std::fmt;
use std::io::{BufRead as _, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use authorizer::policy::{Action, Effect, Evaluation, OneOrMany, PolicyDocument};
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

/// The API every method ARN built here belongs to.
pub const API_PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod";

/// Settings the function would otherwise inherit from the caller's shell and silently use: its configuration,
/// and AWS settings (real credentials, a profile, a log format) that have no place in a local run.
const NOT_INHERITED: [&str; 3] = ["AWS_", "AUTHZ_", "COGNITO_"];

/// The method ARN API Gateway sends for `method` on `path` (which starts with `/`).
pub fn method_arn(method: &str, path: &str) -> String {
    format!("{API_PREFIX}/{method}{path}")
}

/// A REST API TOKEN authorizer event.
pub fn token_event(authorization_token: &str, method_arn: &str) -> Value {
    json!({"type": "TOKEN", "authorizationToken": authorization_token, "methodArn": method_arn})
}

/// What API Gateway does with an authorizer's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The policy allows the method: the request reaches the backend.
    Allow(Authorized),
    /// A valid answer whose policy does not allow the method (explicitly or not): 403.
    Deny(Authorized),
    /// The function failed with exactly "Unauthorized": 401.
    Unauthorized,
    /// Any other failure, or an answer API Gateway cannot use: 500.
    Error(String),
}

impl Outcome {
    /// The status API Gateway answers with; 200 stands for "passed on to the backend".
    pub fn status(&self) -> u16 {
        match self {
            Outcome::Allow(_) => 200,
            Outcome::Deny(_) => 403,
            Outcome::Unauthorized => 401,
            Outcome::Error(_) => 500,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Allow(_) => f.write_str("Allow"),
            Outcome::Deny(_) => f.write_str("Deny 403"),
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

/// Classifies an invocation answer. A function error arrives as HTTP 500 under `cargo lambda watch` and as 200
/// with `X-Amz-Function-Error` on real Lambda; both carry `{"errorType", "errorMessage"}`.
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
    let authorized: Authorized = match serde_json::from_value(value) {
        Ok(authorized) => authorized,
        Err(e) => return Outcome::Error(format!("malformed authorizer response: {e}")),
    };
    // API Gateway refuses the whole answer (AuthorizerConfigurationException) for non-scalar context values.
    if let Some((key, _)) =
        authorized.context.iter().find(|(_, value)| !(value.is_string() || value.is_number() || value.is_boolean()))
    {
        return Outcome::Error(format!("context value {key:?} is not a string, number or boolean"));
    }
    match authorized.policy_document.evaluate(Action::Invoke, method_arn) {
        Evaluation::Allow => Outcome::Allow(authorized),
        Evaluation::ExplicitDeny | Evaluation::ImplicitDeny => Outcome::Deny(authorized),
    }
}

/// How an invocation ended.
enum Answer {
    /// The function answered; `function_error` marks a failure report.
    Returned { function_error: bool, body: Vec<u8> },
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
            Answer::Exited(line) => {
                Err(watch.with_output_tail(Error::Failed(format!("{function} exited at its first invocation: {line}"))))
            }
        }
    }

    /// Invokes the function with `event` and classifies the answer for the event's `methodArn`.
    pub async fn invoke(&self, event: &Value) -> Result<Outcome> {
        let method_arn = event.get("methodArn").and_then(Value::as_str).unwrap_or_default();
        Ok(match self.post(event, INVOKE_TIMEOUT).await? {
            Answer::Returned { function_error, body } => classify(function_error, &body, method_arn),
            // Like a failed Lambda init: API Gateway answers 500.
            Answer::Exited(line) => Outcome::Error(format!("the function exited: {line}")),
        })
    }

    /// Sends a TOKEN event carrying `Bearer <token>` for `method` on `path`.
    pub async fn authorize(&self, token: &str, method: &str, path: &str) -> Result<Outcome> {
        self.invoke(&token_event(&format!("Bearer {token}"), &method_arn(method, path))).await
    }

    /// Everything watch, cargo and the function printed so far, stdout and stderr interleaved by line.
    pub fn output(&self) -> String {
        self.output.lock().unwrap_or_else(PoisonError::into_inner).clone()
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
}
