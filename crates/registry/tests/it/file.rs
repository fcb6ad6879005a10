//! The file registry's guarantees: concurrent commits never lose an update, a failing change writes
//! nothing, and a corrupt file is reported with its path.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use larder_core::config::{RegistryConfig, RegistryType};
use larder_core::proto::core as pc;
use larder_registry::{Error, FileRegistry, Registry, RegistryChange};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

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

/// Adds an entity, slowly, so that unsynchronized read-modify-write cycles would overlap.
fn add_slowly(name: String) -> RegistryChange {
    Box::new(move |r: &mut pc::Registry| {
        std::thread::sleep(Duration::from_millis(5));
        r.entities.push(entity(&name));
        Ok(())
    })
}

#[test]
fn concurrent_commits_from_8_threads_all_survive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/registry.db");
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (path, barrier) = (path.clone(), barrier.clone());
            std::thread::spawn(move || {
                // One registry per thread, as separate processes would have.
                let registry = FileRegistry::new(path, Duration::from_secs(600));
                barrier.wait();
                runtime()
                    .block_on(registry.commit(add_slowly(format!("e{i}"))))
                    .unwrap();
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let registry = FileRegistry::new(path, Duration::ZERO);
    let snapshot = runtime().block_on(registry.refresh()).unwrap();
    let mut names: Vec<String> = snapshot
        .entities
        .iter()
        .map(|e| e.spec.as_ref().unwrap().name.clone())
        .collect();
    names.sort();
    assert_eq!(names, (0..8).map(|i| format!("e{i}")).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_through_one_shared_registry_all_survive() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Arc::new(FileRegistry::new(
        dir.path().join("registry.db"),
        Duration::from_secs(600),
    ));
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let registry = registry.clone();
            tokio::spawn(async move { registry.commit(add_slowly(format!("e{i}"))).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(registry.snapshot().await.unwrap().entities.len(), 8);
}

#[tokio::test]
async fn a_failing_change_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let registry = FileRegistry::new(path.clone(), Duration::ZERO);
    registry.commit(add_slowly("a".into())).await.unwrap();
    let before = std::fs::read(&path).unwrap();
    let failing: RegistryChange = Box::new(|r: &mut pc::Registry| {
        r.entities.clear();
        Err(Error::Unsupported {
            what: "this change".into(),
            help: String::new(),
        })
    });
    let err = registry.commit(failing).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is byte-identical"
    );
    assert_eq!(
        registry.snapshot().await.unwrap().entities.len(),
        1,
        "the cache is not changed either"
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.ends_with(".tmp")),
        "no temp file is left: {names:?}"
    );
}

#[tokio::test]
async fn a_failing_change_on_a_missing_file_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let registry = FileRegistry::new(path.clone(), Duration::ZERO);
    let failing: RegistryChange = Box::new(|_| {
        Err(Error::Unsupported {
            what: "x".into(),
            help: String::new(),
        })
    });
    assert!(registry.commit(failing).await.is_err());
    assert!(!path.exists());
}

#[tokio::test]
async fn a_corrupt_file_is_reported_with_its_path_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    std::fs::write(&path, b"this is not a registry").unwrap();
    let registry = FileRegistry::new(path.clone(), Duration::ZERO);
    let err = registry.snapshot().await.unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(
        text.contains("is not a Feast registry file") && text.contains("restore it"),
        "{text}"
    );
    assert!(matches!(
        registry.commit(add_slowly("a".into())).await,
        Err(Error::Corrupt { .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), b"this is not a registry");
}

#[tokio::test]
async fn the_fixture_commits_without_losing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    std::fs::copy(crate::fixture_path(), &path).unwrap();
    let registry = FileRegistry::new(path.clone(), Duration::ZERO);
    let before = registry.snapshot().await.unwrap();
    let after = registry.commit(Box::new(|_| Ok(()))).await.unwrap();
    let strip = |r: &pc::Registry| pc::Registry {
        version_id: String::new(),
        last_updated: None,
        ..r.clone()
    };
    assert_eq!(strip(&after), strip(&before));
    assert_ne!(after.version_id, before.version_id);
    let reread = FileRegistry::new(path, Duration::ZERO)
        .snapshot()
        .await
        .unwrap();
    assert_eq!(reread, after);
}

#[test]
fn open_picks_the_file_registry_and_rejects_the_rest() {
    let config = |registry_type, path: &str| RegistryConfig {
        registry_type,
        path: path.into(),
        cache_ttl: Duration::from_secs(600),
    };
    let file =
        larder_registry::open(&config(RegistryType::File, "/repo/data/registry.db")).unwrap();
    assert_eq!(file.location(), "/repo/data/registry.db");
    for (kind, path, expected) in [
        (
            RegistryType::File,
            "gs://bucket/registry.db",
            "registry path `gs://bucket/registry.db`",
        ),
        (
            RegistryType::File,
            "s3://bucket/registry.db",
            "registry path `s3://bucket/registry.db`",
        ),
        (
            RegistryType::Sql,
            "postgresql://u:secret@db/feast",
            "the sql registry",
        ),
        (
            RegistryType::Other("remote".into()),
            "localhost:6570",
            "registry_type `remote`",
        ),
    ] {
        let err = larder_registry::open(&config(kind, path)).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Unsupported { .. }), "{text}");
        assert!(
            text.starts_with(expected) && text.contains("is not supported yet"),
            "{text}"
        );
        assert!(!text.contains("secret"), "no password in messages: {text}");
    }
}
