//! IAM wildcard matching, as API Gateway applies it to `execute-api` resources.
//!
//! `*` matches any run of characters, `/` included (AWS: it "will greedily expand over '/' or other
//! separators"); `?` matches exactly one character; everything else matches itself, case-sensitively.
//! Route rules and the policy evaluator both use this one matcher, so the rules' answer and the cached
//! policy's answer cannot drift apart.

/// Whether `text` matches `pattern` in full. Works on UTF-8 bytes without allocating: a literal pattern
/// character can only match at a character boundary, and `?` steps over one whole character.
pub fn matches(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and how much text it has swallowed so far: the classic linear-backtrack glob.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(b'?') => {
                p += 1;
                t += utf8_len(text[t]);
            }
            Some(c) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    let next = star_t + utf8_len(text[star_t]);
                    p = star_p + 1;
                    t = next;
                    star = Some((star_p, next));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

/// The length of the UTF-8 character that starts with `lead`.
fn utf8_len(lead: u8) -> usize {
    match lead {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn star_spans_slashes_and_may_be_empty() {
        assert!(matches("GET/items/*", "GET/items/1"));
        assert!(matches("GET/items/*", "GET/items/1/secret"));
        assert!(matches("GET/items/*", "GET/items/"));
        assert!(!matches("GET/items/*", "GET/items"));
        assert!(matches("*/admin/*", "GET/x/admin/y"));
        assert!(matches("GET/a/*/b", "GET/a/x/y/b"));
        assert!(!matches("GET/a/*/b", "GET/a/x/y/c"));
        assert!(matches("*", ""));
        assert!(matches("**", "abc"));
    }

    #[test]
    fn question_mark_is_one_character() {
        assert!(matches("GET/v?/x", "GET/v1/x"));
        assert!(!matches("GET/v?/x", "GET/v/x"));
        assert!(!matches("GET/v?/x", "GET/v12/x"));
        assert!(matches("GET/?", "GET/é"));
        assert!(matches("GET/?/x", "GET/日/x"));
        assert!(!matches("GET/??", "GET/é"));
        assert!(matches("*é", "aé"));
        assert!(matches("*?", "日本"));
    }

    #[test]
    fn literal_and_case_sensitive() {
        assert!(matches("GET/Items", "GET/Items"));
        assert!(!matches("GET/Items", "GET/items"));
        assert!(!matches("GET/items", "GET/items/"));
        assert!(!matches("", "x"));
        assert!(matches("", ""));
    }

    #[test]
    fn pathological_patterns_stay_linear_enough() {
        let text = "a".repeat(2000);
        assert!(!matches(&format!("{}b", "*a".repeat(50)), &text));
    }
}
