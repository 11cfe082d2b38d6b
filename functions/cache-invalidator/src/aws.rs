//! The invalidator's calls to AWS through the SDK: `AdminGetUser`, the revocation table's writes, and the two
//! cache flushes. Credentials and region come from the function's environment (see `authorizer::aws_env`), so
//! the SDK's credential chain, and with it the instance-metadata address, is never used. Error reasons name
//! the failing call and AWS's error code, never a credential.

use authorizer::ConfigError;
use authorizer::aws_env;
use authorizer::invalidation::{ApiKind, ControlPlane, InvalidatorSettings, Stage};
use authorizer::revocation::RevocationEntry;
use aws_sdk_dynamodb::config::BehaviorVersion;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_types::SdkConfig;
use aws_types::region::Region;
use aws_types::sdk_config::{RetryConfig, SharedCredentialsProvider, TimeoutConfig};
use std::error::Error;
use std::time::Duration;

pub struct Aws {
    cognito: aws_sdk_cognitoidentityprovider::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    rest: aws_sdk_apigateway::Client,
    http: aws_sdk_apigatewayv2::Client,
    user_pool_id: String,
    table: String,
}

impl Aws {
    pub fn from_env(settings: &InvalidatorSettings) -> Result<Self, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok();
        let region = aws_env::region(lookup).ok_or_else(|| ConfigError::new("AWS_REGION", "the region is required"))?;
        let credentials = aws_env::credentials(lookup)
            .ok_or_else(|| ConfigError::new("AWS_ACCESS_KEY_ID", "the function's AWS credentials are required"))?;
        let base = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .retry_config(RetryConfig::standard())
            .timeout_config(TimeoutConfig::builder().operation_timeout(Duration::from_secs(10)).build())
            .build();
        // The SDKs' own endpoint overrides (`AWS_ENDPOINT_URL_{SERVICE}`), so tests can use emulators.
        let config = |service: &str| {
            let mut builder = base.to_builder();
            builder.set_endpoint_url(aws_env::endpoint_override(lookup, service));
            builder.build()
        };
        Ok(Aws {
            cognito: aws_sdk_cognitoidentityprovider::Client::new(&config("COGNITO_IDENTITY_PROVIDER")),
            dynamodb: aws_sdk_dynamodb::Client::new(&config("DYNAMODB")),
            rest: aws_sdk_apigateway::Client::new(&config("API_GATEWAY")),
            http: aws_sdk_apigatewayv2::Client::new(&config("APIGATEWAYV2")),
            user_pool_id: settings.user_pool_id.clone(),
            table: settings.table.clone(),
        })
    }
}

impl ControlPlane for Aws {
    async fn user_sub(&self, username: &str) -> Result<Option<String>, String> {
        let result = self.cognito.admin_get_user().user_pool_id(&self.user_pool_id).username(username).send().await;
        match result {
            Ok(user) => {
                let sub = user.user_attributes().iter().find(|a| a.name() == "sub").and_then(|a| a.value());
                sub.map(|sub| Some(sub.to_owned())).ok_or_else(|| "AdminGetUser: the user has no sub".to_owned())
            }
            Err(e) if e.as_service_error().is_some_and(|e| e.is_user_not_found_exception()) => Ok(None),
            Err(e) => Err(reason("AdminGetUser", e)),
        }
    }

    async fn write(&self, entry: &RevocationEntry) -> Result<(), String> {
        let number = |n: i64| AttributeValue::N(n.to_string());
        let Some(not_before) = entry.not_before else {
            // Family and token entries are the same item every time: writing one again changes nothing.
            let put = self.dynamodb.put_item().table_name(&self.table).item("pk", AttributeValue::S(entry.pk.clone()));
            return put
                .item("expires_at", number(entry.expires_at))
                .send()
                .await
                .map(drop)
                .map_err(|e| reason("PutItem", e));
        };
        // A cut-off only ever moves forward: an older event arriving late must not shorten it.
        let result = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(entry.pk.clone()))
            .update_expression("SET not_before = :not_before, expires_at = :expires_at")
            .condition_expression("attribute_not_exists(not_before) OR not_before < :not_before")
            .expression_attribute_values(":not_before", number(not_before))
            .expression_attribute_values(":expires_at", number(entry.expires_at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(reason("UpdateItem", e)),
        }
    }

    async fn flush(&self, stage: &Stage) -> Result<(), String> {
        match stage.kind {
            ApiKind::Rest => {
                let call = self.rest.flush_stage_authorizers_cache().rest_api_id(&stage.api_id).stage_name(&stage.name);
                call.send().await.map(drop).map_err(|e| reason("FlushStageAuthorizersCache", e))
            }
            ApiKind::Http => {
                let call = self.http.reset_authorizers_cache().api_id(&stage.api_id).stage_name(&stage.name);
                call.send().await.map(drop).map_err(|e| reason("ResetAuthorizersCache", e))
            }
        }
    }
}

/// The call and the SDK's error chain (AWS's error code and message, or the transport failure).
fn reason(call: &str, error: impl Error) -> String {
    format!("{call}: {}", DisplayErrorContext(error))
}
