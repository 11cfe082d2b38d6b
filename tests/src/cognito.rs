//! Sets up Cognito user pools, app clients, groups and users in moto through the AWS SDK, and signs users in for
//! real ID and access tokens. The client is built by hand with static dummy credentials and a fixed region: it
//! never consults the default credential chain, so it can never reach AWS or the instance-metadata address.

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ExplicitAuthFlowsType, MessageActionType};

use crate::{Error, Result, failed};

/// The region of every pool; it is part of the issuer URL moto writes into tokens.
pub const REGION: &str = "us-east-1";

/// The `iss` claim of the pool's tokens (moto writes the real AWS URL).
pub fn issuer(pool_id: &str) -> String {
    format!("https://cognito-idp.{REGION}.amazonaws.com/{pool_id}")
}

/// Where moto serves the pool's JWKS: unlike on AWS, not under the issuer URL.
pub fn jwks_url(moto_url: &str, pool_id: &str) -> String {
    format!("{moto_url}/{pool_id}/.well-known/jwks.json")
}

/// The tokens `AdminInitiateAuth` returns.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub id_token: String,
    pub access_token: String,
}

/// A Cognito Identity Provider client bound to a moto endpoint.
#[derive(Debug, Clone)]
pub struct Cognito {
    client: Client,
}

impl Cognito {
    pub fn new(endpoint: &str) -> Self {
        let config = aws_sdk_cognitoidentityprovider::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "harness"))
            .build();
        Self { client: Client::from_conf(config) }
    }

    /// Creates a user pool and returns its id.
    pub async fn create_user_pool(&self, name: &str) -> Result<String> {
        let output =
            self.client.create_user_pool().pool_name(name).send().await.map_err(|e| failed("CreateUserPool", e))?;
        output
            .user_pool
            .and_then(|pool| pool.id)
            .ok_or_else(|| Error::Failed("CreateUserPool returned no pool id".into()))
    }

    /// Creates a public app client (no secret) that allows password sign-in and returns its client id.
    pub async fn create_app_client(&self, pool_id: &str, name: &str) -> Result<String> {
        let output = self
            .client
            .create_user_pool_client()
            .user_pool_id(pool_id)
            .client_name(name)
            .generate_secret(false)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .send()
            .await
            .map_err(|e| failed("CreateUserPoolClient", e))?;
        output
            .user_pool_client
            .and_then(|client| client.client_id)
            .ok_or_else(|| Error::Failed("CreateUserPoolClient returned no client id".into()))
    }

    pub async fn create_group(&self, pool_id: &str, group: &str) -> Result<()> {
        self.client
            .create_group()
            .user_pool_id(pool_id)
            .group_name(group)
            .send()
            .await
            .map_err(|e| failed("CreateGroup", e))?;
        Ok(())
    }

    /// Creates a confirmed user with a permanent password (so sign-in needs no challenge) in the given groups.
    pub async fn create_user(&self, pool_id: &str, username: &str, password: &str, groups: &[&str]) -> Result<()> {
        self.client
            .admin_create_user()
            .user_pool_id(pool_id)
            .username(username)
            .message_action(MessageActionType::Suppress)
            .send()
            .await
            .map_err(|e| failed("AdminCreateUser", e))?;
        self.client
            .admin_set_user_password()
            .user_pool_id(pool_id)
            .username(username)
            .password(password)
            .permanent(true)
            .send()
            .await
            .map_err(|e| failed("AdminSetUserPassword", e))?;
        for group in groups {
            self.client
                .admin_add_user_to_group()
                .user_pool_id(pool_id)
                .username(username)
                .group_name(*group)
                .send()
                .await
                .map_err(|e| failed("AdminAddUserToGroup", e))?;
        }
        Ok(())
    }

    /// Signs a user in with `ADMIN_USER_PASSWORD_AUTH`.
    pub async fn sign_in(&self, pool_id: &str, client_id: &str, username: &str, password: &str) -> Result<Tokens> {
        let output = self
            .client
            .admin_initiate_auth()
            .user_pool_id(pool_id)
            .client_id(client_id)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .map_err(|e| failed("AdminInitiateAuth", e))?;
        let result = output.authentication_result.ok_or_else(|| {
            Error::Failed(format!("AdminInitiateAuth for {username} returned a challenge instead of tokens"))
        })?;
        match (result.id_token, result.access_token) {
            (Some(id_token), Some(access_token)) => Ok(Tokens { id_token, access_token }),
            _ => Err(Error::Failed(format!("AdminInitiateAuth for {username} returned no ID or access token"))),
        }
    }

    /// The user's `sub`.
    pub async fn user_sub(&self, pool_id: &str, username: &str) -> Result<String> {
        let output = self
            .client
            .admin_get_user()
            .user_pool_id(pool_id)
            .username(username)
            .send()
            .await
            .map_err(|e| failed("AdminGetUser", e))?;
        let sub = output.user_attributes().iter().find(|a| a.name() == "sub").and_then(|a| a.value());
        sub.map(str::to_owned).ok_or_else(|| Error::Failed(format!("AdminGetUser: {username} has no sub")))
    }

    /// `AdminUserGlobalSignOut`: Cognito stops refreshing the user's tokens, which still verify.
    pub async fn global_sign_out(&self, pool_id: &str, username: &str) -> Result<()> {
        let call = self.client.admin_user_global_sign_out().user_pool_id(pool_id).username(username);
        call.send().await.map(drop).map_err(|e| failed("AdminUserGlobalSignOut", e))
    }

    pub async fn set_enabled(&self, pool_id: &str, username: &str, enabled: bool) -> Result<()> {
        if enabled {
            let call = self.client.admin_enable_user().user_pool_id(pool_id).username(username);
            call.send().await.map(drop).map_err(|e| failed("AdminEnableUser", e))
        } else {
            let call = self.client.admin_disable_user().user_pool_id(pool_id).username(username);
            call.send().await.map(drop).map_err(|e| failed("AdminDisableUser", e))
        }
    }

    pub async fn remove_from_group(&self, pool_id: &str, username: &str, group: &str) -> Result<()> {
        let call = self.client.admin_remove_user_from_group().user_pool_id(pool_id).username(username);
        call.group_name(group).send().await.map(drop).map_err(|e| failed("AdminRemoveUserFromGroup", e))
    }
}

/// The EventBridge event CloudTrail emits for a successful Cognito management call on `pool_id`, made at `time`
/// (epoch seconds), shaped as Cognito records it: the user's `sub` in `additionalEventData`, the user name hidden.
/// With `sub = None` the event names the user instead, as older records do.
pub fn cloudtrail_event(call: &str, pool_id: &str, username: &str, sub: Option<&str>, time: i64) -> serde_json::Value {
    let shown_name = if sub.is_some() { "HIDDEN_DUE_TO_SECURITY_REASONS" } else { username };
    let mut detail = serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "AssumedRole", "accountId": "123456789012"},
        "eventTime": rfc3339(time),
        "eventSource": "cognito-idp.amazonaws.com",
        "eventName": call,
        "awsRegion": REGION,
        "sourceIPAddress": "192.0.2.10",
        "requestParameters": {"userPoolId": pool_id, "username": shown_name},
        "responseElements": null,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "eventCategory": "Management"
    });
    if let Some(sub) = sub {
        detail["additionalEventData"] = serde_json::json!({"sub": sub});
    }
    serde_json::json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.cognito-idp",
        "account": "123456789012",
        "time": rfc3339(time),
        "region": REGION,
        "resources": [],
        "detail": detail
    })
}

/// Epoch seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(epoch: i64) -> String {
    let (days, secs) = (epoch.div_euclid(86_400), epoch.rem_euclid(86_400));
    // The civil date of a day count (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(super::rfc3339(1_795_341_600), "2026-11-22T10:00:00Z");
    }
}
