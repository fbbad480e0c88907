//! What the user typed: clap definitions, validated and nothing more.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Bitzel: BitBake metadata, built hermetically with a content-addressed cache.
#[derive(Debug, Parser)]
#[command(name = "bitzel", version, about, propagate_version = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse metadata files and report every syntax error BitBake would.
    ///
    /// Reads every `.bb`, `.bbappend`, `.bbclass`, `.inc` and `.conf` file
    /// under the given paths (files or directories, default `.`), in
    /// parallel. Exit status: 0 when clean, 1 when any file has an error,
    /// 2 when a path cannot be read.
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Print one JSON object instead of diagnostics and a summary.
    #[arg(long)]
    pub json: bool,
    /// Files or directories to check.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}
