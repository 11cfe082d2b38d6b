//! The REQUEST authorizer events, in every shape API Gateway sends, read into one view.
//!
//! Shapes: REST REQUEST, HTTP API payload 1.0 and 2.0, and WebSocket `$connect`; the shape is detected from
//! the event. Header names are matched case-insensitively, repeated query keys and cookies are kept, and the
//! token is taken from the configured identity sources in order. An event of no known shape is an error,
//! never a request to decide on. Nothing here decides, logs or echoes a token.

use crate::config::ConfigError;
use crate::outcome::{Fault, Rejection};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::IpAddr;

/// Which kind of API sent the event, and so which answer it expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Rest,
    HttpV1,
    HttpV2,
    WebSocket,
}

/// A REQUEST event, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub shape: Shape,
    /// `methodArn`, or `routeArn` for HTTP API payload 2.0.
    pub arn: String,
    /// The HTTP method, when the shape has one (WebSocket `$connect` has none).
    pub http_method: Option<String>,
    /// Header names lower-cased; a repeated header keeps every value.
    pub headers: Vec<(String, String)>,
    /// Query parameters in order; a repeated key keeps every value.
    pub query: Vec<(String, String)>,
    pub cookies: Vec<(String, String)>,
    /// The caller's address as API Gateway saw it.
    pub source_ip: Option<IpAddr>,
    /// The client certificate of a mutual-TLS API, as API Gateway verified it.
    pub client_cert: Option<ClientCert>,
}

/// A client certificate from `requestContext` (REST, HTTP 1.0: `identity.clientCert`; HTTP 2.0:
/// `authentication.clientCert`). API Gateway has already checked it against the domain's trust store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    pub subject_dn: String,
    pub issuer_dn: String,
    /// SHA-256 of the certificate's DER, lower-case hex, when the PEM could be read.
    pub sha256: Option<String>,
}

/// A REQUEST event as it arrives: every field any shape may carry, all optional, so that detection can say
/// what is missing. Read it with serde, then into a [`Request`].
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestEvent {
    #[serde(rename = "type")]
    kind: Option<String>,
    version: Option<String>,
    method_arn: Option<String>,
    route_arn: Option<String>,
    http_method: Option<String>,
    headers: Option<HashMap<String, String>>,
    multi_value_headers: Option<HashMap<String, Vec<String>>>,
    query_string_parameters: Option<HashMap<String, String>>,
    multi_value_query_string_parameters: Option<HashMap<String, Vec<String>>>,
    raw_query_string: Option<String>,
    cookies: Option<Vec<String>>,
    request_context: Option<RawContext>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawContext {
    event_type: Option<String>,
    http: Option<RawHttp>,
    identity: Option<RawIdentity>,
    authentication: Option<RawIdentity>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawHttp {
    method: Option<String>,
    source_ip: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawIdentity {
    source_ip: Option<String>,
    client_cert: Option<RawClientCert>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawClientCert {
    client_cert_pem: Option<String>,
    #[serde(rename = "subjectDN")]
    subject_dn: Option<String>,
    #[serde(rename = "issuerDN")]
    issuer_dn: Option<String>,
}

impl RequestEvent {
    /// Reads the event's JSON. A malformed event is a fault whose message gives only the kind and position of
    /// the problem: serde's own message can quote the offending value, which may be a credential.
    pub fn parse(json: &str) -> Result<RequestEvent, Fault> {
        serde_json::from_str(json).map_err(|e| {
            bad(format!(
                "malformed REQUEST event ({:?} error at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })
    }
}

impl Request {
    /// Reads any REQUEST event; an unknown or incomplete shape is a fault (500), never a decision.
    pub fn from_event(raw: RequestEvent) -> Result<Request, Fault> {
        if raw.kind.as_deref() != Some("REQUEST") {
            return Err(bad("not a REQUEST event (type is not \"REQUEST\")".into()));
        }
        let is_connect = raw.request_context.as_ref().and_then(|c| c.event_type.as_deref()) == Some("CONNECT");
        let shape = match (raw.version.as_deref(), is_connect) {
            (Some("2.0"), _) => Shape::HttpV2,
            (Some("1.0"), _) => Shape::HttpV1,
            (_, true) => Shape::WebSocket,
            (None, false) if raw.http_method.is_some() => Shape::Rest,
            _ => return Err(bad("unknown REQUEST event shape".into())),
        };
        let arn = match shape {
            Shape::HttpV2 => raw.route_arn.clone(),
            _ => raw.method_arn.clone(),
        }
        .ok_or_else(|| {
            bad(format!("a {shape:?} event needs {}", if shape == Shape::HttpV2 { "routeArn" } else { "methodArn" }))
        })?;
        let http_method = match shape {
            Shape::HttpV2 => raw.request_context.as_ref().and_then(|c| c.http.as_ref()).and_then(|h| h.method.clone()),
            Shape::WebSocket => None,
            Shape::Rest | Shape::HttpV1 => raw.http_method.clone(),
        };
        let headers =
            pairs(raw.multi_value_headers, raw.headers).into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
        let query = match (&raw.raw_query_string, shape) {
            // 2.0 joins repeated keys with commas in queryStringParameters; the raw string keeps them apart.
            (Some(raw_query), Shape::HttpV2) => {
                url::form_urlencoded::parse(raw_query.as_bytes()).into_owned().collect()
            }
            _ => pairs(raw.multi_value_query_string_parameters, raw.query_string_parameters),
        };
        let context = raw.request_context.as_ref();
        let source_ip = match shape {
            Shape::HttpV2 => context.and_then(|c| c.http.as_ref()).and_then(|h| h.source_ip.as_deref()),
            _ => context.and_then(|c| c.identity.as_ref()).and_then(|i| i.source_ip.as_deref()),
        }
        .and_then(|ip| ip.parse().ok());
        let client_cert = match shape {
            Shape::HttpV2 => context.and_then(|c| c.authentication.as_ref()),
            _ => context.and_then(|c| c.identity.as_ref()),
        }
        .and_then(|i| i.client_cert.as_ref())
        .map(ClientCert::from_raw);
        let mut request = Request { shape, arn, http_method, headers, query, cookies: vec![], source_ip, client_cert };
        request.cookies = match raw.cookies {
            Some(list) => list.iter().flat_map(|c| parse_cookies(c)).collect(),
            None => request.header_values("cookie").flat_map(parse_cookies).collect(),
        };
        Ok(request)
    }

    /// Every value of a header, whatever the case of its name.
    pub fn header_values<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.headers.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn query_values<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.query.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn cookie_values<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.cookies.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A CORS preflight: `OPTIONS`, which browsers send without credentials.
    pub fn is_preflight(&self) -> bool {
        self.http_method.as_deref() == Some("OPTIONS")
    }
}

impl ClientCert {
    fn from_raw(raw: &RawClientCert) -> ClientCert {
        ClientCert {
            subject_dn: raw.subject_dn.clone().unwrap_or_default(),
            issuer_dn: raw.issuer_dn.clone().unwrap_or_default(),
            sha256: raw.client_cert_pem.as_deref().and_then(pem_sha256),
        }
    }
}

/// SHA-256 of the DER inside a PEM certificate, lower-case hex (the usual certificate fingerprint).
fn pem_sha256(pem: &str) -> Option<String> {
    use base64::Engine as _;
    let body: String = pem.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
    let hash = ring::digest::digest(&ring::digest::SHA256, &der);
    Some(crate::log::hex(hash.as_ref()))
}

fn bad(message: String) -> Fault {
    Fault::BadEvent(message)
}

/// Multi-value maps win over single-value ones, which API Gateway fills with the last value only.
fn pairs(
    multi: Option<HashMap<String, Vec<String>>>,
    single: Option<HashMap<String, String>>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = match (multi, single) {
        (Some(multi), _) if !multi.is_empty() => {
            multi.into_iter().flat_map(|(k, values)| values.into_iter().map(move |v| (k.clone(), v))).collect()
        }
        (_, Some(single)) => single.into_iter().collect(),
        _ => vec![],
    };
    // Maps have no order; sorting by name (stable for repeated keys) makes the view deterministic.
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// `a=1; b=2` → `[(a, 1), (b, 2)]`. Pairs without `=` are not cookies and are skipped.
fn parse_cookies(header: &str) -> impl Iterator<Item = (String, String)> + '_ {
    header.split(';').filter_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        let name = name.trim();
        let value = value.trim().trim_matches('"');
        (!name.is_empty()).then(|| (name.to_owned(), value.to_owned()))
    })
}

/// Where a REQUEST authorizer looks for the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// A header, matched case-insensitively; its value may carry the `Bearer` scheme.
    Header(String),
    /// A query string parameter, holding the bare token.
    Query(String),
    /// A cookie, holding the bare token.
    Cookie(String),
}

impl IdentitySource {
    /// Parses `header:Authorization`, `query:token`, `cookie:id_token`.
    pub fn parse(text: &str, setting: &str) -> Result<Self, ConfigError> {
        let (kind, name) = text.split_once(':').unwrap_or(("", ""));
        let name = name.trim();
        if name.is_empty() {
            return Err(ConfigError::new(
                setting,
                format!("{text:?}: expected header:NAME, query:NAME or cookie:NAME"),
            ));
        }
        match kind.trim() {
            "header" => Ok(Self::Header(name.to_owned())),
            "query" => Ok(Self::Query(name.to_owned())),
            "cookie" => Ok(Self::Cookie(name.to_owned())),
            other => Err(ConfigError::new(
                setting,
                format!("unknown identity source kind {other:?} (header, query, cookie)"),
            )),
        }
    }
}

/// The token from the first source that has one. A source that holds several different values is refused:
/// two credentials in one request are ambiguous, and the answer must not depend on which one was read.
pub fn find_token<'r>(request: &'r Request, sources: &[IdentitySource]) -> Result<&'r str, Rejection> {
    for source in sources {
        let mut values: Vec<&str> = match source {
            IdentitySource::Header(name) => request.header_values(name).collect(),
            IdentitySource::Query(name) => request.query_values(name).collect(),
            IdentitySource::Cookie(name) => request.cookie_values(name).collect(),
        };
        values.retain(|v| !v.trim().is_empty());
        values.sort_unstable();
        values.dedup();
        match values.as_slice() {
            [] => continue,
            [one] => {
                return match source {
                    IdentitySource::Header(_) => crate::token::bearer(one),
                    IdentitySource::Query(_) | IdentitySource::Cookie(_) => Ok(one.trim()),
                };
            }
            _ => return Err(Rejection::Malformed("ambiguous_token")),
        }
    }
    Err(Rejection::MissingToken)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn event(name: &str) -> Value {
        let text = match name {
            "rest" => include_str!("../../events/request-rest.json"),
            "v1" => include_str!("../../events/request-http-v1.json"),
            "v2" => include_str!("../../events/request-http-v2.json"),
            "ws" => include_str!("../../events/request-websocket-connect.json"),
            _ => include_str!("../../events/request-mtls.json"),
        };
        serde_json::from_str(text).unwrap()
    }

    fn from_value(event: Value) -> Result<Request, Fault> {
        Request::from_event(RequestEvent::parse(&event.to_string())?)
    }

    fn header(name: &str) -> IdentitySource {
        IdentitySource::Header(name.into())
    }

    #[test]
    fn detects_every_shape_from_the_sample_events() {
        let cases = [
            ("rest", Shape::Rest),
            ("v1", Shape::HttpV1),
            ("v2", Shape::HttpV2),
            ("ws", Shape::WebSocket),
            ("mtls", Shape::Rest),
        ];
        for (name, shape) in cases {
            let request = from_value(event(name)).unwrap();
            assert_eq!(request.shape, shape, "{name}");
            assert!(request.arn.starts_with("arn:aws:execute-api:"), "{name}");
        }
        let ws = from_value(event("ws")).unwrap();
        assert_eq!(ws.http_method, None);
        assert!(ws.arn.ends_with("/$connect"));
        assert_eq!(from_value(event("v2")).unwrap().http_method.as_deref(), Some("GET"));
    }

    #[test]
    fn source_address_and_client_certificate_come_from_each_shape() {
        let expected: IpAddr = "203.0.113.10".parse().unwrap();
        for name in ["rest", "v1", "v2", "ws"] {
            assert_eq!(from_value(event(name)).unwrap().source_ip, Some(expected), "{name}");
        }
        let mtls = from_value(event("mtls")).unwrap();
        let cert = mtls.client_cert.unwrap();
        assert_eq!(cert.subject_dn, "CN=partner-client,O=Example Partner,C=GB");
        assert_eq!(cert.issuer_dn, "CN=partner-client,O=Example Partner,C=GB", "self-signed");
        // As `openssl x509 -noout -fingerprint -sha256` prints it for the sample certificate.
        assert_eq!(cert.sha256.as_deref(), Some("1b03a10390b4bc23c4110377b69e55808c286b5a57c81e54d3b373e581fa1fe9"));
        assert_eq!(from_value(event("rest")).unwrap().client_cert, None);
        let mut v2 = event("v2");
        v2["requestContext"]["authentication"] =
            json!({"clientCert": {"subjectDN": "CN=a", "issuerDN": "CN=b", "clientCertPem": "not pem"}});
        let cert = from_value(v2).unwrap().client_cert.unwrap();
        assert_eq!((cert.subject_dn.as_str(), cert.sha256), ("CN=a", None), "an unreadable PEM has no fingerprint");
    }

    #[test]
    fn unknown_or_incomplete_shapes_are_faults() {
        let mut no_arn = event("v2");
        no_arn.as_object_mut().unwrap().remove("routeArn");
        let mut token_type = event("rest");
        token_type["type"] = json!("TOKEN");
        let mut connect_elsewhere = event("ws");
        connect_elsewhere["methodArn"] = json!("arn:aws:execute-api:us-east-1:123456789012:wsapi12345/prod/GET/items");
        for bad in [
            json!({}),
            json!([]),
            json!({"type": "REQUEST"}),
            json!({"type": "REQUEST", "version": "3.0"}),
            no_arn,
            token_type,
        ] {
            assert!(matches!(from_value(bad.clone()), Err(Fault::BadEvent(_))), "{bad}");
        }
    }

    #[test]
    fn a_malformed_event_never_echoes_its_values() {
        let secret = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0.c2ln";
        for bad in [
            json!({"type": "REQUEST", "headers": format!("Bearer {secret}")}),
            json!({"type": "REQUEST", "headers": {"Authorization": [secret]}}),
            json!({"type": "REQUEST", "cookies": secret}),
            json!({"type": "REQUEST", "requestContext": {"identity": {"sourceIp": [secret]}}}),
            json!([secret]),
        ] {
            let Err(Fault::BadEvent(message)) = from_value(bad.clone()) else { panic!("{bad} must be a fault") };
            assert!(!message.contains("eyJ") && !message.contains("c2Vj"), "{message}");
        }
        let Err(Fault::BadEvent(message)) = RequestEvent::parse(&format!("{{\"type\": \"{secret}")) else { panic!() };
        assert!(!message.contains("eyJ"), "{message}");
    }

    #[test]
    fn header_names_match_in_any_case() {
        let request = from_value(event("rest")).unwrap();
        for name in ["authorization", "AUTHORIZATION", "Authorization"] {
            assert!(find_token(&request, &[header(name)]).unwrap().starts_with("eyJ"), "{name}");
        }
        assert_eq!(request.header_values("x-request-id").collect::<Vec<_>>(), ["7d9c5a12"]);
    }

    #[test]
    fn repeated_query_keys_are_kept_apart() {
        let v2 = from_value(event("v2")).unwrap();
        assert_eq!(
            v2.query_values("tag").collect::<Vec<_>>(),
            ["a", "b"],
            "2.0 reads rawQueryString, not the joined map"
        );
        let mut rest = event("rest");
        rest["multiValueQueryStringParameters"] = json!({"token": ["x", "y"], "q": ["a%20b"]});
        let rest = from_value(rest).unwrap();
        assert_eq!(rest.query_values("token").collect::<Vec<_>>(), ["x", "y"]);
        let mut encoded = event("v2");
        encoded["rawQueryString"] = json!("token=a%2Eb%2Ec&x=1+2");
        let encoded = from_value(encoded).unwrap();
        assert_eq!(encoded.query_values("token").next(), Some("a.b.c"));
        assert_eq!(encoded.query_values("x").next(), Some("1 2"));
    }

    #[test]
    fn cookies_come_from_the_cookies_array_or_the_cookie_header() {
        let v2 = from_value(event("v2")).unwrap();
        assert_eq!(v2.cookie_values("session").collect::<Vec<_>>(), ["abc"]);
        let mut rest = event("rest");
        rest["multiValueHeaders"]["Cookie"] = json!(["a=1; id_token=\"t.o.k\"", "junk; b = 2 ;=x"]);
        let rest = from_value(rest).unwrap();
        assert_eq!(rest.cookie_values("id_token").collect::<Vec<_>>(), ["t.o.k"]);
        assert_eq!(rest.cookie_values("b").collect::<Vec<_>>(), ["2"]);
        assert_eq!(rest.cookies.len(), 3, "pairs without a name or '=' are not cookies");
    }

    #[test]
    fn identity_sources_are_tried_in_order_and_ambiguity_is_refused() {
        let mut v2 = event("v2");
        v2["headers"].as_object_mut().unwrap().remove("authorization");
        v2["rawQueryString"] = json!("access_token=q.q.q");
        v2["cookies"] = json!(["id_token=c.c.c"]);
        let request = from_value(v2).unwrap();
        let query = IdentitySource::Query("access_token".into());
        let cookie = IdentitySource::Cookie("id_token".into());
        assert_eq!(find_token(&request, &[header("Authorization"), query.clone(), cookie.clone()]), Ok("q.q.q"));
        assert_eq!(find_token(&request, &[cookie.clone(), query.clone()]), Ok("c.c.c"));
        assert_eq!(find_token(&request, &[header("Authorization")]), Err(Rejection::MissingToken));

        let mut twice = event("v2");
        twice["rawQueryString"] = json!("access_token=one&access_token=two");
        let twice = from_value(twice).unwrap();
        assert_eq!(find_token(&twice, std::slice::from_ref(&query)), Err(Rejection::Malformed("ambiguous_token")));
        let mut same = event("v2");
        same["rawQueryString"] = json!("access_token=one&access_token=one");
        assert_eq!(
            find_token(&from_value(same).unwrap(), &[query]),
            Ok("one"),
            "a repeated identical value is one value"
        );
    }

    #[test]
    fn identity_source_settings_are_checked() {
        assert_eq!(IdentitySource::parse("header:X-Token", "s").unwrap(), header("X-Token"));
        for bad in ["header:", "Authorization", "body:token", ":x"] {
            let error = IdentitySource::parse(bad, "request.identity_sources[0]").unwrap_err();
            assert_eq!(error.setting, "request.identity_sources[0]", "{bad}");
        }
    }
}
