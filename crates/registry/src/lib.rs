//! `larder-registry`: the registry, i.e. Feast's `Registry` protobuf holding every project's
//! definitions and materialization history, and the diff that turns definitions into a [`Plan`].
//!
//! [`Registry`] is the storage trait: read a snapshot, or commit a change atomically under an
//! exclusive lock. [`FileRegistry`] keeps one serialized `Registry` message in a file, byte-compatible
//! with Feast's `registry.db`. [`view::ProjectView`] reads typed objects out of a snapshot.

pub mod diff;
pub mod error;
pub mod file;
pub mod view;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use larder_core::proto::core as pc;

pub use diff::{Change, ObjectDiff, Plan};
pub use error::{Error, Result};
pub use file::FileRegistry;

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
