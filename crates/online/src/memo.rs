//! A per-thread memo of the last value built for a key: a server thread sees the same view request
//! after request, so comparing the key costs less than building the value again.

use std::cell::RefCell;
use std::thread::LocalKey;

/// A thread-local slot holding the last key and value.
pub(crate) type Slot<K, V> = RefCell<Option<(K, V)>>;

/// The value remembered in `slot` when `same` says its key is the one wanted; otherwise `build`'s
/// key and value, which `slot` then remembers.
pub(crate) fn last_or_build<K: 'static, V: Clone + 'static>(
    slot: &'static LocalKey<Slot<K, V>>,
    same: impl FnOnce(&K) -> bool,
    build: impl FnOnce() -> (K, V),
) -> V {
    slot.with_borrow_mut(|last| match last {
        Some((key, value)) if same(key) => value.clone(),
        _ => {
            let (key, value) = build();
            *last = Some((key, value.clone()));
            value
        }
    })
}
