//! plan → apply → plan through a real registry file, the way `larder apply` uses the crate.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use larder_core::model::RepoContents;
use larder_registry::diff::set_sqlite_infra;
use larder_registry::view::ProjectView;
use larder_registry::{FileRegistry, Plan, Registry};

use crate::fixture::fixture_repo;

/// Computes and applies the plan inside one commit, returning it.
async fn apply(registry: &FileRegistry, repo: &RepoContents) -> Plan {
    let slot = Arc::new(Mutex::new(None));
    let (out, repo) = (slot.clone(), repo.clone());
    registry
        .commit(Box::new(move |r| {
            let plan = Plan::compute(r, &repo);
            plan.apply_to(r, chrono::Utc::now());
            let tables: Vec<String> = repo
                .feature_views
                .iter()
                .map(|v| format!("feast_demo_{}", v.name))
                .collect();
            set_sqlite_infra(r, "feast_demo", "/repo/data/online.db", &tables);
            *out.lock().unwrap() = Some(plan);
            Ok(())
        }))
        .await
        .unwrap();
    let plan = slot.lock().unwrap().take();
    plan.unwrap()
}

#[tokio::test]
async fn create_apply_plan_again_shows_no_changes() {
    let dir = tempfile::tempdir().unwrap();
    let registry = FileRegistry::new(
        dir.path().join("data/registry.db"),
        Duration::from_secs(600),
    );
    let repo = fixture_repo();
    let first = apply(&registry, &repo).await;
    assert_eq!(
        first.to_string(),
        "Created project feast_demo\nCreated entity driver\nCreated feature view driver_hourly_stats\n\
         Created feature service driver_activity"
    );
    let reread = FileRegistry::new(dir.path().join("data/registry.db"), Duration::ZERO);
    let snapshot = reread.snapshot().await.unwrap();
    assert_eq!(
        Plan::compute(&snapshot, &repo).to_string(),
        "No changes to registry"
    );
    let second = apply(&registry, &repo).await;
    assert!(!second.has_changes());
    assert_eq!(second.to_string(), "No changes to registry");
    let after = reread.snapshot().await.unwrap();
    let strip = |r: &larder_core::proto::core::Registry| larder_core::proto::core::Registry {
        version_id: String::new(),
        last_updated: None,
        ..r.clone()
    };
    assert_eq!(
        strip(&after),
        strip(&snapshot),
        "a re-apply changes nothing but the commit stamp"
    );
    let view = ProjectView::new(&after, "feast_demo");
    assert_eq!(
        view.feature_view("driver_hourly_stats")
            .unwrap()
            .features
            .len(),
        10
    );
    let infra = after.infra.as_ref().unwrap();
    assert_eq!(infra.infra_objects.len(), 1);
}
