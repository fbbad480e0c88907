//! What a task file (`bitzel __run-task`'s input) costs for a real recipe:
//! run from a build directory,
//!
//!   cargo run --release --example task_file -- RECIPE.bb [do_TASK [OUT]]
//!
//! evaluates the recipe, captures the task's datastore as a task file,
//! writes it, reads it back, and prints the file's size and each step's
//! time. With OUT the file is kept there, for timing `bitzel __run-task
//! OUT` (which runs the task, outside any sandbox).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use bitzel::datastore::python::EmbeddedPython;
use bitzel::datastore::{ConfigInput, Evaluator, FsLoader};
use bitzel::recipe::target::TargetEvaluator;
use bitzel::scheduler::runner::TaskFile;

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let recipe = args
        .next()
        .ok_or("usage: task_file RECIPE.bb [do_TASK [OUT]]")?;
    let task = args.next().unwrap_or_else(|| "do_compile".to_string());
    let keep = args.next();
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let python = EmbeddedPython::start()?;
    let evaluator = Evaluator::new(Arc::new(FsLoader), Some(python));
    let input = ConfigInput {
        topdir: ConfigInput::find_topdir(&cwd),
        env: std::env::vars().collect(),
    };
    let started = Instant::now();
    let mut targets = TargetEvaluator::new(&evaluator, &input);
    let mut d = targets.evaluate(&recipe)?;
    println!(
        "configuration and recipe evaluated in {:.1} ms ({} variables)",
        started.elapsed().as_secs_f64() * 1e3,
        d.keys().len()
    );
    let local = d.create_copy();
    // The first capture of a process also compiles bitzel's python
    // modules (once per build); the second is what every task costs.
    let started = Instant::now();
    TaskFile::capture(&local, &recipe, &task, None)?;
    let first = started.elapsed();
    let started = Instant::now();
    let mut file = TaskFile::capture(&local, &recipe, &task, None)?;
    let capture = started.elapsed();
    // As `bitzel build` does: the libraries' bytecode, once per build.
    if !file.pylibs.is_empty() {
        let pycache = cwd.join("cache/bitzel/pycache");
        std::fs::create_dir_all(&pycache).map_err(|e| e.to_string())?;
        let started = Instant::now();
        bitzel::scheduler::runner::prepare_bytecode(&pycache, &file.pylibs)?;
        println!(
            "python libraries compiled into {} in {:.1} ms",
            pycache.display(),
            started.elapsed().as_secs_f64() * 1e3
        );
        file.pycache = Some(pycache.display().to_string());
    }
    let path = keep
        .clone()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("bitzel-task-file-{}", std::process::id()))
        });
    let started = Instant::now();
    file.write(&path)?;
    let write = started.elapsed();
    let size = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
    let started = Instant::now();
    let read = TaskFile::read(Path::new(&path))?;
    let read_time = started.elapsed();
    if keep.is_some() {
        println!("kept {}", path.display());
    } else {
        let _ = std::fs::remove_file(&path);
    }
    println!(
        "task file: {size} bytes, {} python libraries; capture {:.1} ms (first {:.1} ms), write {:.1} ms, read {:.1} ms",
        read.pylibs.len(),
        capture.as_secs_f64() * 1e3,
        first.as_secs_f64() * 1e3,
        write.as_secs_f64() * 1e3,
        read_time.as_secs_f64() * 1e3
    );
    Ok(())
}
