//! [`AppState`]: what every handler shares. It holds the feature store, the current registry
//! [`Catalog`] (a snapshot plus the online read plans resolved against it), metrics and jobs.
//!
//! No registry work happens on the request path: the registry is loaded once, a background task
//! re-reads it every `registry_ttl` and swaps in a new catalog when its version changes (which
//! drops every cached plan). Handlers take the current catalog with one short read lock.

use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use larder::core::proto::core as pc;
use larder::registry::view::ProjectView;
use larder::{FeatureStore, OnlineReadPlan};

use crate::ServeOptions;
use crate::jobs::Jobs;
use crate::metrics::Metrics;
use crate::plans::{PlanCache, SelectionRef};

/// The state shared by all handlers; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
    /// The store requests use: the shared one, or a server thread's own handle to it
    /// ([`AppState::for_current_runtime`]).
    store: FeatureStore,
}

#[derive(Debug)]
struct Inner {
    /// The store as opened on the runtime that made the state: background work uses it.
    store: FeatureStore,
    /// That runtime, which runs the background work (registry refresh, materialization jobs).
    background: tokio::runtime::Handle,
    options: ServeOptions,
    catalog: RwLock<Arc<Catalog>>,
    /// Why the last registry refresh failed, while it keeps failing.
    registry_error: RwLock<Option<String>>,
    metrics: Metrics,
    jobs: Jobs,
}

/// A registry snapshot and the online read plans resolved against it.
#[derive(Debug)]
pub struct Catalog {
    /// The registry contents (all projects).
    pub registry: Arc<pc::Registry>,
    plans: RwLock<PlanCache>,
}

impl Catalog {
    fn new(registry: Arc<pc::Registry>) -> Self {
        Catalog {
            registry,
            plans: RwLock::default(),
        }
    }

    /// Whether `other` is the same registry version as this catalog's.
    fn same_version(&self, other: &pc::Registry) -> bool {
        self.registry.version_id == other.version_id
            && self.registry.last_updated == other.last_updated
    }
}

impl AppState {
    /// Loads the registry, connects the online store and, when `options.registry_ttl` is not zero,
    /// starts the background registry refresh (it stops when the last clone of the state is gone).
    pub async fn new(store: FeatureStore, options: &ServeOptions) -> Result<Self, larder::Error> {
        let registry = store.registry().refresh().await?;
        if store.config().online_store.is_some() {
            store.online_store().await?;
        }
        let state = AppState {
            store: store.clone(),
            inner: Arc::new(Inner {
                store,
                background: tokio::runtime::Handle::current(),
                options: options.clone(),
                catalog: RwLock::new(Arc::new(Catalog::new(registry))),
                registry_error: RwLock::default(),
                metrics: Metrics::default(),
                jobs: Jobs::default(),
            }),
        };
        if !options.registry_ttl.is_zero() {
            tokio::spawn(refresh_loop(
                Arc::downgrade(&state.inner),
                options.registry_ttl,
            ));
        }
        Ok(state)
    }

    /// The feature store.
    pub fn store(&self) -> &FeatureStore {
        &self.store
    }

    /// This state for handlers running on the async runtime this is called on: the same state,
    /// with the store's own online connections for this runtime where the store needs them
    /// ([`FeatureStore::for_current_runtime`]).
    pub async fn for_current_runtime(&self) -> Result<Self, larder::Error> {
        Ok(AppState {
            inner: Arc::clone(&self.inner),
            store: self.inner.store.for_current_runtime().await?,
        })
    }

    /// Runs `work` on the runtime that made the state, with the state as opened there: a long
    /// job then neither holds up the requests of a server thread nor stops with it.
    pub(crate) fn spawn_background<F, Fut>(&self, work: F) -> tokio::task::JoinHandle<Fut::Output>
    where
        F: FnOnce(AppState) -> Fut,
        Fut: std::future::Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        let state = AppState {
            inner: Arc::clone(&self.inner),
            store: self.inner.store.clone(),
        };
        self.inner.background.spawn(work(state))
    }

    /// The options the server was started with.
    pub fn options(&self) -> &ServeOptions {
        &self.inner.options
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn jobs(&self) -> &Jobs {
        &self.inner.jobs
    }

    /// The current catalog.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.inner.catalog.read().expect("catalog lock").clone()
    }

    /// Why the registry could not be read at the last refresh, if it could not.
    pub fn registry_error(&self) -> Option<String> {
        self.inner
            .registry_error
            .read()
            .expect("registry error lock")
            .clone()
    }

    /// The read plan of `selection`, resolved once per registry version.
    pub fn online_plan(
        &self,
        selection: SelectionRef<'_>,
        full_feature_names: bool,
    ) -> Result<Arc<OnlineReadPlan>, larder::Error> {
        let catalog = self.catalog();
        let cached = catalog
            .plans
            .read()
            .expect("plan cache lock")
            .get(selection, full_feature_names);
        if let Some(plan) = cached {
            return Ok(plan);
        }
        let store = self.store();
        let plan = Arc::new(OnlineReadPlan::resolve(
            &catalog.registry,
            store.project(),
            &selection.to_selection(),
            full_feature_names,
            store.config().entity_key_serialization_version,
        )?);
        catalog.plans.write().expect("plan cache lock").insert(
            selection,
            full_feature_names,
            Arc::clone(&plan),
        );
        Ok(plan)
    }

    /// Re-reads the registry now; returns whether its version changed (and the catalog with it).
    /// A failure is remembered for `/health` until a refresh succeeds.
    pub async fn refresh_registry(&self) -> Result<bool, larder::Error> {
        refresh(&self.inner).await
    }

    /// The project's online views with the end of their last materialized interval (for metrics).
    pub(crate) fn online_views(&self) -> Vec<(String, Option<DateTime<Utc>>)> {
        let catalog = self.catalog();
        ProjectView::new(&catalog.registry, self.store().project())
            .feature_views()
            .into_iter()
            .filter(|v| v.online)
            .map(|v| (v.name.clone(), v.most_recent_end()))
            .collect()
    }
}

async fn refresh(inner: &Inner) -> Result<bool, larder::Error> {
    let registry = match inner.store.registry().refresh().await {
        Ok(registry) => registry,
        Err(e) => {
            let e = larder::Error::from(e);
            tracing::warn!(error = %e, "cannot refresh the registry; serving the last version read");
            *inner.registry_error.write().expect("registry error lock") = Some(e.to_string());
            return Err(e);
        }
    };
    inner
        .registry_error
        .write()
        .expect("registry error lock")
        .take();
    let mut catalog = inner.catalog.write().expect("catalog lock");
    if catalog.same_version(&registry) {
        return Ok(false);
    }
    tracing::info!(version = %registry.version_id, "registry changed; dropping cached read plans");
    *catalog = Arc::new(Catalog::new(registry));
    Ok(true)
}

/// Refreshes the registry every `every` until the state is dropped.
async fn refresh_loop(state: Weak<Inner>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(inner) = state.upgrade() else { return };
        let _ = refresh(&inner).await;
    }
}
