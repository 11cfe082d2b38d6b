//! `route_and_arn`: the input as a route pattern and a route.
//!
//! The input is split at its first newline, or else at its last space: `GET /items/{id} GET/items/42` is
//! the pattern `GET /items/{id}` and the route `GET/items/42`.
//!
//! Invariants:
//! - `rules::route_resources(pattern)` never panics; when it succeeds every resource is at most
//!   7 + 1 + 200 bytes (verb, slash, path), holds no `?`, `{`, `}`, whitespace or control character, and
//!   starts with one of the seven verbs and `/`, or is a `$` route key (never a wildcard verb).
//! - `glob::matches` never panics and agrees with a plain dynamic-programming reference matcher (on
//!   characters: `*` any run, `?` one character), both for each resource against the route and for the raw
//!   pattern text against the route; and a literal stage prefix in front of both changes nothing.
//! - `MethodArn::parse` never panics on the route or on an ARN built from it; an ARN it accepts is the stage
//!   prefix followed by the route, and its prefix holds no wildcard; an ARN built from a valid prefix and any
//!   non-empty route (within the length limit) is accepted with exactly that route.
//! - `Cidr::from_str` never panics on either string; a block it accepts contains its own address.

#![no_main]

use authorizer::arn::{MAX_METHOD_ARN_BYTES, MethodArn};
use authorizer::cidr::Cidr;
use authorizer::glob;
use authorizer::rules::{MAX_PATH_PATTERN_BYTES, VERBS, route_resources};
use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;

const STAGE_PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (pattern, route) = match text.split_once('\n') {
        Some(split) => split,
        None => text.rsplit_once(' ').unwrap_or((text, "")),
    };

    if let Ok(resources) = route_resources(pattern) {
        assert!(!resources.is_empty(), "a pattern names at least one resource");
        for resource in &resources {
            check_resource(pattern, resource);
            check_glob(resource, route);
        }
    }
    check_glob(pattern, route);

    for arn in [route.to_owned(), format!("{STAGE_PREFIX}{route}")] {
        if let Ok(parsed) = MethodArn::parse(&arn) {
            assert_eq!(format!("{}{}", parsed.stage_prefix, parsed.route), arn);
            assert!(!parsed.route.is_empty());
            assert!(!parsed.stage_prefix.contains(['*', '?']), "a wildcard in the stage prefix: {arn:?}");
            assert!(parsed.account.len() == 12 && parsed.account.bytes().all(|b| b.is_ascii_digit()));
            assert!(parsed.stage_prefix.ends_with('/'));
        }
    }
    let built = format!("{STAGE_PREFIX}{route}");
    if !route.is_empty() && built.len() <= MAX_METHOD_ARN_BYTES {
        let parsed = MethodArn::parse(&built).unwrap_or_else(|e| panic!("{built:?} refused: {e}"));
        assert_eq!((parsed.stage_prefix, parsed.route), (STAGE_PREFIX, route));
    }

    for text in [pattern, route] {
        if let Ok(cidr) = text.parse::<Cidr>() {
            let address = text.split_once('/').map_or(text, |(a, _)| a).trim();
            let address: IpAddr = address.parse().expect("an accepted block has an address");
            assert!(cidr.contains(address), "{text:?} does not contain its own address");
        }
    }
});

fn check_resource(pattern: &str, resource: &str) {
    let limit = 7 + 1 + MAX_PATH_PATTERN_BYTES;
    assert!(resource.len() <= limit, "{pattern:?} gives a {}-byte resource (limit {limit})", resource.len());
    assert!(!resource.contains('?'), "{pattern:?} gives {resource:?}, with a '?'");
    assert!(
        !resource.contains(['{', '}']) && !resource.chars().any(|c| c.is_whitespace() || c.is_control()),
        "{pattern:?} gives {resource:?}"
    );
    let verb_led = VERBS.iter().any(|verb| resource.strip_prefix(verb).is_some_and(|rest| rest.starts_with('/')));
    assert!(verb_led || resource.starts_with('$'), "{pattern:?} gives {resource:?}, which has no verb");
}

fn check_glob(pattern: &str, text: &str) {
    let got = glob::matches(pattern, text);
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    if p.len().saturating_mul(t.len()) <= 200_000 {
        assert_eq!(got, reference(&p, &t), "glob::matches({pattern:?}, {text:?})");
    }
    let prefixed = glob::matches(&format!("{STAGE_PREFIX}{pattern}"), &format!("{STAGE_PREFIX}{text}"));
    assert_eq!(prefixed, got, "a literal prefix changed the answer for ({pattern:?}, {text:?})");
}

/// Glob matching the obvious way: `dp[i][j]` = the first `i` pattern characters match the first `j` text ones.
fn reference(pattern: &[char], text: &[char]) -> bool {
    let mut row = vec![false; text.len() + 1];
    row[0] = true;
    for &c in pattern {
        let mut next = vec![false; text.len() + 1];
        match c {
            '*' => {
                let mut any = false;
                for j in 0..=text.len() {
                    any |= row[j];
                    next[j] = any;
                }
            }
            _ => {
                for j in 1..=text.len() {
                    next[j] = row[j - 1] && (c == '?' || c == text[j - 1]);
                }
            }
        }
        row = next;
    }
    row[text.len()]
}
