//! Which files hold definitions: every `*.yaml` / `*.yml` under the repo, minus `feature_store.yaml`,
//! hidden entries, data and build directories, and what `.larderignore` / `.feastignore` list.

use std::path::{Path, PathBuf};

use crate::config::{FEATURE_STORE_YAML, RepoConfig};
use crate::error::{Error, Result};

/// Directories never searched for definitions.
const SKIPPED_DIRS: &[&str] = &["data", "target", "node_modules", "__pycache__"];
/// Files at the repo root listing paths to ignore, one glob per line.
const IGNORE_FILES: &[&str] = &[".larderignore", ".feastignore"];

/// The definition files of the repo, sorted.
pub(crate) fn definition_files(config: &RepoConfig) -> Result<Vec<PathBuf>> {
    let root = &config.repo_path;
    let ignore = IgnoreList::load(root)?;
    let config_path = std::fs::canonicalize(&config.config_path).ok();
    let mut files = Vec::new();
    walk(root, root, &ignore, &mut files)?;
    files.retain(|f| config_path.is_none() || std::fs::canonicalize(f).ok() != config_path);
    files.sort();
    Ok(files)
}

fn walk(root: &Path, dir: &Path, ignore: &IgnoreList, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = path.strip_prefix(root).unwrap_or(&path);
        if name.starts_with('.') || ignore.matches(relative) {
            continue;
        }
        let file_type = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if file_type.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_str()) {
                walk(root, &path, ignore, out)?;
            }
        } else if is_definition_file(&name) && path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

fn is_definition_file(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    (lower.ends_with(".yaml") || lower.ends_with(".yml")) && name != FEATURE_STORE_YAML
}

/// Glob patterns relative to the repo root: `*` matches within one path component, `**` any number of
/// components, `?` one character. A pattern matching a directory ignores everything under it.
#[derive(Debug, Default)]
pub(crate) struct IgnoreList {
    patterns: Vec<Vec<String>>,
}

impl IgnoreList {
    /// Reads `.larderignore` and `.feastignore` at `root`, if present.
    pub(crate) fn load(root: &Path) -> Result<Self> {
        let mut text = String::new();
        for name in IGNORE_FILES {
            let path = root.join(name);
            if path.is_file() {
                text.push_str(&std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?);
                text.push('\n');
            }
        }
        Ok(Self::parse(&text))
    }

    /// Parses one pattern per line; blank lines and `#` comments are skipped.
    pub(crate) fn parse(text: &str) -> Self {
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| l.trim_start_matches("./").trim_matches('/'))
            .filter(|l| !l.is_empty())
            .map(|l| {
                l.split('/')
                    .filter(|c| !c.is_empty() && *c != ".")
                    .map(String::from)
                    .collect()
            })
            .collect();
        IgnoreList { patterns }
    }

    /// Whether `relative` (a path under the root) is ignored.
    pub(crate) fn matches(&self, relative: &Path) -> bool {
        let components: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        self.patterns
            .iter()
            .any(|p| match_components(p, &components))
    }
}

fn match_components(pattern: &[String], path: &[String]) -> bool {
    match (pattern.first(), path.first()) {
        (None, _) => path.is_empty(),
        (Some(p), _) if p == "**" => {
            (0..=path.len()).any(|skip| match_components(&pattern[1..], &path[skip..]))
        }
        (Some(_), None) => false,
        (Some(p), Some(c)) => {
            match_glob(p.as_bytes(), c.as_bytes()) && match_components(&pattern[1..], &path[1..])
        }
    }
}

/// Matches one path component against a glob with `*` and `?`.
fn match_glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, _) => text.is_empty(),
        (Some(b'*'), _) => (0..=text.len()).any(|skip| match_glob(&pattern[1..], &text[skip..])),
        (Some(_), None) => false,
        (Some(b'?'), Some(_)) => match_glob(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) => p == t && match_glob(&pattern[1..], &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignored(patterns: &str, path: &str) -> bool {
        IgnoreList::parse(patterns).matches(Path::new(path))
    }

    #[test]
    fn globs() {
        assert!(ignored("old.yaml", "old.yaml"));
        assert!(!ignored("old.yaml", "sub/old.yaml"));
        assert!(ignored("*.yml", "x.yml"));
        assert!(!ignored("*.yml", "sub/x.yml"));
        assert!(ignored("**/*.yml", "sub/deeper/x.yml"));
        assert!(ignored("**/*.yml", "x.yml"));
        assert!(ignored("# comment\n\nexperiments/", "experiments"));
        assert!(ignored("sub/**/draft?.yaml", "sub/a/b/draft1.yaml"));
        assert!(!ignored("sub/**/draft?.yaml", "sub/a/b/draft10.yaml"));
        assert!(!ignored("# old.yaml", "old.yaml"));
    }

    #[test]
    fn walks_the_repo() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "feature_store.yaml",
            "a.yaml",
            "b.yml",
            "notes.txt",
            ".hidden.yaml",
            ".git/x.yaml",
            "data/d.yaml",
            "target/t.yaml",
            "node_modules/n.yaml",
            "sub/c.YAML",
            "sub/__pycache__/p.yaml",
            "experiments/e.yaml",
            "sub/skip_me.yaml",
        ] {
            let path = root.join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        std::fs::write(root.join(".feastignore"), "experiments\n").unwrap();
        std::fs::write(root.join(".larderignore"), "**/skip_*.yaml\n").unwrap();
        let text = "project: p\nregistry: r.db\n";
        let config = RepoConfig::parse(text, &root.join(FEATURE_STORE_YAML), root).unwrap();
        let files = definition_files(&config).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.strip_prefix(root).unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["a.yaml", "b.yml", "sub/c.YAML"]);
    }
}
