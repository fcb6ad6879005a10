//! The point-in-time (as-of) join kernel: a sort-merge over plain arrays.
//!
//! Both sides arrive as dense key ids (see [`keys`](crate::keys)) and timestamps in µs. Feature
//! rows are sorted by (key, event ts, created ts, position) and entity rows by (key, ts); one
//! forward walk over both finds, for every entity row at time `t`, the last feature row of its key
//! with `ts <= t`, which is the greatest (event, created) timestamp pair, and on a full tie the row
//! read last. With a ttl, that row must also satisfy `ts >= t - ttl`; if it does not, no older row
//! can, so the entity row gets no match. The result is one optional feature-row index per entity
//! row, in entity input order, ready for `take`.
//!
//! Memory is linear in both sides. For inputs beyond memory, the caller can hash-partition both
//! sides by key and run the kernel per partition, since a key never spans partitions.

/// The id of a row whose key is null or (entity side) unknown to the feature side: it never matches.
pub(crate) const NO_KEY: u32 = u32::MAX;

/// The feature side of a join: per row, the key id, event timestamp and created timestamp
/// (`i64::MIN` where the source has none or it is null).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FeatureSide<'a> {
    /// Key ids ([`NO_KEY`] rows are skipped).
    pub(crate) ids: &'a [u32],
    /// Event timestamps, µs.
    pub(crate) ts: &'a [i64],
    /// Created timestamps, µs.
    pub(crate) created: &'a [i64],
}

/// The entity side of a join: per row, the key id ([`NO_KEY`]: no match) and the time, µs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntitySide<'a> {
    /// Key ids.
    pub(crate) ids: &'a [u32],
    /// Entity timestamps, µs.
    pub(crate) ts: &'a [i64],
}

/// For each entity row (in input order), the index of the feature row it gets, if any.
/// `ttl` is in µs; `None` means unbounded.
pub(crate) fn asof_join(
    features: FeatureSide<'_>,
    entities: EntitySide<'_>,
    ttl: Option<i64>,
) -> Vec<Option<u32>> {
    let sorted_features = sort_features(features);
    let sorted_entities = sort_entities(entities);
    let mut out = vec![None; entities.ids.len()];
    let mut j = 0;
    let mut current = NO_KEY;
    let mut last: Option<usize> = None;
    for &(id, t, row) in &sorted_entities {
        if id != current {
            while j < sorted_features.len() && sorted_features[j].0 < id {
                j += 1;
            }
            current = id;
            last = None;
        }
        while j < sorted_features.len() && sorted_features[j].0 == id && sorted_features[j].1 <= t {
            last = Some(j);
            j += 1;
        }
        if let Some(k) = last {
            let (_, ts, _, index) = sorted_features[k];
            if ttl.is_none_or(|ttl| ts >= t.saturating_sub(ttl)) {
                out[row as usize] = Some(index);
            }
        }
    }
    out
}

/// Feature rows with a key, as (id, ts, created, index), sorted.
fn sort_features(f: FeatureSide<'_>) -> Vec<(u32, i64, i64, u32)> {
    let mut rows: Vec<(u32, i64, i64, u32)> = (0..f.ids.len())
        .filter(|&i| f.ids[i] != NO_KEY)
        .map(|i| (f.ids[i], f.ts[i], f.created[i], index(i)))
        .collect();
    rows.sort_unstable();
    rows
}

/// Entity rows with a key, as (id, ts, index), sorted.
fn sort_entities(e: EntitySide<'_>) -> Vec<(u32, i64, u32)> {
    let mut rows: Vec<(u32, i64, u32)> = (0..e.ids.len())
        .filter(|&i| e.ids[i] != NO_KEY)
        .map(|i| (e.ids[i], e.ts[i], index(i)))
        .collect();
    rows.sort_unstable();
    rows
}

fn index(i: usize) -> u32 {
    u32::try_from(i).expect("fewer than 2^32 rows per join")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The definition, row by row: the best (ts, created, index) among same-key rows in the window.
    fn reference(f: FeatureSide<'_>, e: EntitySide<'_>, ttl: Option<i64>) -> Vec<Option<u32>> {
        (0..e.ids.len())
            .map(|r| {
                let (id, t) = (e.ids[r], e.ts[r]);
                (0..f.ids.len())
                    .filter(|&i| id != NO_KEY && f.ids[i] == id && f.ts[i] <= t)
                    .filter(|&i| ttl.is_none_or(|ttl| f.ts[i] >= t - ttl))
                    .max_by_key(|&i| (f.ts[i], f.created[i], i))
                    .map(|i| i as u32)
            })
            .collect()
    }

    #[test]
    fn picks_latest_in_window_with_created_tie_break() {
        let ids = [0, 0, 0, 1, NO_KEY];
        let ts = [10, 20, 20, 5, 15];
        let created = [0, 2, 1, 0, 0];
        let f = FeatureSide {
            ids: &ids,
            ts: &ts,
            created: &created,
        };
        let e_ids = [0, 0, 0, 1, NO_KEY, 0, 1];
        let e_ts = [25, 9, 10, 5, 15, 20, 8];
        let e = EntitySide {
            ids: &e_ids,
            ts: &e_ts,
        };
        let got = asof_join(f, e, Some(3));
        assert_eq!(
            got,
            vec![None, None, Some(0), Some(3), None, Some(1), Some(3)]
        );
        assert_eq!(asof_join(f, e, None), reference(f, e, None));
    }

    /// Feature rows (id, ts, created), entity rows (id, ts), and a ttl.
    type Case = (Vec<(u32, i64, i64)>, Vec<(u32, i64)>, Option<i64>);

    fn case() -> impl Strategy<Value = Case> {
        let feature = (0u32..4, 0i64..20, 0i64..3);
        let entity = (prop_oneof![0u32..5, Just(NO_KEY)], 0i64..25);
        (
            prop::collection::vec(feature, 0..40),
            prop::collection::vec(entity, 0..40),
            prop::option::of(0i64..6),
        )
    }

    proptest! {
        #[test]
        fn matches_the_reference((features, entities, ttl) in case()) {
            let ids: Vec<u32> = features.iter().map(|f| f.0).collect();
            let ts: Vec<i64> = features.iter().map(|f| f.1).collect();
            let created: Vec<i64> = features.iter().map(|f| f.2).collect();
            let f = FeatureSide { ids: &ids, ts: &ts, created: &created };
            let e_ids: Vec<u32> = entities.iter().map(|e| e.0).collect();
            let e_ts: Vec<i64> = entities.iter().map(|e| e.1).collect();
            let e = EntitySide { ids: &e_ids, ts: &e_ts };
            prop_assert_eq!(asof_join(f, e, ttl), reference(f, e, ttl));
        }
    }
}
