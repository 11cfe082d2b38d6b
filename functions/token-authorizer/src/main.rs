//! REST API TOKEN authorizer: parses the event, lets the shared crate decide, shapes the answer.

use authorizer::{Authorizer, AuthorizerResponse, TokenEvent};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    authorizer::log::init();
    // A bad configuration stops the cold start, naming the setting; Lambda then answers 500, never Allow.
    let authorizer = Authorizer::from_env().inspect_err(|e| tracing::error!(event = "config_error", error = %e))?;
    let authorizer: &'static Authorizer = Box::leak(Box::new(authorizer));
    // Sequential unless AWS_LAMBDA_MAX_CONCURRENCY > 1 (Lambda Managed Instances): the caches are shared safely.
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<TokenEvent>| handle(authorizer, event))).await
}

async fn handle(authorizer: &Authorizer, event: LambdaEvent<TokenEvent>) -> Result<AuthorizerResponse, Diagnostic> {
    // API Gateway answers 401 for an error whose message is exactly `Unauthorized`, 500 for any other.
    authorizer
        .token_event(&event.payload)
        .await
        .map_err(|e| Diagnostic { error_type: e.error_type().into(), error_message: e.message() })
}
