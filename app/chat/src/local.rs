//! Browser objects (an open stream, the files a person picked) are not `Send`, but reactive
//! state usually must be: the Console's pages are also built while the server renders them,
//! on whichever thread serves the request. So the page's state holds keys, and the objects
//! live in a registry of the browser's one thread. On the server nothing is ever put in one.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// A key no other object of this page has.
pub fn next_key() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Objects by key; used from a `thread_local!`.
pub struct Registry<T>(RefCell<HashMap<u64, T>>);

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Self(RefCell::new(HashMap::new()))
    }
}

impl<T> Registry<T> {
    /// Keeps `value` under `key`; what was there is dropped.
    pub fn insert(&self, key: u64, value: T) {
        // Dropped after the borrow ends: a drop that reaches the registry again is fine.
        let old = self.0.borrow_mut().insert(key, value);
        drop(old);
    }

    pub fn remove(&self, key: u64) -> Option<T> {
        self.0.borrow_mut().remove(&key)
    }

    pub fn contains(&self, key: u64) -> bool {
        self.0.borrow().contains_key(&key)
    }

    pub fn get(&self, key: u64) -> Option<T>
    where
        T: Clone,
    {
        self.0.borrow().get(&key).cloned()
    }
}
