//! Single flight: concurrent misses on one key in one process share one load.
//!
//! The first caller becomes the leader and loads; later callers wait on a watch channel for
//! its outcome. If the leader is cancelled (its future dropped) the channel closes without a
//! value and the waiters start over, so a cancelled request never strands the others.
//! An invalidation of a key while it is being loaded taints the flight: the loaded value is
//! still returned to its callers but is not written back, since it may predate the change.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::l1::Entry;

/// What a leader hands to its waiters: the entry, or the loader's error type-erased
/// (an `Arc<E>` behind `dyn Any`).
pub(crate) type Outcome = Result<Arc<Entry>, Arc<dyn Any + Send + Sync>>;

struct Flight {
    tx: watch::Sender<Option<Outcome>>,
    tainted: AtomicBool,
}

#[derive(Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<String, Arc<Flight>>>,
}

pub(crate) enum Role<'a> {
    Leader(LeaderGuard<'a>),
    Waiter(watch::Receiver<Option<Outcome>>),
}

impl Flights {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Flight>>> {
        // A panic while holding this lock cannot leave the map inconsistent (single inserts
        // and removes), so a poisoned lock is still usable.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn join(&self, key: &str) -> Role<'_> {
        let mut map = self.lock();
        if let Some(flight) = map.get(key) {
            return Role::Waiter(flight.tx.subscribe());
        }
        let (tx, _) = watch::channel(None);
        let flight = Arc::new(Flight {
            tx,
            tainted: AtomicBool::new(false),
        });
        map.insert(key.to_owned(), Arc::clone(&flight));
        Role::Leader(LeaderGuard {
            flights: self,
            key: key.to_owned(),
            flight,
        })
    }

    pub fn taint(&self, key: &str) {
        if let Some(flight) = self.lock().get(key) {
            flight.tainted.store(true, Ordering::SeqCst);
        }
    }

    pub fn taint_all(&self) {
        for flight in self.lock().values() {
            flight.tainted.store(true, Ordering::SeqCst);
        }
    }
}

pub(crate) struct LeaderGuard<'a> {
    flights: &'a Flights,
    key: String,
    flight: Arc<Flight>,
}

impl LeaderGuard<'_> {
    pub fn tainted(&self) -> bool {
        self.flight.tainted.load(Ordering::SeqCst)
    }

    pub fn finish(self, outcome: Outcome) {
        self.flight.tx.send_replace(Some(outcome));
        // Drop removes the flight from the map.
    }
}

impl Drop for LeaderGuard<'_> {
    fn drop(&mut self) {
        let mut map = self.flights.lock();
        if map
            .get(&self.key)
            .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
        {
            map.remove(&self.key);
        }
    }
}

/// Waits for the leader's outcome; `None` if the leader went away without one.
pub(crate) async fn wait(mut rx: watch::Receiver<Option<Outcome>>) -> Option<Outcome> {
    match rx.wait_for(Option::is_some).await {
        Ok(outcome) => outcome.clone(),
        Err(_) => None,
    }
}
