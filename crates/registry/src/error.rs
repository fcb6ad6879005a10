//! The error type of `larder-registry`: every variant names the registry file or object involved and
//! says what to do about it.

use std::path::PathBuf;

/// A result whose error is [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while reading, changing or writing a registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An object asked for by name is not in the project.
    #[error(
        "{kind} `{name}` does not exist in project `{project}`; available: {}",
        list_or_none(.available)
    )]
    NotFound {
        /// The kind of object, e.g. `feature view`.
        kind: &'static str,
        /// The name asked for.
        name: String,
        /// The project searched.
        project: String,
        /// The names of that kind that do exist in the project, sorted.
        available: Vec<String>,
    },
    /// The registry file holds bytes that are not a serialized Feast `Registry` message.
    #[error(
        "`{}` is not a Feast registry file: {source}; restore it from a backup, or move it away and \
         run `apply` again to create a fresh registry",
        path.display()
    )]
    Corrupt {
        /// The registry file.
        path: PathBuf,
        /// What the protobuf decoder found.
        source: prost::DecodeError,
    },
    /// Reading or writing the registry file (or its directory) failed.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What Larder was doing, e.g. `read the registry file`.
        action: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The registry's lock file could not be locked.
    #[error(
        "cannot lock `{}`: {source}; check that the directory is writable and that no stuck process \
         holds the lock",
        path.display()
    )]
    Lock {
        /// The lock file (`<registry>.lock`).
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The registry location or object kind is one Larder does not handle.
    #[error("{what} is not supported yet{}", help_suffix(.help))]
    Unsupported {
        /// What is not supported.
        what: String,
        /// What to use instead, or empty.
        help: String,
    },
    /// A background registry task panicked or was cancelled.
    #[error("registry task for `{location}` did not finish: {source}")]
    Task {
        /// The registry location.
        location: String,
        /// The join error.
        source: tokio::task::JoinError,
    },
    /// An error from `larder-core` (definitions, encodings) raised inside a registry change.
    #[error(transparent)]
    Core(#[from] larder_core::Error),
}

impl Error {
    /// Builds an [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            action,
            source,
        }
    }
}

fn help_suffix(help: &str) -> String {
    if help.is_empty() {
        String::new()
    } else {
        format!("; {help}")
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_lists_what_exists() {
        let e = Error::NotFound {
            kind: "feature view",
            name: "x".into(),
            project: "demo".into(),
            available: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            e.to_string(),
            "feature view `x` does not exist in project `demo`; available: a, b"
        );
        let e = Error::NotFound {
            kind: "entity",
            name: "x".into(),
            project: "p".into(),
            available: vec![],
        };
        assert_eq!(
            e.to_string(),
            "entity `x` does not exist in project `p`; available: none"
        );
    }

    #[test]
    fn unsupported_says_not_yet() {
        let e = Error::Unsupported {
            what: "registry path `s3://b/r.db`".into(),
            help: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "registry path `s3://b/r.db` is not supported yet"
        );
        let e = Error::Unsupported {
            what: "x".into(),
            help: "use y".into(),
        };
        assert_eq!(e.to_string(), "x is not supported yet; use y");
    }
}
