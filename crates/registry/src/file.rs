//! [`FileRegistry`]: the registry as one serialized `feast.core.Registry` message in a file (no
//! framing), byte-compatible with Feast's `registry.db`.
//!
//! Commits hold an exclusive OS lock on `<path>.lock` across read-modify-write, so concurrent
//! processes never lose an update, and replace the file atomically (temp file in the same directory,
//! fsync, rename, fsync of the directory), so readers see the old or the new contents, never a mix.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use fs2::FileExt;
use larder_core::proto::core as pc;
use larder_core::time::to_proto_timestamp;
use prost::Message;

use crate::error::{Error, Result};
use crate::{Registry, RegistryChange};

/// Feast's `REGISTRY_SCHEMA_VERSION`, written on every commit.
pub const REGISTRY_SCHEMA_VERSION: &str = "1";

/// A registry kept in a local file. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct FileRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    cache_ttl: Duration,
    cache: Mutex<Option<Cached>>,
}

/// The last contents read or written, and the file identity they came from.
struct Cached {
    registry: Arc<pc::Registry>,
    loaded: Instant,
    stamp: Option<Stamp>,
}

/// What a cheap `stat` tells about the file: a commit (a rename of a new file) changes the inode,
/// and any in-place write by another tool changes the length or modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Self {
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode: inode(meta),
        }
    }
}

#[cfg(unix)]
fn inode(meta: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_meta: &fs::Metadata) -> u64 {
    0
}

impl FileRegistry {
    /// A registry in the file at `path`. Snapshots are cached for `cache_ttl` (zero: until the file
    /// changes, as Feast's `cache_ttl_seconds: 0`); a changed file is always re-read. Nothing is read
    /// or created until first use; a missing file reads as an empty registry.
    pub fn new(path: PathBuf, cache_ttl: Duration) -> Self {
        FileRegistry {
            inner: Arc::new(Inner {
                path,
                cache_ttl,
                cache: Mutex::new(None),
            }),
        }
    }

    /// The registry file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The lock file taken during commits: `<path>.lock`.
    pub fn lock_path(&self) -> PathBuf {
        self.inner.lock_path()
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|source| Error::Task {
                location: self.location(),
                source,
            })?
    }
}

impl fmt::Debug for FileRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileRegistry")
            .field("path", &self.inner.path)
            .field("cache_ttl", &self.inner.cache_ttl)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Registry for FileRegistry {
    async fn snapshot(&self) -> Result<Arc<pc::Registry>> {
        self.blocking(Inner::snapshot).await
    }

    async fn refresh(&self) -> Result<Arc<pc::Registry>> {
        self.blocking(Inner::refresh).await
    }

    async fn commit(&self, change: RegistryChange) -> Result<Arc<pc::Registry>> {
        self.blocking(move |inner| inner.commit(change)).await
    }

    fn location(&self) -> String {
        self.inner.path.display().to_string()
    }
}

impl Inner {
    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    fn snapshot(&self) -> Result<Arc<pc::Registry>> {
        let stamp = stat(&self.path)?;
        if let Some(cached) = self.cache_lock().as_ref() {
            let fresh = self.cache_ttl.is_zero() || cached.loaded.elapsed() < self.cache_ttl;
            if fresh && cached.stamp == stamp {
                return Ok(cached.registry.clone());
            }
        }
        self.refresh()
    }

    fn refresh(&self) -> Result<Arc<pc::Registry>> {
        let (registry, stamp) = read(&self.path)?;
        Ok(self.remember(registry, stamp))
    }

    fn commit(&self, change: RegistryChange) -> Result<Arc<pc::Registry>> {
        let dir = parent_dir(&self.path);
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create the registry directory", e))?;
        let _lock = self.lock_exclusive()?;
        let (mut registry, _) = read(&self.path)?;
        change(&mut registry)?;
        registry.version_id = uuid::Uuid::new_v4().to_string();
        registry.last_updated = Some(to_proto_timestamp(chrono::Utc::now()));
        registry.registry_schema_version = REGISTRY_SCHEMA_VERSION.to_string();
        let stamp = write_atomic(&self.path, &registry.encode_to_vec())?;
        tracing::debug!(path = %self.path.display(), version_id = %registry.version_id, "registry committed");
        Ok(self.remember(registry, Some(stamp)))
    }

    /// Takes the exclusive lock on `<path>.lock`; it is released when the returned file is dropped.
    fn lock_exclusive(&self) -> Result<File> {
        let path = self.lock_path();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| Error::Lock {
                path: path.clone(),
                source,
            })?;
        FileExt::lock_exclusive(&file).map_err(|source| Error::Lock { path, source })?;
        Ok(file)
    }

    fn remember(&self, registry: pc::Registry, stamp: Option<Stamp>) -> Arc<pc::Registry> {
        let registry = Arc::new(registry);
        *self.cache_lock() = Some(Cached {
            registry: registry.clone(),
            loaded: Instant::now(),
            stamp,
        });
        registry
    }

    fn cache_lock(&self) -> std::sync::MutexGuard<'_, Option<Cached>> {
        // The cache holds plain data: a panic elsewhere cannot leave it inconsistent.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The file's stamp, or `None` when it does not exist.
fn stat(path: &Path) -> Result<Option<Stamp>> {
    match fs::metadata(path) {
        Ok(meta) => Ok(Some(Stamp::of(&meta))),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, "inspect the registry file", e)),
    }
}

/// Reads and decodes the registry file; a missing file is an empty registry. The stamp comes from
/// the open handle, so it always describes the bytes read.
fn read(path: &Path) -> Result<(pc::Registry, Option<Stamp>)> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok((pc::Registry::default(), None)),
        Err(e) => return Err(Error::io(path, "open the registry file", e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| Error::io(path, "inspect the registry file", e))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, "read the registry file", e))?;
    let registry = pc::Registry::decode(bytes.as_slice()).map_err(|source| Error::Corrupt {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((registry, Some(Stamp::of(&meta))))
}

/// Replaces `path` with `bytes` atomically: a temp file in the same directory (with the old file's
/// permissions), fsync, rename over `path`, fsync of the directory. Returns the new file's stamp.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<Stamp> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let result = write_temp(path, &tmp, bytes).and_then(|stamp| {
        fs::rename(&tmp, path).map_err(|e| Error::io(path, "replace the registry file", e))?;
        Ok(stamp)
    });
    if result.is_err() {
        // Best effort: the temp file is garbage either way, and the original error matters more.
        let _ = fs::remove_file(&tmp);
    }
    let stamp = result?;
    sync_dir(dir)?;
    Ok(stamp)
}

fn write_temp(path: &Path, tmp: &Path, bytes: &[u8]) -> Result<Stamp> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(|e| Error::io(tmp, "create a temporary registry file", e))?;
    if let Ok(old) = fs::metadata(path) {
        fs::set_permissions(tmp, old.permissions())
            .map_err(|e| Error::io(tmp, "set permissions of", e))?;
    }
    file.write_all(bytes)
        .map_err(|e| Error::io(tmp, "write the registry to", e))?;
    file.sync_all()
        .map_err(|e| Error::io(tmp, "flush the registry to disk in", e))?;
    let meta = file.metadata().map_err(|e| Error::io(tmp, "inspect", e))?;
    Ok(Stamp::of(&meta))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, "flush the registry directory to disk", e))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(name: &str) -> pc::Entity {
        pc::Entity {
            spec: Some(pc::EntitySpecV2 {
                name: name.into(),
                project: "p".into(),
                ..Default::default()
            }),
            meta: None,
        }
    }

    fn add(name: &'static str) -> RegistryChange {
        Box::new(move |r: &mut pc::Registry| {
            r.entities.push(entity(name));
            Ok(())
        })
    }

    #[tokio::test]
    async fn missing_file_is_empty_and_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/registry.db");
        let reg = FileRegistry::new(path.clone(), Duration::from_secs(600));
        assert_eq!(*reg.snapshot().await.unwrap(), pc::Registry::default());
        assert!(!path.exists());
        assert!(!path.parent().unwrap().exists());
    }

    #[tokio::test]
    async fn commit_stamps_and_creates_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/registry.db");
        let reg = FileRegistry::new(path.clone(), Duration::ZERO);
        let first = reg.commit(add("a")).await.unwrap();
        assert_eq!(first.registry_schema_version, "1");
        assert_eq!(
            uuid::Uuid::parse_str(&first.version_id)
                .unwrap()
                .get_version_num(),
            4
        );
        assert!(first.last_updated.is_some());
        let second = reg.commit(add("b")).await.unwrap();
        assert_ne!(first.version_id, second.version_id);
        let on_disk = pc::Registry::decode(fs::read(&path).unwrap().as_slice()).unwrap();
        assert_eq!(on_disk, *second);
        assert_eq!(on_disk.entities.len(), 2);
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[tokio::test]
    async fn cache_is_reused_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.db");
        let reg = FileRegistry::new(path.clone(), Duration::ZERO);
        reg.commit(add("a")).await.unwrap();
        let a = reg.snapshot().await.unwrap();
        let b = reg.snapshot().await.unwrap();
        assert!(
            Arc::ptr_eq(&a, &b),
            "an unchanged file is served from the cache"
        );
        // Another writer (here: a second instance) replaces the file.
        let other = FileRegistry::new(path.clone(), Duration::ZERO);
        other.commit(add("b")).await.unwrap();
        let c = reg.snapshot().await.unwrap();
        assert_eq!(
            c.entities.len(),
            2,
            "a changed file is re-read even with ttl 0"
        );
    }

    #[tokio::test]
    async fn expired_cache_is_reread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.db");
        let reg = FileRegistry::new(path, Duration::from_nanos(1));
        reg.commit(add("a")).await.unwrap();
        let a = reg.snapshot().await.unwrap();
        std::thread::sleep(Duration::from_millis(2));
        let b = reg.snapshot().await.unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(a, b);
    }

    #[tokio::test]
    async fn refresh_bypasses_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.db");
        let reg = FileRegistry::new(path, Duration::from_secs(600));
        reg.commit(add("a")).await.unwrap();
        let a = reg.snapshot().await.unwrap();
        let b = reg.refresh().await.unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(
            Arc::ptr_eq(&b, &reg.snapshot().await.unwrap()),
            "refresh updates the cache"
        );
    }

    #[test]
    fn lock_path_appends_lock() {
        let reg = FileRegistry::new(PathBuf::from("/x/registry.db"), Duration::ZERO);
        assert_eq!(reg.lock_path(), PathBuf::from("/x/registry.db.lock"));
        assert_eq!(reg.location(), "/x/registry.db");
    }
}
