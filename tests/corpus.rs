//! Our own metadata as a corpus: the demo layer and every `ok` test file
//! parse without errors and round-trip. A minimum file count makes a wrong
//! working directory fail instead of pass.

use std::path::{Path, PathBuf};

use bitzel::syntax::{self, FileKind};

fn metadata_files(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && FileKind::from_path(e.path()).is_some())
        .map(|e| e.into_path())
        .collect()
}

#[test]
fn our_metadata_parses_cleanly_and_round_trips() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = metadata_files(&root.join("recipes"));
    let n_recipes = files.len();
    files.extend(metadata_files(&root.join("tests/data/parser/ok")));
    files.extend(metadata_files(&root.join("tests/data/conf/ok")));
    assert!(n_recipes >= 6, "only {n_recipes} files under recipes/");
    assert!(files.len() >= 30, "only {} files", files.len());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let parse = syntax::parse(FileKind::from_path(&path).unwrap(), &text);
        assert_eq!(parse.syntax_node().to_string(), text, "{}", path.display());
        assert!(
            parse.errors().is_empty(),
            "{}: {:?}",
            path.display(),
            parse.errors()
        );
    }
}
