//! [`FeatureStore`]: the one façade every entry point (CLI, HTTP server, library) goes through.

use std::path::Path;
use std::sync::Arc;

use larder_core::config::{OfflineStoreConfig, OnlineStoreConfig, RedisType, RepoConfig};
use larder_core::model::{FeatureService, FeatureView};
use larder_core::proto::core as pc;
use larder_offline::OfflineStoreRef;
use larder_online::OnlineStoreRef;
use larder_registry::RegistryRef;
use larder_registry::view::ProjectView;
use tokio::sync::OnceCell;

use crate::error::{Error, Result};
use crate::materialize::MaterializationLocks;

/// A feature store: a repo's configuration with its registry, online store and offline store.
///
/// Backends are opened lazily, so commands that only read the registry never connect to Redis.
#[derive(Debug, Clone)]
pub struct FeatureStore {
    inner: Arc<Inner>,
    /// The online store: shared by clones, and by [`FeatureStore::for_current_runtime`]'s handles
    /// unless the store needs a connection of its own per runtime.
    online: Arc<OnceCell<OnlineStoreRef>>,
}

#[derive(Debug)]
struct Inner {
    config: RepoConfig,
    registry: RegistryRef,
    offline: OnceCell<OfflineStoreRef>,
    pub(crate) materializing: MaterializationLocks,
}

impl FeatureStore {
    /// Opens the repo whose `feature_store.yaml` is at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        Self::from_config(RepoConfig::load(path)?)
    }

    /// A store for an already loaded configuration.
    pub fn from_config(config: RepoConfig) -> Result<Self> {
        let registry: RegistryRef = larder_registry::open(&config.registry)?;
        Ok(FeatureStore {
            inner: Arc::new(Inner {
                config,
                registry,
                offline: OnceCell::new(),
                materializing: MaterializationLocks::default(),
            }),
            online: Arc::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RepoConfig {
        &self.inner.config
    }

    /// The project name.
    pub fn project(&self) -> &str {
        &self.inner.config.project
    }

    /// The registry.
    pub fn registry(&self) -> &RegistryRef {
        &self.inner.registry
    }

    pub(crate) fn locks(&self) -> &MaterializationLocks {
        &self.inner.materializing
    }

    /// The online store, connected on first use.
    pub async fn online_store(&self) -> Result<OnlineStoreRef> {
        self.online
            .get_or_try_init(|| open_online_store(&self.inner.config))
            .await
            .cloned()
    }

    /// A handle to this store for the async runtime this is called on (a server thread with a
    /// runtime of its own). It shares everything with this one (registry, offline store,
    /// materialization locks) but, when the online store's connections are driven by the runtime
    /// that opened them (Redis), connects its own online store, so that its reads never wait for
    /// another runtime's threads. Without an online store configured it is a plain clone.
    pub async fn for_current_runtime(&self) -> Result<FeatureStore> {
        if self.inner.config.online_store.is_none() {
            return Ok(self.clone());
        }
        let shared = self.online_store().await?;
        let online = shared
            .connect_for_current_runtime()
            .await?
            .unwrap_or(shared);
        Ok(FeatureStore {
            inner: Arc::clone(&self.inner),
            online: Arc::new(OnceCell::new_with(Some(online))),
        })
    }

    /// Uses `store` as the online store instead of the one `feature_store.yaml` configures (an
    /// embedding application's own store, or a decorator around a configured one). Must be called
    /// before the online store is first used.
    pub fn use_online_store(&self, store: OnlineStoreRef) -> Result<()> {
        self.online.set(store).map_err(|_| {
            Error::InvalidRequest(
                "the online store is already in use; set it before the first read or write".into(),
            )
        })
    }

    /// The offline store.
    pub async fn offline_store(&self) -> Result<OfflineStoreRef> {
        self.inner
            .offline
            .get_or_try_init(|| async { open_offline_store(&self.inner.config) })
            .await
            .cloned()
    }

    /// The registry's current contents (cached per `cache_ttl_seconds`).
    pub async fn snapshot(&self) -> Result<Arc<pc::Registry>> {
        Ok(self.inner.registry.snapshot().await?)
    }

    /// The feature view `name` of this project.
    pub async fn feature_view(&self, name: &str) -> Result<FeatureView> {
        let snapshot = self.snapshot().await?;
        Ok(ProjectView::new(&snapshot, self.project()).feature_view(name)?)
    }

    /// The feature service `name` of this project.
    pub async fn feature_service(&self, name: &str) -> Result<FeatureService> {
        let snapshot = self.snapshot().await?;
        Ok(ProjectView::new(&snapshot, self.project()).feature_service(name)?)
    }

    /// All feature views of this project, sorted by name.
    pub async fn feature_views(&self) -> Result<Vec<FeatureView>> {
        let snapshot = self.snapshot().await?;
        Ok(ProjectView::new(&snapshot, self.project()).feature_views())
    }
}

async fn open_online_store(config: &RepoConfig) -> Result<OnlineStoreRef> {
    let store = config.require_online_store()?;
    Ok(match store {
        OnlineStoreConfig::Sqlite { path } => {
            Arc::new(larder_online::sqlite::SqliteOnlineStore::open(path)?)
        }
        OnlineStoreConfig::Redis(redis) => {
            if redis.redis_type == RedisType::RedisSentinel {
                return Err(Error::Unsupported(
                    "online_store.redis_type redis_sentinel is not supported yet: use redis or redis_cluster".into(),
                ));
            }
            Arc::new(
                larder_online::redis::RedisOnlineStore::connect(redis)
                    .await?
                    .with_entity_key_serialization_version(
                        config.entity_key_serialization_version,
                    )?,
            )
        }
        other => {
            return Err(Error::Unsupported(format!(
                "{}: online store type `{}` is not supported yet; use sqlite or redis",
                config.config_path.display(),
                other.type_name()
            )));
        }
    })
}

fn open_offline_store(config: &RepoConfig) -> Result<OfflineStoreRef> {
    match &config.offline_store {
        OfflineStoreConfig::File { .. } => Ok(Arc::new(larder_offline::FileOfflineStore::new(
            config.repo_path.clone(),
        ))),
        OfflineStoreConfig::Postgres(_) => Err(Error::Unsupported(format!(
            "{}: offline store type `postgres` is not supported yet; use `file`",
            config.config_path.display()
        ))),
        OfflineStoreConfig::Other { type_name } => Err(Error::Unsupported(format!(
            "{}: offline store type `{type_name}` is not supported yet; use `file`",
            config.config_path.display()
        ))),
    }
}
