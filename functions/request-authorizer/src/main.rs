//! REQUEST authorizer for REST APIs, HTTP APIs (payload 1.0 and 2.0) and WebSocket `$connect`: parses the
//! event, lets the shared crate decide, shapes the answer.

use authorizer::{Authorizer, RequestResponse};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::value::RawValue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    authorizer::log::init();
    // A bad configuration stops the cold start, naming the setting; Lambda then answers 500, never Allow.
    let authorizer = Authorizer::from_env().inspect_err(|e| tracing::error!(event = "config_error", error = %e))?;
    let authorizer: &'static Authorizer = Box::leak(Box::new(authorizer));
    // Sequential unless AWS_LAMBDA_MAX_CONCURRENCY > 1 (Lambda Managed Instances): the caches are shared safely.
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<Box<RawValue>>| handle(authorizer, event))).await
}

/// The event arrives as raw JSON and the shared crate reads it: the runtime's own deserializer would log
/// serde's message for a malformed event, which can quote a credential.
async fn handle(authorizer: &Authorizer, event: LambdaEvent<Box<RawValue>>) -> Result<RequestResponse, Diagnostic> {
    // API Gateway answers 401 for an error whose message is exactly `Unauthorized`, 500 for any other.
    authorizer
        .request_event(event.payload.get())
        .await
        .map_err(|e| Diagnostic { error_type: e.error_type().into(), error_message: e.message() })
}
