//! A revocation table in moto's DynamoDB, through the AWS SDK: created with the layout the authorizers read
//! (`pk` string key, `expires_at` TTL), and written as the cache invalidator writes it. Static dummy
//! credentials and a fixed region: the client never consults the default chain or the metadata address.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};

use crate::mint::unix_now;
use crate::{Result, failed};

/// Items outlive the longest token lifetime (Cognito: one day for access and ID tokens).
const KEEP_SECS: i64 = 24 * 3600;

pub struct RevocationTable {
    client: Client,
    name: String,
}

impl RevocationTable {
    pub async fn create(endpoint: &str, name: &str) -> Result<Self> {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(crate::cognito::REGION))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "harness"))
            .build();
        let client = Client::from_conf(config);
        let key = |kind: KeyType| KeySchemaElement::builder().attribute_name("pk").key_type(kind).build();
        let attribute =
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build();
        client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(KeyType::Hash).map_err(|e| failed("CreateTable", e))?)
            .attribute_definitions(attribute.map_err(|e| failed("CreateTable", e))?)
            .send()
            .await
            .map_err(|e| failed("CreateTable", e))?;
        let ttl = TimeToLiveSpecification::builder().attribute_name("expires_at").enabled(true).build();
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(ttl.map_err(|e| failed("UpdateTimeToLive", e))?)
            .send()
            .await
            .map_err(|e| failed("UpdateTimeToLive", e))?;
        Ok(RevocationTable { client, name: name.to_owned() })
    }

    /// Tokens of `sub` (from `issuer`) issued before `not_before` are revoked.
    pub async fn revoke_user(&self, issuer: &str, sub: &str, not_before: i64) -> Result<()> {
        self.put(format!("user#{issuer}#{sub}"), Some(not_before)).await
    }

    /// Every token refreshed from one refresh token is revoked.
    pub async fn revoke_family(&self, origin_jti: &str) -> Result<()> {
        self.put(format!("family#{origin_jti}"), None).await
    }

    async fn put(&self, pk: String, not_before: Option<i64>) -> Result<()> {
        let number = |n: i64| AttributeValue::N(n.to_string());
        let mut request = self
            .client
            .put_item()
            .table_name(&self.name)
            .item("pk", AttributeValue::S(pk))
            .item("expires_at", number(unix_now() + KEEP_SECS));
        if let Some(not_before) = not_before {
            request = request.item("not_before", number(not_before));
        }
        request.send().await.map_err(|e| failed("PutItem", e))?;
        Ok(())
    }

    /// Drops the table, so that reads fail as they would if the store were unreachable.
    pub async fn delete(&self) -> Result<()> {
        self.client.delete_table().table_name(&self.name).send().await.map_err(|e| failed("DeleteTable", e))?;
        Ok(())
    }
}
