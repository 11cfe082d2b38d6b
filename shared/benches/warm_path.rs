//! The warm path, event JSON in to response JSON out, beside the floor it cannot beat: one bare signature
//! check with the same crypto backend (ring). For reference, the same check with aws-lc-rs and a parsed key
//! (the backend the crate used before ring; BENCHMARKS.md, "Binary size"). Tokens are signed with aws-lc-rs.
//!
//! Run: `cargo bench -p authorizer --bench warm_path`. The decision includes formatting its JSON log line
//! (written to a sink, as stdout is not what is measured).

use authorizer::{Authorizer, Config, TokenEvent};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, ParsedPublicKey, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

const POOL: &str = "us-east-1_BenchPool";
const METHOD_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/items/42";

struct Keys {
    rsa: RsaKeyPair,
    ec: EcdsaKeyPair,
}

impl Keys {
    fn jwks(&self) -> String {
        let rsa = self.rsa.public_key();
        let point = self.ec.public_key().as_ref();
        json!({"keys": [
            {"kty": "RSA", "kid": "rsa", "use": "sig", "alg": "RS256",
             "n": B64.encode(rsa.modulus().big_endian_without_leading_zero()),
             "e": B64.encode(rsa.exponent().big_endian_without_leading_zero())},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "alg": "ES256",
             "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65])}
        ]})
        .to_string()
    }

    /// A Cognito-shaped access token, as large as a real one.
    fn token(&self, alg: &str) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let kid = if alg == "RS256" { "rsa" } else { "ec" };
        let header = json!({"kid": kid, "alg": alg});
        let claims = json!({
            "sub": "9f2a1c4e-3b7d-4e8f-a1b2-c3d4e5f60718", "cognito:groups": ["readers", "admins"],
            "iss": format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL}"), "version": 2,
            "client_id": "4k1h2j3g4f5d6s7a8p9o0i1u2y", "origin_jti": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
            "event_id": "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9", "token_use": "access",
            "scope": "items/read items/write aws.cognito.signin.user.admin", "auth_time": now, "exp": now + 3600,
            "iat": now, "jti": "0a1b2c3d-4e5f-4a6b-7c8d-9e0f1a2b3c4d", "username": "alice"
        });
        let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let signature = if alg == "RS256" {
            let mut sig = vec![0; self.rsa.public_modulus_len()];
            self.rsa.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut sig).unwrap();
            sig
        } else {
            self.ec.sign(&SystemRandom::new(), input.as_bytes()).unwrap().as_ref().to_vec()
        };
        format!("{input}.{}", B64.encode(signature))
    }
}

fn configured_authorizer(keys: &Keys, revocation_endpoint: Option<&str>) -> Authorizer {
    let mut config = json!({
        "issuers": [{
            "cognito_user_pool_id": POOL, "client_ids": ["4k1h2j3g4f5d6s7a8p9o0i1u2y"],
            "algorithms": ["RS256", "ES256"], "jwks": keys.jwks()
        }],
        "context_claims": ["sub", "username", "scope", "cognito:groups"],
        "rules": {"route": [
            {"match": ["GET /items", "GET /items/{id}"], "scopes_any": ["items/read"]},
            {"match": ["POST /items", "PUT /items/{id}", "DELETE /items/{id}"], "scopes_any": ["items/write"]},
            {"match": ["ANY /admin/{proxy+}"], "groups_any": ["admins"], "invalidate_cache": true}
        ]}
    });
    if let Some(endpoint) = revocation_endpoint {
        config["revocation"] = json!({"table": "authz-revocations", "endpoint": endpoint, "region": "us-east-1"});
    }
    let config: Config = serde_json::from_value(config).unwrap();
    let environment =
        |name: &str| matches!(name, "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY").then(|| "bench".into());
    Authorizer::with_environment(&config, environment).unwrap()
}

/// A loopback stand-in for DynamoDB that finds nothing (no emulator is light enough to sit in a bench): the
/// bench measures the warm cache, which reads it once per key.
fn empty_revocation_table() -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let reply = r#"{"Responses":{"authz-revocations":[]},"UnprocessedKeys":{}}"#;
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", reply.len());
            let _ = reader.get_mut().write_all(format!("{head}{reply}").as_bytes());
        }
    });
    url
}

fn warm_path(c: &mut Criterion) {
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt().json().with_writer(std::io::sink).with_target(false).finish(),
    )
    .unwrap();
    let keys = Keys {
        rsa: RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
        ec: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
    };
    let authorizer = configured_authorizer(&keys, None);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    let rsa_token = keys.token("RS256");
    let (input, sig) = rsa_token.rsplit_once('.').unwrap();
    let sig = B64.decode(sig).unwrap();
    let public_key = keys.rsa.public_key().as_ref();
    let unparsed = ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, public_key);
    c.bench_function("bare RS256 signature check (ring)", |b| {
        b.iter(|| unparsed.verify(black_box(input.as_bytes()), black_box(&sig)).unwrap())
    });
    let parsed = ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public_key).unwrap();
    c.bench_function("reference: bare RS256 signature check (aws-lc-rs, parsed key)", |b| {
        b.iter(|| parsed.verify_sig(black_box(input.as_bytes()), black_box(&sig)).unwrap())
    });

    for alg in ["RS256", "ES256"] {
        let event = serde_json::to_vec(&json!({
            "type": "TOKEN", "authorizationToken": format!("Bearer {}", keys.token(alg)), "methodArn": METHOD_ARN
        }))
        .unwrap();
        // Check once that the bench measures an Allow, not a fast failure.
        let event_parsed: TokenEvent = serde_json::from_slice(&event).unwrap();
        assert!(runtime.block_on(authorizer.token_event(&event_parsed)).is_ok());
        c.bench_function(&format!("TOKEN decision, {alg}: event JSON in, response JSON out"), |b| {
            b.iter(|| {
                let event: TokenEvent = serde_json::from_slice(black_box(&event)).unwrap();
                let response = runtime.block_on(authorizer.token_event(&event)).unwrap();
                serde_json::to_vec(&response).unwrap()
            })
        });
    }
    request_shapes(c, &authorizer, &runtime, &rsa_token);

    // The same RS256 decision with revocation on; the cache is warmed by the check below.
    let revoking = configured_authorizer(&keys, Some(&empty_revocation_table()));
    let event = serde_json::to_vec(&json!({
        "type": "TOKEN", "authorizationToken": format!("Bearer {rsa_token}"), "methodArn": METHOD_ARN
    }))
    .unwrap();
    let parsed: TokenEvent = serde_json::from_slice(&event).unwrap();
    assert!(runtime.block_on(revoking.token_event(&parsed)).is_ok());
    c.bench_function("TOKEN decision, RS256, revocation on (warm cache)", |b| {
        b.iter(|| {
            let event: TokenEvent = serde_json::from_slice(black_box(&event)).unwrap();
            let response = runtime.block_on(revoking.token_event(&event)).unwrap();
            serde_json::to_vec(&response).unwrap()
        })
    });
}

/// REQUEST events from the project's samples, with the token and method ARN replaced.
fn request_event(sample: &str, token: &str) -> Vec<u8> {
    let mut event: serde_json::Value = serde_json::from_str(sample).unwrap();
    let bearer = format!("Bearer {token}");
    match event["version"].as_str() {
        Some("2.0") => {
            event["routeArn"] = json!(METHOD_ARN);
            event["headers"]["authorization"] = json!(bearer);
        }
        _ => {
            event["methodArn"] = json!(METHOD_ARN);
            event["headers"]["Authorization"] = json!(bearer);
            event["multiValueHeaders"]["Authorization"] = json!([bearer]);
        }
    }
    serde_json::to_vec(&event).unwrap()
}

/// The REQUEST shapes: larger events, the same decision.
fn request_shapes(c: &mut Criterion, authorizer: &Authorizer, runtime: &tokio::runtime::Runtime, token: &str) {
    let samples = [
        ("REST REQUEST", include_str!("../../events/request-rest.json")),
        ("HTTP API 2.0", include_str!("../../events/request-http-v2.json")),
    ];
    for (shape, sample) in samples {
        let event = request_event(sample, token);
        let event = String::from_utf8(event).unwrap();
        let response = runtime.block_on(authorizer.request_event(&event)).unwrap();
        assert!(serde_json::to_string(&response).unwrap().contains("\"Allow\""), "the bench must measure an Allow");
        c.bench_function(&format!("{shape} decision, RS256: event JSON in, response JSON out"), |b| {
            b.iter(|| {
                let response = runtime.block_on(authorizer.request_event(black_box(&event))).unwrap();
                serde_json::to_vec(&response).unwrap()
            })
        });
    }
}

criterion_group!(benches, warm_path);
criterion_main!(benches);
