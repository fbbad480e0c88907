//! Unpacks one archive with bitzel's fetcher, as `do_unpack` would, for
//! measuring against the `tar` command (scripts/bench-unpack.sh).
//!
//! usage: cargo run --release --example unpack -- ARCHIVE DEST [STRIPLEVEL]
//!
//! The format comes from ARCHIVE's name (`.tar.gz`, `.tar.xz`, `.zip`,
//! ...); DEST is made if missing.

use std::collections::HashMap;
use std::path::Path;

use bitzel::fetch::{Report, Source, unpack};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(archive), Some(dest)) = (args.first(), args.get(1)) else {
        eprintln!("usage: unpack ARCHIVE DEST [STRIPLEVEL]");
        std::process::exit(2);
    };
    let archive = match Path::new(archive).canonicalize() {
        Ok(path) => path,
        Err(e) => {
            eprintln!("{archive}: {e}");
            std::process::exit(1);
        }
    };
    let mut url = format!("file://{}", archive.display());
    if let Some(strip) = args.get(2) {
        url.push_str(&format!(";striplevel={strip}"));
    }
    let source = match Source::new(&url, &HashMap::new(), None) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = std::fs::create_dir_all(dest) {
        eprintln!("{dest}: {e}");
        std::process::exit(1);
    }
    let mut report = Report::default();
    if let Err(e) = unpack::unpack(&source, &archive, Path::new(dest), &mut report) {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
