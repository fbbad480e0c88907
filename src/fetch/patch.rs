//! `do_patch`: the SRC_URI entries that are patches, applied in SRC_URI
//! order to the unpacked sources with the `patch` tool.
//!
//! An entry is a patch when its name ends in `.patch` or `.diff`, or it
//! says `apply=yes` (`apply=no` excludes it). Parameters: `striplevel=`
//! (default 1; `pnum=` is the old name), `patchdir=` (relative to `S`,
//! default `S`). Its file is where `do_unpack` put it: `UNPACKDIR` (plus
//! `subdir=`) and, for `file://`, the URL's own directories.
//!
//! Each patch is first tried with `--dry-run`, so a patch that does not
//! apply leaves the tree as it was, and the error names the patch and
//! shows `patch`'s output. What was applied is listed in
//! `S/.applied-patches` (`FILE STRIPLEVEL PATCHDIR` per line); when the
//! step runs again on the same tree, those are first reverted, last one
//! first.
//!
//! **Invariant:** after a failure the tree holds exactly the patches the
//! list names.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::url::Url;
use super::{FetchError, to_boolean};

/// The name of the list of applied patches, in `S`.
pub const APPLIED_LIST: &str = ".applied-patches";

/// One patch to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchStep {
    /// The patch's file name, for messages.
    pub name: String,
    /// Its file relative to `UNPACKDIR`.
    pub file: String,
    pub striplevel: String,
    /// The directory it applies in, relative to `S` (or absolute).
    pub patchdir: String,
}

/// The patches among SRC_URI's `urls`, in order.
pub fn plan(urls: &[String]) -> Result<Vec<PatchStep>, FetchError> {
    let mut steps = Vec::new();
    for text in urls {
        let url = Url::parse(text)?;
        let name = url
            .params
            .get("downloadfilename")
            .unwrap_or_else(|| url.basename())
            .to_string();
        let apply = match url.params.get("apply") {
            Some(value) => to_boolean(Some(value), false).map_err(|e| FetchError::Parameter {
                url: text.clone(),
                message: format!("apply=: {e}"),
            })?,
            None => name.ends_with(".patch") || name.ends_with(".diff"),
        };
        if !apply {
            continue;
        }
        let relative = if url.scheme == "file" {
            url.path.trim_start_matches('/').to_string()
        } else {
            name.clone()
        };
        let file = match url.params.get("subdir") {
            Some(subdir) if !subdir.is_empty() => {
                format!("{}/{relative}", subdir.trim_end_matches('/'))
            }
            _ => relative,
        };
        let striplevel = url
            .params
            .get("striplevel")
            .or_else(|| url.params.get("pnum"))
            .unwrap_or("1")
            .to_string();
        if striplevel.is_empty() || !striplevel.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FetchError::Parameter {
                url: text.clone(),
                message: format!("striplevel must be a number, not `{striplevel}`"),
            });
        }
        steps.push(PatchStep {
            name,
            file,
            striplevel,
            patchdir: url.params.get("patchdir").unwrap_or(".").to_string(),
        });
    }
    Ok(steps)
}

/// Where patches go and where they are.
#[derive(Debug, Clone)]
pub struct PatchTree<'a> {
    /// `S`.
    pub source_dir: &'a Path,
    /// `UNPACKDIR`.
    pub unpack_dir: &'a Path,
    /// `PATH` to find `patch` on (the process's if `None`).
    pub tool_path: Option<&'a str>,
}

impl PatchTree<'_> {
    fn patch_command(&self, dir: &Path, striplevel: &str, file: &Path) -> Command {
        let mut command = Command::new("patch");
        command
            .arg(format!("-p{striplevel}"))
            .arg("-d")
            .arg(dir)
            .arg("-i")
            .arg(file)
            .args(["--batch", "--no-backup-if-mismatch"])
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        if let Some(path) = self.tool_path {
            command.env("PATH", path);
        }
        command
    }

    fn run(&self, name: &str, mut command: Command, what: &str) -> Result<String, FetchError> {
        let output = command.output().map_err(|e| FetchError::Patch {
            patch: name.to_string(),
            message: format!("cannot run `patch` for {name}: {e} (is patch on the PATH?)"),
        })?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if output.status.success() {
            Ok(text)
        } else {
            Err(FetchError::Patch {
                patch: name.to_string(),
                message: format!("{what} {name} failed ({}):\n{text}", output.status),
            })
        }
    }

    fn dir_of(&self, patchdir: &str) -> PathBuf {
        self.source_dir.join(patchdir)
    }

    /// Reverts what the list in `S` names, then applies `steps` in order;
    /// returns `patch`'s output for the log.
    pub fn apply(&self, steps: &[PatchStep]) -> Result<Vec<String>, FetchError> {
        let list = self.source_dir.join(APPLIED_LIST);
        let mut log = Vec::new();
        if let Ok(text) = std::fs::read_to_string(&list) {
            let applied: Vec<Vec<&str>> = text
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>())
                .filter(|w| w.len() == 3)
                .collect();
            for words in applied.iter().rev() {
                let (file, strip, dir) = (words[0], words[1], words[2]);
                let name = Path::new(file)
                    .file_name()
                    .map_or(file.to_string(), |n| n.to_string_lossy().into_owned());
                log.push(format!("Reverting {name}"));
                let mut command =
                    self.patch_command(&self.dir_of(dir), strip, &self.unpack_dir.join(file));
                command.arg("-R");
                log.push(self.run(&name, command, "reverting")?);
            }
            std::fs::remove_file(&list).map_err(|e| FetchError::Patch {
                patch: list.display().to_string(),
                message: format!("cannot remove {}: {e}", list.display()),
            })?;
        }
        for step in steps {
            let file = self.unpack_dir.join(&step.file);
            if !file.is_file() {
                return Err(FetchError::Patch {
                    patch: step.name.clone(),
                    message: format!(
                        "the patch {} is not at {} (did do_unpack run?)",
                        step.name,
                        file.display()
                    ),
                });
            }
            let dir = self.dir_of(&step.patchdir);
            log.push(format!("Applying {}", step.name));
            let mut dry = self.patch_command(&dir, &step.striplevel, &file);
            dry.args(["--fuzz=0", "--dry-run"]);
            self.run(&step.name, dry, "applying")?;
            let mut real = self.patch_command(&dir, &step.striplevel, &file);
            real.arg("--fuzz=0");
            log.push(self.run(&step.name, real, "applying")?);
            let line = format!("{} {} {}\n", step.file, step.striplevel, step.patchdir);
            use std::io::Write;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&list)
                .and_then(|mut f| f.write_all(line.as_bytes()))
                .map_err(|e| FetchError::Patch {
                    patch: step.name.clone(),
                    message: format!("cannot record it in {}: {e}", list.display()),
                })?;
        }
        Ok(log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn plans_patches_in_order_with_their_parameters() {
        let steps = plan(&urls(&[
            "file://a.c",
            "file://fix/0001-one.patch",
            "https://h/x-2.diff;subdir=p;striplevel=0;patchdir=lib",
            "file://notes.txt;apply=yes;pnum=2",
            "file://keep.patch;apply=no",
        ]))
        .unwrap();
        let got: Vec<_> = steps
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.file.as_str(),
                    s.striplevel.as_str(),
                    s.patchdir.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("0001-one.patch", "fix/0001-one.patch", "1", "."),
                ("x-2.diff", "p/x-2.diff", "0", "lib"),
                ("notes.txt", "notes.txt", "2", "."),
            ]
        );
        assert!(plan(&urls(&["file://a.patch;striplevel=x"])).is_err());
        assert!(plan(&urls(&["file://a.patch;apply=perhaps"])).is_err());
    }

    #[test]
    fn applies_in_order_fails_cleanly_and_reverts_on_rerun() {
        if Command::new("patch").arg("--version").output().is_err() {
            eprintln!("skipped: no patch tool");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path().join("src");
        std::fs::create_dir_all(s.join("lib")).unwrap();
        std::fs::write(s.join("lib/f.txt"), "one\n").unwrap();
        let unpack = dir.path();
        // Two patches that only apply one after the other.
        std::fs::write(
            unpack.join("1.patch"),
            "--- a/f.txt\n+++ b/f.txt\n@@ -1 +1 @@\n-one\n+two\n",
        )
        .unwrap();
        std::fs::write(
            unpack.join("2.patch"),
            "--- f.txt\n+++ f.txt\n@@ -1 +1 @@\n-two\n+three\n",
        )
        .unwrap();
        let tree = PatchTree {
            source_dir: &s,
            unpack_dir: unpack,
            tool_path: None,
        };
        let steps = plan(&urls(&[
            "file://1.patch;patchdir=lib",
            "file://2.patch;patchdir=lib;striplevel=0",
        ]))
        .unwrap();
        tree.apply(&steps).unwrap();
        assert_eq!(
            std::fs::read_to_string(s.join("lib/f.txt")).unwrap(),
            "three\n"
        );
        // Again on the same tree: reverted first, so it applies again.
        tree.apply(&steps).unwrap();
        assert_eq!(
            std::fs::read_to_string(s.join("lib/f.txt")).unwrap(),
            "three\n"
        );
        // In the wrong order the second fails, naming itself, and the tree
        // keeps only what the list says.
        let wrong = plan(&urls(&[
            "file://2.patch;patchdir=lib;striplevel=0",
            "file://1.patch;patchdir=lib",
        ]))
        .unwrap();
        let err = tree.apply(&wrong).unwrap_err().to_string();
        assert!(err.contains("2.patch"), "{err}");
        assert!(err.contains("FAILED") || err.contains("failed"), "{err}");
        assert_eq!(
            std::fs::read_to_string(s.join("lib/f.txt")).unwrap(),
            "one\n"
        );
        assert!(
            !s.join(APPLIED_LIST).exists()
                || std::fs::read_to_string(s.join(APPLIED_LIST))
                    .unwrap()
                    .is_empty()
        );
    }
}
