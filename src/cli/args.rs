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
    /// Print the final variables of the configuration or of one recipe.
    ///
    /// Run from a build directory. Text output mirrors `bitbake -e`
    /// (`NAME="value"`, `export` lines, shell and python functions) so the
    /// two can be diffed; `--json` prints variables, flags, the skip
    /// reason and expansion errors.
    Env(EnvArgs),
    /// Parse every recipe and variant of the configured layers, in
    /// parallel, as `bitbake -p` does: a summary line and every error.
    Parse(ParseArgs),
    /// Compute the task graph of targets, as `bitbake -g` does.
    ///
    /// Writes `task-depends.dot` and `pn-buildlist` into the current
    /// directory (the build directory), in `bitbake -g`'s form so the two
    /// can be diffed, or prints nodes and edges as JSON.
    Graph(GraphArgs),
    /// Build targets: run their tasks hermetically, from the cache when
    /// possible.
    ///
    /// Each task runs in its own sandbox; outputs go to the CAS and
    /// action cache under `cache/` (or `--cache DIR`). Exit status 1 when
    /// a task fails, 130 (SIGINT) or 143 (SIGTERM) when interrupted: the
    /// running tasks are killed and nothing is recorded for them.
    Build(BuildArgs),
    /// Say why a task will run again (what `bitbake-diffsigs` tells).
    ///
    /// Compares the task's current signature with the one recorded when it
    /// last ran (or with `bitzel graph --write-signatures`) and names what
    /// changed: variables with their old and new values, files, and
    /// dependencies, explained in turn.
    Explain(ExplainArgs),
    /// Inspect or shrink the local cache (CAS and action cache).
    Cache(CacheArgs),
    /// Internal: a parser worker process that `bitzel parse` (and every
    /// command that parses recipes) starts, serving requests on stdin and
    /// stdout.
    #[command(name = "__parse-worker", hide = true)]
    ParseWorker,
}

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Recipe names or anything they provide; `TARGET:do_TASK` picks a task.
    #[arg(value_name = "TARGET", required = true)]
    pub targets: Vec<String>,
    /// The task to run (default: `BB_DEFAULT_TASK`, i.e. `build`).
    #[arg(short = 'c', long = "cmd", value_name = "TASK")]
    pub task: Option<String>,
    /// Run the requested tasks even if their results are cached.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Keep going after a failure with everything that does not depend on
    /// it.
    #[arg(short = 'k', long)]
    pub keep_going: bool,
    /// Parallel tasks (default: one per core).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Say what would run, run nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// The cache directory (default: `cache/` in the build directory).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<std::path::PathBuf>,
    /// A REAPI remote cache shared with other machines: `grpc://HOST:PORT`,
    /// or `grpcs://HOST:PORT` for TLS (default: `BITZEL_REMOTE_CACHE` from
    /// the configuration, e.g. `conf/local.conf`; an empty URL turns it
    /// off).
    #[arg(long, value_name = "URL")]
    pub remote_cache: Option<String>,
    /// Upload results to the remote cache (`--remote-upload=false` for
    /// read-only use; default: `BITZEL_REMOTE_UPLOAD`, else true).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub remote_upload: Option<bool>,
    /// The remote cache's REAPI instance name (default:
    /// `BITZEL_REMOTE_INSTANCE`, else none).
    #[arg(long, value_name = "NAME")]
    pub remote_instance: Option<String>,
    /// A file holding a bearer token for the remote cache (default:
    /// `BITZEL_REMOTE_TOKEN_FILE`; the environment variable
    /// `BITZEL_REMOTE_TOKEN` holds the token itself).
    #[arg(long, value_name = "FILE")]
    pub remote_token_file: Option<PathBuf>,
    /// PEM certificates to trust for a `grpcs://` remote cache besides the
    /// system's (default: `BITZEL_REMOTE_CA_CERT`).
    #[arg(long, value_name = "FILE")]
    pub remote_ca_cert: Option<PathBuf>,
    /// Seconds before an RPC to the remote cache is given up (and retried
    /// twice); default: `BITZEL_REMOTE_TIMEOUT`, else 10.
    #[arg(long, value_name = "SECONDS")]
    pub remote_timeout: Option<f64>,
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The task, as `TARGET:do_TASK`.
    #[arg(value_name = "TARGET:do_TASK")]
    pub task: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    /// Recipe names or anything they provide; `TARGET:do_TASK` picks a task.
    #[arg(value_name = "TARGET", required = true)]
    pub targets: Vec<String>,
    /// The task to graph (default: `BB_DEFAULT_TASK`, i.e. `build`).
    #[arg(short = 'c', long = "cmd", value_name = "TASK")]
    pub task: Option<String>,
    /// `dot` writes the files; `json` prints the graph on stdout.
    #[arg(long, value_enum, default_value = "dot")]
    pub format: GraphFormat,
    /// Also render `task-depends.svg` with Graphviz `dot`, if installed.
    #[arg(long)]
    pub svg: bool,
    /// Record every task's signature (as `bitbake -S none` does), for
    /// `bitzel explain` to compare with later.
    #[arg(long)]
    pub write_signatures: bool,
}

#[derive(Debug, clap::Args)]
pub struct CacheArgs {
    /// The cache directory (TOPDIR/cache when run from the build
    /// directory).
    #[arg(
        long = "cache",
        value_name = "DIR",
        default_value = "cache",
        global = true
    )]
    pub dir: PathBuf,
    #[command(subcommand)]
    pub command: CacheCommand,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Count blobs, bytes and action-cache entries.
    Stats,
    /// Shrink the cache to SIZE, least recently used results first.
    ///
    /// Deletes action results, least recently used first, until the
    /// results left and every blob they need fit in SIZE, then every blob
    /// no kept result needs, and leftover temporary files. Waits for
    /// running builds to release the cache.
    Gc(GcArgs),
}

#[derive(Debug, clap::Args)]
pub struct GcArgs {
    /// The size limit: bytes, or a number with K, M, G or T (powers of
    /// 1024), as in 500M or 2G.
    #[arg(long, value_name = "SIZE", value_parser = super::cache::parse_size)]
    pub max_size: u64,
}

#[derive(Debug, clap::Args)]
pub struct ParseArgs {
    /// Parallel parsers (default: one per core): this process, and a
    /// worker process for each further one.
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Also list every skipped target (`virtual:VARIANT:FILE` for a
    /// variant) with its reason, one per line.
    #[arg(long)]
    pub skipped: bool,
    /// Evaluate every recipe, ignoring (and not writing) the parse cache
    /// in `cache/bitzel/`.
    #[arg(long)]
    pub no_cache: bool,
    /// Print every target's result (what the task graph reads, base hashes
    /// included) as one JSON object per line, sorted, instead of the
    /// summary: for checking that two ways of parsing agree.
    #[arg(long, hide = true)]
    pub dump_results: bool,
}

#[derive(Debug, clap::Args)]
pub struct EnvArgs {
    /// Evaluate this recipe file (or `virtual:VARIANT:FILE` for a
    /// BBCLASSEXTEND variant), as `bitbake -e -b FILE`.
    #[arg(short = 'b', long = "buildfile", value_name = "FILE")]
    pub buildfile: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// With `--json`: also each task's hashed values (for comparing
    /// signatures with BitBake's signature data).
    #[arg(long, requires = "json")]
    pub sigdata: bool,
    /// Evaluate the configuration even when variables are named.
    #[arg(long, conflicts_with = "buildfile")]
    pub conf: bool,
    /// `[TARGET] [VAR...]`: a recipe name or anything it provides (chosen
    /// as a build chooses it), then variables to print (default: all).
    /// With `-b` or `--conf` every word is a variable.
    #[arg(value_name = "TARGET_OR_VAR")]
    pub words: Vec<String>,
}

impl EnvArgs {
    /// The target named, if any.
    pub fn target(&self) -> Option<&str> {
        if self.buildfile.is_some() || self.conf {
            return None;
        }
        self.words.first().map(String::as_str)
    }

    /// The variables to print (empty: all).
    pub fn variables(&self) -> &[String] {
        match self.target() {
            Some(_) => &self.words[1..],
            None => &self.words,
        }
    }
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
