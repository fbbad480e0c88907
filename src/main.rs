//! The `bitzel` binary: parse arguments, run, pick the exit code.

fn main() -> std::process::ExitCode {
    let outcome = bitzel::cli::run();
    std::process::ExitCode::from(outcome as u8)
}
