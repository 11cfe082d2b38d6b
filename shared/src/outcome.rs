//! Every way a request can end, with its reason, and the one place those map to API Gateway's answers.
//!
//! A token problem is a [`Rejection`] (401 `Unauthorized`), a caller without rights gets a [`Denial`] (an
//! explicit or implicit Deny: 403), and anything that stops us from deciding is a [`Fault`] (an error, so
//! 500). Nothing here can turn into an Allow: an Allow is only ever built from a verified token and rules.

use crate::runtime::Failure;

/// Why a token was refused. Each maps to the error `Unauthorized`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    MissingToken,
    NotBearer,
    TokenTooLarge,
    Malformed(&'static str),
    UnsupportedAlgorithm,
    AlgorithmNotAllowed,
    MissingKid,
    KeyInHeader,
    CriticalHeader,
    UnknownIssuer,
    UnknownKid,
    BadSignature,
    Expired,
    NotYetValid,
    IssuedInFuture,
    WrongIssuer,
    WrongAudience,
    WrongClient,
    WrongTokenUse,
    MissingClaim(&'static str),
    ClaimType(&'static str),
    /// Signed and unexpired, but revoked (sign-out, disabled user, revoked refresh token).
    Revoked,
}

/// Why a verified caller may not call this route. Maps to a Deny policy (403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// No rule names this route and unmatched routes are denied.
    NoMatchingRule,
    /// A rule that names this route asks for something the caller lacks.
    Unmet { rule: usize, requirement: Requirement },
}

/// The part of a rule a caller failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Scope,
    AnyGroup,
    AllGroups,
    Claim(String),
    /// A path parameter bound to a claim that the caller lacks (or that cannot stand in a path).
    PathClaim(String),
    SourceIp,
    Header(String),
    ClientCert,
    /// An `online_check` rule, for a token Cognito's `GetUser` cannot check (not a Cognito access token).
    OnlineCheck,
}

/// Why no decision could be made. Maps to an error other than `Unauthorized` (500).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The issuer's keys could not be fetched and none are cached for this token.
    KeysUnavailable,
    /// The revocation store could not be read, so revocation cannot be ruled out.
    RevocationUnavailable,
    /// Cognito could not be asked whether it still accepts the token (rules with `online_check`).
    OnlineCheckUnavailable,
    /// The event is not of the shape this function serves. The detail is for the log: it must never quote
    /// the event's values, which may hold a credential.
    BadEvent(String),
}

/// A request that did not end in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    Rejected(Rejection),
    Failed(Fault),
}

/// What API Gateway answers the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Allowed = 200,
    Unauthorized = 401,
    Forbidden = 403,
    Error = 500,
}

/// API Gateway turns an authorizer error whose message is exactly this into 401.
pub const UNAUTHORIZED: &str = "Unauthorized";

impl AuthError {
    pub fn status(&self) -> Status {
        match self {
            AuthError::Rejected(_) => Status::Unauthorized,
            AuthError::Failed(_) => Status::Error,
        }
    }

    /// The Lambda error message: exactly `Unauthorized` for 401; otherwise a reason code that names no secret.
    pub fn message(&self) -> String {
        match self {
            AuthError::Rejected(_) => UNAUTHORIZED.to_string(),
            AuthError::Failed(fault) => format!("AuthorizerError: {}", fault.code()),
        }
    }

    /// The Lambda error type: informative only, API Gateway reads the message.
    pub fn error_type(&self) -> &'static str {
        match self {
            AuthError::Rejected(_) => "Unauthorized",
            AuthError::Failed(_) => "AuthorizerError",
        }
    }

    /// More than the reason code, for the log only; never a value from the request.
    pub fn detail(&self) -> Option<&str> {
        match self {
            AuthError::Failed(Fault::BadEvent(detail)) => Some(detail),
            _ => None,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Rejected(r) => r.code(),
            AuthError::Failed(f) => f.code(),
        }
    }
}

/// What the runtime reports to Lambda: API Gateway answers 401 for the message `Unauthorized`, 500 for any other.
impl From<AuthError> for Failure {
    fn from(error: AuthError) -> Self {
        Failure::new(error.error_type(), error.message())
    }
}

impl From<Rejection> for AuthError {
    fn from(r: Rejection) -> Self {
        AuthError::Rejected(r)
    }
}

impl From<Fault> for AuthError {
    fn from(f: Fault) -> Self {
        AuthError::Failed(f)
    }
}

impl Rejection {
    /// A stable snake_case reason code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::NotBearer => "not_bearer",
            Self::TokenTooLarge => "token_too_large",
            Self::Malformed(why) => why,
            Self::UnsupportedAlgorithm => "unsupported_alg",
            Self::AlgorithmNotAllowed => "alg_not_allowed",
            Self::MissingKid => "missing_kid",
            Self::KeyInHeader => "key_in_header",
            Self::CriticalHeader => "critical_header",
            Self::UnknownIssuer => "unknown_issuer",
            Self::UnknownKid => "unknown_kid",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::WrongClient => "wrong_client",
            Self::WrongTokenUse => "wrong_token_use",
            Self::MissingClaim(_) => "missing_claim",
            Self::ClaimType(_) => "claim_type",
            Self::Revoked => "revoked",
        }
    }
}

impl Denial {
    pub fn code(&self) -> &'static str {
        match self {
            Denial::NoMatchingRule => "no_matching_rule",
            Denial::Unmet { requirement: Requirement::Scope, .. } => "missing_scope",
            Denial::Unmet { requirement: Requirement::AnyGroup, .. } => "missing_group",
            Denial::Unmet { requirement: Requirement::AllGroups, .. } => "missing_groups",
            Denial::Unmet { requirement: Requirement::Claim(_), .. } => "claim_mismatch",
            Denial::Unmet { requirement: Requirement::PathClaim(_), .. } => "path_claim_mismatch",
            Denial::Unmet { requirement: Requirement::SourceIp, .. } => "source_ip",
            Denial::Unmet { requirement: Requirement::Header(_), .. } => "missing_header",
            Denial::Unmet { requirement: Requirement::ClientCert, .. } => "client_cert",
            Denial::Unmet { requirement: Requirement::OnlineCheck, .. } => "online_check_impossible",
        }
    }
}

impl Fault {
    pub fn code(&self) -> &'static str {
        match self {
            Fault::KeysUnavailable => "keys_unavailable",
            Fault::RevocationUnavailable => "revocation_unavailable",
            Fault::OnlineCheckUnavailable => "online_check_unavailable",
            Fault::BadEvent(_) => "bad_event",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_are_exactly_unauthorized_and_faults_are_not() {
        let rejected = AuthError::from(Rejection::Expired);
        assert_eq!((rejected.status(), rejected.message().as_str()), (Status::Unauthorized, "Unauthorized"));
        let failed = AuthError::from(Fault::KeysUnavailable);
        assert_eq!(failed.status(), Status::Error);
        assert_ne!(failed.message(), UNAUTHORIZED, "a fault must never read as a 401");
        assert_eq!(failed.message(), "AuthorizerError: keys_unavailable");
    }
}
