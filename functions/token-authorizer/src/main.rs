//! REST API TOKEN authorizer: hands each event from the Lambda Runtime API to the shared crate, which decides
//! and shapes the answer.

use authorizer::Authorizer;
use authorizer::runtime::{self, Failure, Invocation};
use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    authorizer::log::init();
    // A bad configuration stops the cold start, naming the setting; Lambda then answers 500, never Allow.
    let (runtime, authorizer) = match runtime::start(Authorizer::from_env).await {
        Ok(started) => started,
        Err(code) => return code,
    };
    // Sequential unless AWS_LAMBDA_MAX_CONCURRENCY > 1 (Lambda Managed Instances): the caches are shared safely.
    // The shared crate reads the raw JSON, so no deserializer's message can quote a credential.
    runtime
        .serve(move |invocation: Invocation| async move {
            authorizer.token_event_json(&invocation.event).await.map_err(Failure::from)
        })
        .await
}
