//! `plan`, `apply` and `teardown`: make the registry and the online store's tables match the repo.

use std::fmt;
use std::sync::{Arc, Mutex};

use larder_core::config::OnlineStoreConfig;
use larder_core::model::{FeatureView, RepoContents};
use larder_registry::Plan;
use larder_registry::view::ProjectView;

use crate::error::{Error, Result};
use crate::store::FeatureStore;

/// The tag that protects a project from `teardown` (Feast's).
pub const PROTECTED_PROJECT_TAG: &str = "feast.dev/protected-project";

/// What `apply` changes (or, for `plan`, would change): registry objects and online infrastructure.
#[derive(Debug, Clone)]
pub struct ApplyPlan {
    /// The registry diff.
    pub registry: Plan,
    /// The online-store diff.
    pub infra: InfraPlan,
}

/// Online-store objects to create and delete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InfraPlan {
    /// The online store's type (`sqlite`, `redis`), or empty when disabled.
    pub store_type: String,
    /// Objects created, e.g. SQLite tables `<project>_<view>`.
    pub created: Vec<String>,
    /// Objects deleted.
    pub deleted: Vec<String>,
}

impl InfraPlan {
    /// Whether anything changes.
    pub fn has_changes(&self) -> bool {
        !self.created.is_empty() || !self.deleted.is_empty()
    }
}

impl fmt::Display for InfraPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.has_changes() {
            return f.write_str("No changes to infrastructure");
        }
        let kind = if self.store_type == "sqlite" {
            "sqlite table"
        } else {
            "online data of view"
        };
        let lines: Vec<String> = self
            .created
            .iter()
            .map(|n| format!("Created {kind} {n}"))
            .chain(self.deleted.iter().map(|n| format!("Deleted {kind} {n}")))
            .collect();
        f.write_str(&lines.join("\n"))
    }
}

impl fmt::Display for ApplyPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n{}", self.registry, self.infra)
    }
}

/// The online views of `views`.
fn online(views: &[FeatureView]) -> Vec<FeatureView> {
    views.iter().filter(|v| v.online).cloned().collect()
}

impl FeatureStore {
    /// What applying `desired` would change. Changes nothing.
    pub async fn plan(&self, desired: &RepoContents) -> Result<ApplyPlan> {
        self.check_project(desired)?;
        let snapshot = self.registry().refresh().await?;
        let registry = Plan::compute(&snapshot, desired);
        let current = ProjectView::new(&snapshot, self.project()).feature_views();
        Ok(ApplyPlan {
            infra: self.infra_plan(&current, &desired.feature_views),
            registry,
        })
    }

    /// Makes the registry and the online store's tables match `desired`. Idempotent.
    ///
    /// Order: create new tables, commit the registry atomically, then drop tables of deleted views,
    /// so a failure at any point leaves a state that a rerun repairs.
    pub async fn apply(&self, desired: &RepoContents) -> Result<ApplyPlan> {
        self.check_project(desired)?;
        let snapshot = self.registry().refresh().await?;
        let current = ProjectView::new(&snapshot, self.project()).feature_views();
        let infra = self.infra_plan(&current, &desired.feature_views);
        let keep = online(&desired.feature_views);
        let delete: Vec<FeatureView> = online(&current)
            .into_iter()
            .filter(|v| !keep.iter().any(|k| k.name == v.name))
            .collect();
        let store = match self.config().online_store {
            Some(_) => Some(self.online_store().await?),
            None => None,
        };
        if let Some(store) = &store {
            store.update(self.project(), &keep, &[]).await?;
        }
        let registry = self.commit_plan(desired, &keep).await?;
        if let Some(store) = &store {
            store.update(self.project(), &keep, &delete).await?;
        }
        Ok(ApplyPlan { registry, infra })
    }

    async fn commit_plan(&self, desired: &RepoContents, keep: &[FeatureView]) -> Result<Plan> {
        let computed = Arc::new(Mutex::new(None));
        let out = computed.clone();
        let desired = desired.clone();
        let project = self.project().to_string();
        let sqlite = match &self.config().online_store {
            Some(OnlineStoreConfig::Sqlite { path }) => Some(path.to_string_lossy().into_owned()),
            _ => None,
        };
        let tables: Vec<String> = keep
            .iter()
            .map(|v| format!("{project}_{}", v.name))
            .collect();
        self.registry()
            .commit(Box::new(move |registry| {
                let plan = Plan::compute(registry, &desired);
                plan.apply_to(registry, chrono::Utc::now());
                if let Some(db) = &sqlite {
                    larder_registry::diff::set_sqlite_infra(registry, &project, db, &tables);
                }
                *out.lock().expect("plan slot") = Some(plan);
                Ok(())
            }))
            .await?;
        let plan = computed.lock().expect("plan slot").take();
        plan.ok_or_else(|| Error::Task("registry commit returned without a plan".into()))
    }

    /// Removes the project: its online data and tables, then its registry objects.
    pub async fn teardown(&self) -> Result<()> {
        let snapshot = self.registry().refresh().await?;
        let view = ProjectView::new(&snapshot, self.project());
        if let Some(project) = view.project()
            && project
                .tags
                .get(PROTECTED_PROJECT_TAG)
                .is_some_and(|v| v == "true")
        {
            return Err(Error::InvalidRequest(format!(
                "project `{}` is protected (tag {PROTECTED_PROJECT_TAG}=true): remove the tag to tear it down",
                self.project()
            )));
        }
        let views = view.feature_views();
        if self.config().online_store.is_some() {
            self.online_store()
                .await?
                .teardown(self.project(), &online(&views))
                .await?;
        }
        let project = self.project().to_string();
        self.registry()
            .commit(Box::new(move |registry| {
                larder_registry::diff::delete_project(registry, &project);
                Ok(())
            }))
            .await?;
        Ok(())
    }

    fn check_project(&self, desired: &RepoContents) -> Result<()> {
        if desired.project.name != self.project() {
            return Err(Error::InvalidRequest(format!(
                "the definitions are for project `{}` but feature_store.yaml says `{}`",
                desired.project.name,
                self.project()
            )));
        }
        Ok(())
    }

    fn infra_plan(&self, current: &[FeatureView], desired: &[FeatureView]) -> InfraPlan {
        let Some(store) = &self.config().online_store else {
            return InfraPlan::default();
        };
        let sqlite = matches!(store, OnlineStoreConfig::Sqlite { .. });
        let name = |v: &FeatureView| {
            if sqlite {
                format!("{}_{}", self.project(), v.name)
            } else {
                v.name.clone()
            }
        };
        let (cur, want) = (online(current), online(desired));
        let created = if sqlite {
            want.iter()
                .filter(|v| !cur.iter().any(|c| c.name == v.name))
                .map(name)
                .collect()
        } else {
            Vec::new()
        };
        let deleted = cur
            .iter()
            .filter(|v| !want.iter().any(|w| w.name == v.name))
            .map(name)
            .collect();
        InfraPlan {
            store_type: store.type_name().to_string(),
            created,
            deleted,
        }
    }
}
