//! BitBake's `decodeurl` and `encodeurl` as bitzel computes them, one URL
//! per input line, for `scripts/differential-decodeurl.py`.
//!
//! usage: decodeurl < URLS
//!
//! Prints one JSON line per URL: `[url, [scheme, host, path, user,
//! password, [[key, value], ...], encoded]]`, or `[url, "ERR"]` when the
//! URL cannot be decoded.

use std::io::{BufRead, Write};

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let text = line.trim();
        let result = match bitzel::fetch::Url::parse(text) {
            Ok(url) => {
                let params: Vec<(&str, Option<&str>)> = url.params.iter().collect();
                let encoded = url.encode().unwrap_or_else(|_| "ERR".to_string());
                serde_json::json!([
                    url.scheme,
                    url.host,
                    url.path,
                    url.user,
                    url.password,
                    params,
                    encoded
                ])
            }
            Err(_) => serde_json::json!("ERR"),
        };
        if writeln!(out, "{}", serde_json::json!([text, result])).is_err() {
            break;
        }
    }
}
