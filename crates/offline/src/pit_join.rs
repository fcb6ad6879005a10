//! The point-in-time (as-of) join kernel: entity rows indexed by key and time, feature rows
//! streamed past them once.
//!
//! Entity rows arrive as dense key ids (see [`keys`](crate::keys)) and timestamps in µs, and are
//! sorted once by (key, time) into an [`EntityIndex`]. Each feature row is then offered to the
//! first entity position of its key whose time is at or after the row's event time: the earliest
//! entity row that may see it. A position keeps only its best offer, the greatest
//! (event ts, created ts, read order). After the last feature row, one walk per key carries the
//! best offer forward through the key's later positions, so every entity row at time `t` ends up
//! with the greatest feature row of its key with `ts <= t`. With a ttl, that row must also satisfy
//! `ts >= t - ttl`; if it does not, no older row can, and the entity row gets no match.
//!
//! Parts of the source can be offered in parallel, each to its own [`Offers`], which are merged
//! position by position at the end, or resolved together where their locations share one
//! numbering: the result is the same as offering every row to one set. A
//! large index is built and resolved on every core too, one range of key ids per core, since no
//! key's positions depend on another's.
//!
//! Cost: a sort of the entity rows, then one hash lookup and one binary search (within the key's
//! entity rows) per feature row. With many entity rows the index and the offers outgrow the CPU
//! caches and each offer is two cache misses; [`Offers::offer_all`] therefore takes feature rows
//! a batch at a time and does each step for a chunk of rows before the next, so that the misses
//! of neighbouring rows overlap instead of following one another (1M entity rows x 10M feature
//! rows: 3.2 -> 1.6 s). Memory is linear in the entity rows and independent of the feature rows,
//! which are never sorted, held or spilled; feature rows of keys that no entity row asks for are
//! dropped at once.

use std::num::NonZeroU64;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::parallel;

/// The id of a row whose key is null or (entity side) unknown to the feature side: it never matches.
pub(crate) const NO_KEY: u32 = u32::MAX;

/// Where a feature row is kept (the caller's own numbering, e.g. batch and row packed in 64 bits).
pub(crate) type Location = u64;

/// A feature row's rank among rows of the same key: event ts, created ts, then read order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Rank {
    /// Event timestamp, µs.
    pub(crate) ts: i64,
    /// Created timestamp, µs (`i64::MIN` where the source has none or it is null).
    pub(crate) created: i64,
    /// Position in read order (a later row wins a full tie).
    pub(crate) seq: u64,
}

/// A feature row to offer (see [`Offers::offer_all`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    /// The row's key id (below the index's key count).
    pub(crate) id: u32,
    /// Its rank.
    pub(crate) rank: Rank,
    /// Where it is kept.
    pub(crate) location: Location,
}

/// How many candidates [`Offers::offer_all`] takes through each step at a time: enough for their
/// cache misses to overlap, few enough for the lines they touch to stay in the L1/L2 caches until
/// the next step uses them.
const OFFER_CHUNK: usize = 256;

/// No location ([`EntityIndex::resolve`]'s marker for an entity row without a match).
const NO_LOCATION: Location = u64::MAX;

/// From how many entity rows on the index is built and resolved on every core.
const PARALLEL_MIN_ROWS: usize = 1 << 16;

/// No entity position (the row is after every entity time of its key).
const NO_POSITION: u32 = u32::MAX;

/// How many candidates are worth gathering for one [`Offers::offer_grouped`] on a large index.
const GROUPED_OFFER_ROWS: usize = 1 << 18;

/// From how many entity positions on grouping pays: below it, the index's times and a set of
/// offers (40 bytes a position) fit in the shared L3 cache and offers go straight in.
const GROUPED_MIN_POSITIONS: usize = 1 << 19;

/// About how many entity positions a group of [`Offers::offer_grouped`] spans: their times and
/// offers (8 + 32 bytes each) stay in a core's L2 cache while the group's candidates are offered.
const GROUP_POSITIONS: usize = 8_192;

/// Scratch space for [`Offers::offer_all`] and [`Offers::offer_grouped`], reused across calls.
#[derive(Debug, Default)]
pub(crate) struct OfferScratch {
    ranges: Vec<(u32, u32)>,
    positions: Vec<u32>,
    /// Candidates ordered by group, and where each group starts.
    grouped: Vec<Candidate>,
    group_starts: Vec<usize>,
}

/// The best offer an entity position has received: 32 bytes, and `Option<Offer>` too (the
/// location is kept inverted, never zero), so an offer never straddles two cache lines.
#[derive(Debug, Clone, Copy)]
struct Offer {
    rank: Rank,
    /// `!location`.
    inverted: NonZeroU64,
}

impl Offer {
    fn new(rank: Rank, location: Location) -> Self {
        Offer {
            rank,
            inverted: NonZeroU64::new(!location).expect("a location below u64::MAX"),
        }
    }

    fn location(&self) -> Location {
        !self.inverted.get()
    }
}

/// Entity rows sorted by (key id, time): the positions feature rows are offered to. Read-only
/// once built, so partitions read in parallel share one.
#[derive(Debug)]
pub(crate) struct EntityIndex {
    /// Per key id, where its positions start (`starts[id]..starts[id + 1]`).
    starts: Vec<u32>,
    /// Per position, the entity time.
    times: Vec<i64>,
    /// Per position, the entity row (input order).
    rows: Vec<u32>,
    /// How many entity rows there are in all (with and without a key).
    entity_rows: usize,
    /// Ranges of key ids (`first..end`) with about as many positions each: one per core for a
    /// large index, built and resolved in parallel.
    key_ranges: Vec<(u32, u32)>,
}

impl EntityIndex {
    /// Indexes entity rows by key id ([`NO_KEY`] rows are left out: they never match) and time.
    /// Ids must be dense: below `key_count`. A large index is built, and later resolved, in one
    /// range of keys per core.
    pub(crate) fn new(ids: &[u32], ts: &[i64], key_count: usize) -> Self {
        let parts = if ids.len() >= PARALLEL_MIN_ROWS {
            crate::scan::partitions_per_core()
        } else {
            1
        };
        Self::in_parts(ids, ts, key_count, parts)
    }

    /// [`EntityIndex::new`] in (up to) `parts` ranges of keys with about as many positions each.
    fn in_parts(ids: &[u32], ts: &[i64], key_count: usize, parts: usize) -> Self {
        let mut starts = vec![0u32; key_count + 1];
        for &id in ids.iter().filter(|&&id| id != NO_KEY) {
            starts[id as usize + 1] += 1;
        }
        for k in 0..key_count {
            starts[k + 1] += starts[k];
        }
        let positions = starts[key_count] as usize;
        let key_ranges = key_ranges(&starts, parts);
        let mut times = vec![0i64; positions];
        let mut rows = vec![0u32; positions];
        // Each part sorts the rows of its keys into its own slices of `times` and `rows`.
        let mut slices = Vec::with_capacity(key_ranges.len());
        let (mut times_rest, mut rows_rest) = (&mut times[..], &mut rows[..]);
        for &(first, end) in &key_ranges {
            let n = (starts[end as usize] - starts[first as usize]) as usize;
            let (t, t_rest) = times_rest.split_at_mut(n);
            let (r, r_rest) = rows_rest.split_at_mut(n);
            (times_rest, rows_rest) = (t_rest, r_rest);
            slices.push(Mutex::new((t, r)));
        }
        parallel::map_on_every_core(key_ranges.len(), |j| {
            let (first, end) = key_ranges[j];
            let mut slice = slices[j].lock().expect("unpoisoned");
            let (times, rows) = &mut *slice;
            sort_keys(ids, ts, &starts, first..end, times, rows);
        });
        EntityIndex {
            starts,
            times,
            rows,
            entity_rows: ids.len(),
            key_ranges,
        }
    }

    /// How many candidates to gather before [`Offers::offer_grouped`]: many when the index
    /// outgrows the caches, else 1 (offer each batch as it comes).
    pub(crate) fn rows_to_gather(&self) -> usize {
        if self.grouped() {
            GROUPED_OFFER_ROWS
        } else {
            1
        }
    }

    /// Whether [`Offers::offer_grouped`] groups candidates (the index outgrows the caches).
    fn grouped(&self) -> bool {
        self.times.len() >= GROUPED_MIN_POSITIONS
    }

    /// How many consecutive key ids make a group of [`Offers::offer_grouped`]: about
    /// [`GROUP_POSITIONS`] positions' worth.
    fn keys_per_group(&self) -> u32 {
        let keys = self.starts.len() - 1;
        let per_key = self.times.len().div_ceil(keys.max(1)).max(1);
        u32::try_from((GROUP_POSITIONS / per_key).max(1)).unwrap_or(u32::MAX)
    }

    /// Empty offers for this index's positions.
    pub(crate) fn offers(&self) -> Offers {
        Offers {
            best: vec![None; self.times.len()],
            standing: 0,
        }
    }

    /// The positions of key `id` (below the key count): `start..end`.
    #[inline]
    fn range(&self, id: u32) -> (u32, u32) {
        (self.starts[id as usize], self.starts[id as usize + 1])
    }

    /// The first position in `start..end` whose time is at or after `ts`, [`NO_POSITION`] for none.
    #[inline]
    fn position_in(&self, start: u32, end: u32, ts: i64) -> u32 {
        let p =
            start + self.times[start as usize..end as usize].partition_point(|&t| t < ts) as u32;
        if p < end { p } else { NO_POSITION }
    }

    /// The first position of key `id` (below the key count) whose time is at or after `ts`.
    #[cfg(test)]
    fn position(&self, id: u32, ts: i64) -> Option<usize> {
        let (start, end) = self.range(id);
        let p = self.position_in(start, end, ts);
        (p != NO_POSITION).then_some(p as usize)
    }

    /// For each entity row (input order), the location of the feature row it gets: the best offer
    /// at or before its position within its key, if that is within `ttl` (µs; `None`: unbounded).
    pub(crate) fn resolve(&self, offers: &Offers, ttl: Option<i64>) -> Vec<Option<Location>> {
        self.resolve_sets(std::slice::from_ref(offers), ttl)
    }

    /// [`EntityIndex::resolve`] over several sets of offers whose locations share one numbering
    /// (as positions do), without merging them first: each position's best offer among the sets.
    pub(crate) fn resolve_sets(&self, sets: &[Offers], ttl: Option<i64>) -> Vec<Option<Location>> {
        // Each entity row is written once, by the part that holds its key; the parts write to
        // rows all over `out`, hence the atomics (plain stores on the machines we run on).
        let out: Vec<AtomicU64> = (0..self.entity_rows)
            .map(|_| AtomicU64::new(NO_LOCATION))
            .collect();
        parallel::map_on_every_core(self.key_ranges.len(), |j| {
            let (first, end) = self.key_ranges[j];
            for key in self.starts[first as usize..=end as usize].windows(2) {
                let mut best: Option<Offer> = None;
                for p in key[0] as usize..key[1] as usize {
                    for offers in sets {
                        if let Some(o) = offers.best[p]
                            && best.is_none_or(|b| o.rank > b.rank)
                        {
                            best = Some(o);
                        }
                    }
                    let t = self.times[p];
                    let location = best
                        .filter(|b| ttl.is_none_or(|ttl| b.rank.ts >= t.saturating_sub(ttl)))
                        .map_or(NO_LOCATION, |b| b.location());
                    out[self.rows[p] as usize].store(location, Ordering::Relaxed);
                }
            }
        });
        out.into_iter()
            .map(|l| Some(l.into_inner()).filter(|&l| l != NO_LOCATION))
            .collect()
    }
}

/// Sorts the entity rows of keys `keys` by (key, time) into `times` and `rows`, which start at
/// the first key's first position.
fn sort_keys(
    ids: &[u32],
    ts: &[i64],
    starts: &[u32],
    keys: std::ops::Range<u32>,
    times: &mut [i64],
    rows: &mut [u32],
) {
    let base = starts[keys.start as usize];
    let mut next: Vec<u32> = starts[keys.start as usize..keys.end as usize]
        .iter()
        .map(|&s| s - base)
        .collect();
    let mut order = vec![(0i64, 0u32); times.len()];
    for (row, &id) in ids.iter().enumerate() {
        if keys.contains(&id) {
            let slot = &mut next[(id - keys.start) as usize];
            order[*slot as usize] = (ts[row], index(row));
            *slot += 1;
        }
    }
    for key in starts[keys.start as usize..=keys.end as usize].windows(2) {
        order[(key[0] - base) as usize..(key[1] - base) as usize].sort_unstable();
    }
    for (p, (t, r)) in order.into_iter().enumerate() {
        times[p] = t;
        rows[p] = r;
    }
}

/// Splits the key ids `0..starts.len() - 1` into up to `parts` contiguous ranges holding about
/// as many positions each (`starts` as in [`EntityIndex`]); at least one range, empty or not.
fn key_ranges(starts: &[u32], parts: usize) -> Vec<(u32, u32)> {
    let keys = index(starts.len() - 1);
    let positions = u64::from(starts[keys as usize]);
    let parts = parts.max(1) as u64;
    let mut ranges = Vec::with_capacity(parts as usize);
    let mut first = 0;
    for part in 1..=parts {
        let end = if part == parts {
            keys
        } else {
            let target = positions * part / parts;
            index(starts.partition_point(|&s| u64::from(s) < target)).clamp(first, keys)
        };
        if end > first || (part == parts && ranges.is_empty()) {
            ranges.push((first, end));
            first = end;
        }
    }
    ranges
}

const _: () = assert!(std::mem::size_of::<Option<Offer>>() == 32);

/// The best feature row offered to each position of an [`EntityIndex`] (one set per partition
/// read in parallel; [`Offers::merge`] combines them).
#[derive(Debug)]
pub(crate) struct Offers {
    best: Vec<Option<Offer>>,
    /// How many positions hold an offer.
    standing: usize,
}

impl Offers {
    /// Offers a feature row of key `id` (below the index's key count) at event time `rank.ts`:
    /// it goes to the key's first entity position at or after that time, if any, and stays there
    /// when it outranks that position's best offer. Returns whether it did.
    #[cfg(test)]
    pub(crate) fn offer(
        &mut self,
        index: &EntityIndex,
        id: u32,
        rank: Rank,
        location: Location,
    ) -> bool {
        let Some(p) = index.position(id, rank.ts) else {
            return false;
        };
        match &mut self.best[p] {
            Some(best) if best.rank >= rank => false,
            slot => {
                self.standing += usize::from(slot.is_none());
                *slot = Some(Offer::new(rank, location));
                true
            }
        }
    }

    /// Offers every candidate, as [`Offers::offer`] does one by one (the outcome is the same:
    /// ranks are distinct, so the order of offers does not matter), a chunk at a time in steps:
    /// touch each candidate's key range in the index, find its position, touch that position's
    /// best offer, then compare and keep. The loads of each step do not depend on one another,
    /// so their cache misses overlap, and each later step finds its lines in the cache.
    /// Returns whether some candidate now stands.
    pub(crate) fn offer_all(
        &mut self,
        index: &EntityIndex,
        candidates: &[Candidate],
        scratch: &mut OfferScratch,
    ) -> bool {
        let mut stands = false;
        let mut touched = 0i64;
        for chunk in candidates.chunks(OFFER_CHUNK) {
            scratch.ranges.clear();
            scratch.ranges.extend(chunk.iter().map(|c| {
                let (start, end) = index.range(c.id);
                // A key's times are adjacent: its first and last lines hold most of a short run.
                if start < end {
                    let t = &index.times;
                    let (s, e) = (start as usize, end as usize - 1);
                    touched ^= t[s] ^ t[e];
                }
                (start, end)
            }));
            scratch.positions.clear();
            scratch.positions.extend(
                chunk
                    .iter()
                    .zip(&scratch.ranges)
                    .map(|(c, &(start, end))| index.position_in(start, end, c.rank.ts)),
            );
            for &p in scratch.positions.iter().filter(|&&p| p != NO_POSITION) {
                touched ^= self.best[p as usize].map_or(0, |o| o.rank.ts);
            }
            for (c, &p) in chunk.iter().zip(&scratch.positions) {
                if p == NO_POSITION {
                    continue;
                }
                match &mut self.best[p as usize] {
                    Some(best) if best.rank >= c.rank => {}
                    slot => {
                        self.standing += usize::from(slot.is_none());
                        *slot = Some(Offer::new(c.rank, c.location));
                        stands = true;
                    }
                }
            }
        }
        std::hint::black_box(touched);
        stands
    }

    /// Offers `candidates` (left empty) as [`Offers::offer_all`] does, with the same outcome. On
    /// an index that outgrows the caches they are first ordered by group of neighbouring key ids
    /// (a counting sort): each group's entity times and offers span a few hundred KiB, so with
    /// many candidates per group (gather [`EntityIndex::rows_to_gather`]) most offers find their
    /// lines in the L2 cache instead of memory. Returns whether some candidate now stands.
    pub(crate) fn offer_grouped(
        &mut self,
        index: &EntityIndex,
        candidates: &mut Vec<Candidate>,
        scratch: &mut OfferScratch,
    ) -> bool {
        if !index.grouped() {
            let stands = self.offer_all(index, candidates, scratch);
            candidates.clear();
            return stands;
        }
        self.offer_in_groups(index, candidates, index.keys_per_group(), scratch)
    }

    /// [`Offers::offer_grouped`]'s grouping: `candidates` (left empty) counting-sorted by groups
    /// of `keys_per_group` consecutive key ids, then offered.
    fn offer_in_groups(
        &mut self,
        index: &EntityIndex,
        candidates: &mut Vec<Candidate>,
        keys_per_group: u32,
        scratch: &mut OfferScratch,
    ) -> bool {
        let Some(&first) = candidates.first() else {
            return false;
        };
        let group = |c: &Candidate| (c.id / keys_per_group) as usize;
        let groups = candidates.iter().map(group).max().map_or(0, |g| g + 1);
        let starts = &mut scratch.group_starts;
        starts.clear();
        starts.resize(groups + 1, 0);
        for c in candidates.iter() {
            starts[group(c) + 1] += 1;
        }
        for g in 0..groups {
            starts[g + 1] += starts[g];
        }
        let mut grouped = std::mem::take(&mut scratch.grouped);
        grouped.clear();
        grouped.resize(candidates.len(), first);
        for c in candidates.iter() {
            let slot = &mut starts[group(c)];
            grouped[*slot] = *c;
            *slot += 1;
        }
        candidates.clear();
        let stands = self.offer_all(index, &grouped, scratch);
        scratch.grouped = grouped;
        stands
    }

    /// The locations of the offers still standing (each position's best), in position order.
    pub(crate) fn standing(&self) -> impl Iterator<Item = Location> + '_ {
        self.best.iter().flatten().map(Offer::location)
    }

    /// Moves the standing offers: the `k`-th (in position order) from location `l` to
    /// `relocate(k, l)`.
    pub(crate) fn relocate_standing(
        &mut self,
        mut relocate: impl FnMut(usize, Location) -> Location,
    ) {
        for (k, o) in self.best.iter_mut().flatten().enumerate() {
            *o = Offer::new(o.rank, relocate(k, o.location()));
        }
    }

    /// How many positions hold an offer.
    pub(crate) fn standing_count(&self) -> usize {
        self.standing
    }

    /// Keeps, per position, the better of this and `other`'s offer; `relocate` maps `other`'s
    /// locations into this set's numbering.
    pub(crate) fn merge(&mut self, other: Offers, relocate: impl Fn(Location) -> Location) {
        for (mine, theirs) in self.best.iter_mut().zip(other.best) {
            let Some(theirs) = theirs else { continue };
            if mine.is_none_or(|m| theirs.rank > m.rank) {
                self.standing += usize::from(mine.is_none());
                *mine = Some(Offer::new(theirs.rank, relocate(theirs.location())));
            }
        }
    }
}

fn index(i: usize) -> u32 {
    u32::try_from(i).expect("fewer than 2^32 entity rows")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Feature rows as (key id, ts, created).
    type Features = [(u32, i64, i64)];

    /// The kernel end to end: every feature row offered in order, located by its index.
    fn asof_join(
        features: &Features,
        e_ids: &[u32],
        e_ts: &[i64],
        ttl: Option<i64>,
    ) -> Vec<Option<u64>> {
        asof_join_in_parts(features, e_ids, e_ts, ttl, 1)
    }

    /// [`asof_join`] with the index built and resolved in `parts` ranges of keys.
    fn asof_join_in_parts(
        features: &Features,
        e_ids: &[u32],
        e_ts: &[i64],
        ttl: Option<i64>,
        parts: usize,
    ) -> Vec<Option<u64>> {
        let keys = features
            .iter()
            .map(|f| f.0)
            .chain(e_ids.iter().copied())
            .filter(|&id| id != NO_KEY)
            .max()
            .map_or(0, |m| m as usize + 1);
        let index = EntityIndex::in_parts(e_ids, e_ts, keys, parts);
        // Odd and even rows go to two sets of offers, merged at the end, as partitions do: the
        // even rows one by one, the odd ones as one batch.
        let (mut even, mut odd) = (index.offers(), index.offers());
        let mut odd_rows = Vec::new();
        for (i, &(id, ts, created)) in features.iter().enumerate() {
            let rank = Rank {
                ts,
                created,
                seq: i as u64,
            };
            if i % 2 == 0 {
                even.offer(&index, id, rank, i as u64);
            } else {
                odd_rows.push(Candidate {
                    id,
                    rank,
                    location: i as u64,
                });
            }
        }
        odd.offer_all(&index, &odd_rows, &mut OfferScratch::default());
        let sets = [even, odd];
        let unmerged = index.resolve_sets(&sets, ttl);
        let [mut even, odd] = sets;
        even.merge(odd, |l| l);
        let merged = index.resolve(&even, ttl);
        assert_eq!(merged, unmerged, "resolving the sets as one or apart");
        merged
    }

    /// The definition, row by row: the best (ts, created, index) among same-key rows in the window.
    fn reference(
        features: &Features,
        e_ids: &[u32],
        e_ts: &[i64],
        ttl: Option<i64>,
    ) -> Vec<Option<u64>> {
        (0..e_ids.len())
            .map(|r| {
                let (id, t) = (e_ids[r], e_ts[r]);
                (0..features.len())
                    .filter(|&i| id != NO_KEY && features[i].0 == id && features[i].1 <= t)
                    .filter(|&i| ttl.is_none_or(|ttl| features[i].1 >= t - ttl))
                    .max_by_key(|&i| (features[i].1, features[i].2, i))
                    .map(|i| i as u64)
            })
            .collect()
    }

    #[test]
    fn picks_latest_in_window_with_created_tie_break() {
        let features = [(0, 10, 0), (0, 20, 2), (0, 20, 1), (1, 5, 0)];
        let e_ids = [0, 0, 0, 1, NO_KEY, 0, 1];
        let e_ts = [25, 9, 10, 5, 15, 20, 8];
        let got = asof_join(&features, &e_ids, &e_ts, Some(3));
        assert_eq!(
            got,
            vec![None, None, Some(0), Some(3), None, Some(1), Some(3)]
        );
        let unbounded = asof_join(&features, &e_ids, &e_ts, None);
        assert_eq!(unbounded, reference(&features, &e_ids, &e_ts, None));
        assert_eq!(unbounded[0], Some(1));
    }

    #[test]
    fn a_full_tie_goes_to_the_row_read_last() {
        let features = [(0, 10, 1), (0, 10, 1), (0, 9, 5)];
        assert_eq!(asof_join(&features, &[0, 0], &[10, 11], None), [Some(1); 2]);
    }

    #[test]
    fn offers_after_every_entity_time_are_refused() {
        let index = EntityIndex::new(&[0, 1], &[10, 10], 2);
        let mut offers = index.offers();
        let rank = |ts| Rank {
            ts,
            created: 0,
            seq: 0,
        };
        assert!(!offers.offer(&index, 0, rank(11), 0));
        assert!(offers.offer(&index, 0, rank(10), 1));
        assert!(
            !offers.offer(&index, 0, rank(9), 2),
            "outranked by the row at 10"
        );
        assert_eq!(offers.standing_count(), 1);
        assert_eq!(index.resolve(&offers, None), [Some(1), None]);
    }

    #[test]
    fn merged_offers_keep_the_better_and_relocate_it() {
        let index = EntityIndex::new(&[0, 0, 1], &[10, 20, 10], 2);
        let rank = |ts, seq| Rank {
            ts,
            created: 0,
            seq,
        };
        let (mut a, mut b) = (index.offers(), index.offers());
        a.offer(&index, 0, rank(5, 0), 1);
        b.offer(&index, 0, rank(5, 1), 1);
        b.offer(&index, 1, rank(3, 2), 2);
        a.offer(&index, 0, rank(15, 3), 3);
        a.merge(b, |l| l + 100);
        assert_eq!(a.standing_count(), 3);
        assert_eq!(index.resolve(&a, None), [Some(101), Some(3), Some(102)]);
    }

    #[test]
    fn offering_in_chunks_or_groups_equals_offering_one_by_one() {
        // Several chunks' worth of rows over a few keys, with duplicates and ties, so that rows
        // of one chunk compete for the same positions and later chunks outrank earlier ones.
        let mut state = 0x9e37_79b9_u64;
        let mut next = |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        let features: Vec<(u32, i64, i64)> = (0..5 * OFFER_CHUNK + 17)
            .map(|_| (next(7) as u32, next(200) as i64, next(3) as i64))
            .collect();
        let entities: Vec<(u32, i64)> = (0..300)
            .map(|_| (next(8) as u32, next(220) as i64))
            .collect();
        let e_ids: Vec<u32> = entities.iter().map(|e| e.0).collect();
        let e_ts: Vec<i64> = entities.iter().map(|e| e.1).collect();
        let index = EntityIndex::new(&e_ids, &e_ts, 8);
        let candidates: Vec<Candidate> = features
            .iter()
            .enumerate()
            .map(|(i, &(id, ts, created))| Candidate {
                id,
                rank: Rank {
                    ts,
                    created,
                    seq: i as u64,
                },
                location: i as u64,
            })
            .collect();
        let (mut one_by_one, mut batched) = (index.offers(), index.offers());
        for c in &candidates {
            one_by_one.offer(&index, c.id, c.rank, c.location);
        }
        assert!(batched.offer_all(&index, &candidates, &mut OfferScratch::default()));
        assert_eq!(batched.standing_count(), one_by_one.standing_count());
        for ttl in [None, Some(10)] {
            let got = index.resolve(&batched, ttl);
            assert_eq!(got, index.resolve(&one_by_one, ttl));
            assert_eq!(got, reference(&features, &e_ids, &e_ts, ttl));
        }
        assert!(
            !batched.offer_all(&index, &candidates, &mut OfferScratch::default()),
            "the same rows again outrank nothing"
        );
        // Grouped by key range (one key per group here, so the groups reorder the rows). An
        // index this small is not grouped by `offer_grouped` itself: it offers each batch.
        assert_eq!(index.rows_to_gather(), 1);
        let mut grouped = index.offers();
        let mut rows = candidates.clone();
        assert!(grouped.offer_in_groups(&index, &mut rows, 1, &mut OfferScratch::default()));
        assert!(rows.is_empty());
        for ttl in [None, Some(10)] {
            assert_eq!(
                index.resolve(&grouped, ttl),
                reference(&features, &e_ids, &e_ts, ttl)
            );
        }
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

    #[test]
    fn key_ranges_cover_every_key_once_with_balanced_positions() {
        // Keys 0..6 with 5, 0, 1, 1, 0, 3 positions.
        let starts = [0, 5, 5, 6, 7, 7, 10];
        for parts in 1..=12 {
            let ranges = key_ranges(&starts, parts);
            assert!(ranges.len() <= parts, "{parts} parts: {ranges:?}");
            assert_eq!(ranges[0].0, 0);
            assert_eq!(ranges.last().unwrap().1, 6);
            assert!(
                ranges
                    .windows(2)
                    .all(|w| w[0].1 == w[1].0 && w[0].0 < w[0].1)
            );
        }
        assert_eq!(key_ranges(&starts, 2), [(0, 1), (1, 6)]);
        assert_eq!(key_ranges(&[0], 4), [(0, 0)]);
        assert_eq!(key_ranges(&[0, 0, 0], 3), [(0, 2)]);
    }

    proptest! {
        #[test]
        fn matches_the_reference((features, entities, ttl) in case(), parts in 1usize..5) {
            let e_ids: Vec<u32> = entities.iter().map(|e| e.0).collect();
            let e_ts: Vec<i64> = entities.iter().map(|e| e.1).collect();
            prop_assert_eq!(
                asof_join_in_parts(&features, &e_ids, &e_ts, ttl, parts),
                reference(&features, &e_ids, &e_ts, ttl)
            );
        }
    }
}
