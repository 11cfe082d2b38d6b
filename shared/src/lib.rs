//! The decisions behind the project's API Gateway Lambda authorizers, written once.
//!
//! A request flows through: [`token`] (extract) → [`jws`] (parse) → [`verify`] (keys from [`jwks`],
//! signature, claims) → [`rules`] (what this caller may call) → [`policy`] (an IAM document for every
//! route) → [`authorize`] (the response and its [`log`] line). [`outcome`] is where every ending maps to
//! 401, 403 or 500. The binaries in `functions/` only hand events from [`runtime`], the Lambda Runtime API
//! client, to the [`Authorizer`] and its answers back.

pub mod alg;
pub mod arn;
pub mod authorize;
pub mod aws_env;
pub mod cidr;
pub mod config;
pub mod context;
pub mod fetch;
pub mod glob;
pub mod invalidation;
pub mod jwk;
pub mod jwks;
pub mod jws;
pub mod log;
pub mod online;
pub mod outcome;
pub mod policy;
pub mod request;
pub mod revocation;
pub mod rules;
pub mod runtime;
pub mod token;
pub mod verify;

pub use authorize::{Authorizer, AuthorizerResponse, RequestResponse, SimpleResponse};
pub use config::{Config, ConfigError};
pub use outcome::{AuthError, Status};
pub use request::RequestEvent;
pub use token::TokenEvent;
