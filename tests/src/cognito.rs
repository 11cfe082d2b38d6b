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
}
