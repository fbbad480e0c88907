//! The `bitzel` binary: parse arguments, run, pick the exit code. Inside a
//! task's sandbox the same binary runs the task (`bitzel __run-task FILE`,
//! see `bitzel::scheduler::runner`), a command not meant for users.

fn main() -> std::process::ExitCode {
    let mut args = std::env::args_os().skip(1);
    if args
        .next()
        .is_some_and(|a| a == bitzel::scheduler::runner::SUBCOMMAND)
    {
        let status = match args.next() {
            Some(file) => bitzel::scheduler::runner::main(std::path::Path::new(&file)),
            None => 2,
        };
        return std::process::ExitCode::from(status.clamp(0, 255) as u8);
    }
    let outcome = bitzel::cli::run();
    std::process::ExitCode::from(outcome as u8)
}
