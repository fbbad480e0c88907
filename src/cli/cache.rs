//! `bitzel cache stats` and `bitzel cache gc --max-size SIZE`: what the
//! local cache holds, and shrinking it (the policy is `cas::Cache::gc`'s).

use std::io::Write;

use anyhow::{Result, bail};

use super::args::{CacheArgs, CacheCommand};
use crate::cas::Cache;

pub fn run(args: &CacheArgs, out: &mut dyn Write) -> Result<bool> {
    if !args.dir.join("cas").is_dir() {
        bail!("no cache at {}", args.dir.display());
    }
    let cache = Cache::open(&args.dir)?;
    match &args.command {
        CacheCommand::Stats => {
            let stats = cache.stats()?;
            writeln!(out, "cache: {}", args.dir.display())?;
            let rows = [
                ("blobs", stats.blobs, stats.blob_bytes),
                ("executable twins", stats.exec_twins, stats.exec_twin_bytes),
                (
                    "action results",
                    stats.action_results,
                    stats.action_result_bytes,
                ),
                ("temporary files", stats.temp_files, stats.temp_bytes),
            ];
            for (what, count, bytes) in rows {
                writeln!(out, "{what}: {count} ({})", format_bytes(bytes))?;
            }
            writeln!(out, "total: {}", format_bytes(stats.total_bytes()))?;
        }
        CacheCommand::Gc(gc) => {
            let lock = match cache.try_lock_exclusive()? {
                Some(lock) => lock,
                None => {
                    eprintln!("bitzel: waiting for the builds using the cache to finish");
                    cache.lock_exclusive()?
                }
            };
            let report = cache.gc(&lock, gc.max_size)?;
            writeln!(
                out,
                "kept {} action results and {} blobs ({})",
                report.kept_results,
                report.kept_blobs,
                format_bytes(report.kept_bytes)
            )?;
            let broken = match report.broken_results {
                0 => String::new(),
                n => format!(" ({n} naming missing or corrupt blobs)"),
            };
            writeln!(
                out,
                "removed {} action results{broken}, {} blobs and {} temporary files ({})",
                report.removed_results,
                report.removed_blobs,
                report.removed_temp_files,
                format_bytes(report.removed_bytes)
            )?;
        }
    }
    Ok(true)
}

/// `500M`, `2G`, `1.5T`, `4096`: bytes, with K, M, G or T meaning powers of
/// 1024 (an optional `B` or `iB` after the letter is accepted).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let upper = trimmed.to_ascii_uppercase();
    let without_b = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (number, shift) = match without_b.chars().last() {
        Some('K') => (&without_b[..without_b.len() - 1], 10),
        Some('M') => (&without_b[..without_b.len() - 1], 20),
        Some('G') => (&without_b[..without_b.len() - 1], 30),
        Some('T') => (&without_b[..without_b.len() - 1], 40),
        _ => (without_b, 0),
    };
    let invalid = || format!("`{text}` is not a size (examples: 500M, 2G, 1048576)");
    let number = number.trim();
    if let Ok(whole) = number.parse::<u64>() {
        return whole.checked_mul(1u64 << shift).ok_or_else(invalid);
    }
    match number.parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 && number.contains('.') => {
            let bytes = value * (1u64 << shift) as f64;
            if bytes < u64::MAX as f64 {
                Ok(bytes as u64)
            } else {
                Err(invalid())
            }
        }
        _ => Err(invalid()),
    }
}

fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_powers_of_1024() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("500M"), Ok(500 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("10KB"), Ok(10 << 10));
        assert_eq!(parse_size("1.5T"), Ok(3 << 39));
        assert_eq!(parse_size("0"), Ok(0));
        for bad in ["", "G", "-1G", "2X", "1e3", "99999999999T", "NaN"] {
            assert!(parse_size(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn bytes_format_with_binary_units() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(5 << 30), "5.0 GiB");
    }
}
