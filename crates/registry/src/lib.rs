//! `larder-registry`: the registry, i.e. Feast's `Registry` protobuf holding every project's
//! definitions and materialization history, and the diff that turns definitions into a [`Plan`].
//!
//! [`Registry`] is the storage trait: read a snapshot, or commit a change atomically under an
//! exclusive lock. [`FileRegistry`] keeps one serialized `Registry` message in a file, byte-compatible
//! with Feast's `registry.db`. [`view::ProjectView`] reads typed objects out of a snapshot.
//! [`diff::Plan`] is the apply diff: computed from a snapshot and a repo's definitions, printed as
//! Feast prints it, and applied inside a commit. [`open`] picks the implementation from
//! `feature_store.yaml`'s `registry` settings.
//!
//! ```
//! # async fn demo() -> larder_registry::Result<()> {
//! use larder_registry::{FileRegistry, Registry, view::ProjectView};
//! let registry = FileRegistry::new("data/registry.db".into(), std::time::Duration::from_secs(600));
//! let snapshot = registry.snapshot().await?;
//! for view in ProjectView::new(&snapshot, "demo").feature_views() {
//!     println!("{} ({} features)", view.name, view.features.len());
//! }
//! # Ok(()) }
//! ```

pub mod diff;
pub mod error;
pub mod file;
mod objects;
pub mod view;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use larder_core::config::{RegistryConfig, RegistryType};
use larder_core::proto::core as pc;

pub use diff::{Change, ObjectDiff, ObjectKind, Plan, Transition};
pub use error::{Error, Result};
pub use file::FileRegistry;
pub use view::ProjectView;

/// A shared, dynamically typed registry.
pub type RegistryRef = Arc<dyn Registry>;

/// A change to run against the freshest registry contents inside [`Registry::commit`].
pub type RegistryChange = Box<dyn FnOnce(&mut pc::Registry) -> Result<()> + Send>;

/// Where the registry lives. Implementations serialize commits (no lost updates between processes)
/// and make them atomic (a reader sees the old or the new contents, never a mix).
#[async_trait]
pub trait Registry: Send + Sync + Debug + 'static {
    /// The contents, all projects. May come from a cache younger than the configured ttl.
    async fn snapshot(&self) -> Result<Arc<pc::Registry>>;

    /// The contents read fresh from storage (bypassing and refreshing the cache).
    async fn refresh(&self) -> Result<Arc<pc::Registry>>;

    /// Applies `change` to the freshest contents under an exclusive lock, stamps `version_id`,
    /// `last_updated` and `registry_schema_version`, and commits atomically. If `change` fails,
    /// nothing is written. Returns the committed contents.
    async fn commit(&self, change: RegistryChange) -> Result<Arc<pc::Registry>>;

    /// A human-readable location (path or URL without password), for messages.
    fn location(&self) -> String;
}

/// The registry `feature_store.yaml` configures: a [`FileRegistry`] for a local `registry` path.
/// Remote paths (`gs://`, `s3://`, ...), SQL and other registry types are [`Error::Unsupported`].
pub fn open(config: &RegistryConfig) -> Result<RegistryRef> {
    let use_file = "use a local registry file, e.g. `registry: data/registry.db`".to_string();
    match &config.registry_type {
        RegistryType::File if !config.path.contains("://") => Ok(Arc::new(FileRegistry::new(
            config.path.clone().into(),
            config.cache_ttl,
        ))),
        RegistryType::File => Err(Error::Unsupported {
            what: format!(
                "registry path `{}` (only local files are read)",
                config.path
            ),
            help: use_file,
        }),
        RegistryType::Sql => Err(Error::Unsupported {
            what: "the sql registry (`registry_type: sql`)".into(),
            help: use_file,
        }),
        RegistryType::Other(kind) => Err(Error::Unsupported {
            what: format!("registry_type `{kind}`"),
            help: use_file,
        }),
    }
}
