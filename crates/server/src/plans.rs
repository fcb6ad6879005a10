//! [`PlanCache`]: the online read plans resolved against one registry version, found by the
//! feature selection as a request names it, without copying the request's strings.
//!
//! A 1-entity request names ten or so features; turning them into owned `String`s only to look
//! the plan up was 2 % of serving it. Lookups hash the borrowed names; the owned key is built once,
//! when a selection is first resolved.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use larder::{FeatureSelection, OnlineReadPlan};

/// Plans cached at most; past this the cache starts over (requests choose the keys).
const MAX_CACHED_PLANS: usize = 4096;

/// A feature selection as a request names it, borrowed from the request.
#[derive(Debug, Clone, Copy)]
pub enum SelectionRef<'a> {
    /// `["view:feature", ...]`.
    Refs(&'a [&'a str]),
    /// A feature service's name.
    Service(&'a str),
}

impl SelectionRef<'_> {
    /// The owned selection, to resolve and to keep.
    pub fn to_selection(self) -> FeatureSelection {
        match self {
            SelectionRef::Refs(refs) => {
                FeatureSelection::Refs(refs.iter().map(|r| (*r).to_owned()).collect())
            }
            SelectionRef::Service(name) => FeatureSelection::Service(name.to_owned()),
        }
    }

    /// Whether `owned` is this selection.
    fn is(self, owned: &FeatureSelection) -> bool {
        match (self, owned) {
            (SelectionRef::Refs(refs), FeatureSelection::Refs(owned)) => {
                refs.len() == owned.len() && refs.iter().zip(owned).all(|(a, b)| *a == b)
            }
            (SelectionRef::Service(name), FeatureSelection::Service(owned)) => name == owned,
            _ => false,
        }
    }

    /// Feeds the selection and `full_feature_names` to `state`, the same for borrowed and owned.
    fn hash_with(self, full_feature_names: bool, state: &mut impl Hasher) {
        match self {
            SelectionRef::Refs(refs) => {
                0u8.hash(state);
                refs.len().hash(state);
                for r in refs {
                    r.hash(state);
                }
            }
            SelectionRef::Service(name) => {
                1u8.hash(state);
                name.hash(state);
            }
        }
        full_feature_names.hash(state);
    }
}

/// One cached plan and the selection it was resolved for.
#[derive(Debug)]
struct Entry<P> {
    selection: FeatureSelection,
    full_feature_names: bool,
    plan: Arc<P>,
}

/// Read plans by the hash of their selection (entries whose hashes collide share a list).
#[derive(Debug)]
pub(crate) struct PlanCache<P = OnlineReadPlan> {
    by_hash: foldhash::HashMap<u64, Vec<Entry<P>>>,
    len: usize,
}

impl<P> Default for PlanCache<P> {
    fn default() -> Self {
        PlanCache {
            by_hash: foldhash::HashMap::default(),
            len: 0,
        }
    }
}

impl<P> PlanCache<P> {
    fn hash(&self, selection: SelectionRef<'_>, full_feature_names: bool) -> u64 {
        let mut hasher = self.by_hash.hasher().build_hasher();
        selection.hash_with(full_feature_names, &mut hasher);
        hasher.finish()
    }

    /// The plan cached for `selection`, if any.
    pub(crate) fn get(
        &self,
        selection: SelectionRef<'_>,
        full_feature_names: bool,
    ) -> Option<Arc<P>> {
        let entries = self
            .by_hash
            .get(&self.hash(selection, full_feature_names))?;
        entries
            .iter()
            .find(|e| e.full_feature_names == full_feature_names && selection.is(&e.selection))
            .map(|e| Arc::clone(&e.plan))
    }

    /// Caches `plan` for `selection` (replacing a plan cached for it already).
    pub(crate) fn insert(
        &mut self,
        selection: SelectionRef<'_>,
        full_feature_names: bool,
        plan: Arc<P>,
    ) {
        if self.len >= MAX_CACHED_PLANS {
            self.by_hash.clear();
            self.len = 0;
        }
        let hash = self.hash(selection, full_feature_names);
        let entries = self.by_hash.entry(hash).or_default();
        let before = entries.len();
        entries
            .retain(|e| e.full_feature_names != full_feature_names || !selection.is(&e.selection));
        self.len -= before - entries.len();
        entries.push(Entry {
            selection: selection.to_selection(),
            full_feature_names,
            plan,
        });
        self.len += 1;
    }

    /// How many plans are cached.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in plan: each is a distinct allocation.
    fn plan() -> Arc<u8> {
        Arc::new(0)
    }

    #[test]
    fn finds_a_plan_by_the_borrowed_selection_it_was_cached_for() {
        let mut cache = PlanCache::default();
        let (a, b) = (plan(), plan());
        cache.insert(SelectionRef::Refs(&["v:a", "v:b"]), false, Arc::clone(&a));
        cache.insert(SelectionRef::Service("v"), false, Arc::clone(&b));
        let found = cache
            .get(SelectionRef::Refs(&["v:a", "v:b"]), false)
            .unwrap();
        assert!(Arc::ptr_eq(&found, &a));
        let found = cache.get(SelectionRef::Service("v"), false).unwrap();
        assert!(Arc::ptr_eq(&found, &b));
        // Other order, other names, full names, a service named like a ref: other plans.
        assert!(
            cache
                .get(SelectionRef::Refs(&["v:b", "v:a"]), false)
                .is_none()
        );
        assert!(cache.get(SelectionRef::Refs(&["v:a"]), false).is_none());
        assert!(
            cache
                .get(SelectionRef::Refs(&["v:a", "v:b"]), true)
                .is_none()
        );
        assert!(cache.get(SelectionRef::Refs(&["v"]), false).is_none());
        assert!(
            cache
                .get(SelectionRef::Refs(&["v:a:", "b"]), false)
                .is_none()
        );
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn a_selection_cached_again_replaces_its_plan_and_a_full_cache_starts_over() {
        let mut cache = PlanCache::default();
        let (a, b) = (plan(), plan());
        cache.insert(SelectionRef::Service("s"), true, a);
        cache.insert(SelectionRef::Service("s"), true, Arc::clone(&b));
        assert_eq!(cache.len(), 1);
        assert!(Arc::ptr_eq(
            &cache.get(SelectionRef::Service("s"), true).unwrap(),
            &b
        ));
        let names: Vec<String> = (0..MAX_CACHED_PLANS).map(|i| format!("s{i}")).collect();
        for name in &names {
            cache.insert(SelectionRef::Service(name), false, plan());
        }
        assert!(cache.len() <= MAX_CACHED_PLANS);
        assert!(cache.get(SelectionRef::Service("s"), true).is_none());
        assert!(
            cache
                .get(SelectionRef::Service(&names[MAX_CACHED_PLANS - 1]), false)
                .is_some()
        );
    }
}
