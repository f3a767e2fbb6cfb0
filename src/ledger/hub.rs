//! Live fan-out of logged events to the streams open on this process.
//!
//! Events a worker of this process logs are published directly. Events logged by another
//! process (a second node on the same PostgreSQL, or the API of another node) are found by a
//! watcher that, once a second, reads the last sequence number of every task someone here is
//! watching — one query for all of them — and publishes what it has not seen from the store.
//! The store stays the truth: subscribers drop what they already sent and re-read the store
//! when they fall behind.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use tokio::sync::broadcast;

use super::log::{self, Logged};
use crate::store::Db;
use crate::store::entities::task;

/// Buffered events per task; a subscriber further behind re-reads the store.
const CHANNEL_CAPACITY: usize = 1024;

#[derive(Default)]
pub struct Hub {
    channels: Mutex<HashMap<String, Channel>>,
}

struct Channel {
    sender: broadcast::Sender<Arc<Logged>>,
    /// The highest sequence number published here.
    published: i64,
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Live events of a task from now on.
    pub fn subscribe(&self, task_id: &str) -> broadcast::Receiver<Arc<Logged>> {
        let Ok(mut channels) = self.channels.lock() else {
            // A poisoned map only happens after a panic elsewhere; a closed receiver makes the
            // stream fall back to the store.
            return broadcast::channel(1).1;
        };
        channels
            .entry(task_id.to_owned())
            .or_insert_with(|| Channel {
                sender: broadcast::channel(CHANNEL_CAPACITY).0,
                published: 0,
            })
            .sender
            .subscribe()
    }

    pub fn publish(&self, task_id: &str, logged: &[Logged]) {
        let Ok(mut channels) = self.channels.lock() else {
            return;
        };
        let Some(channel) = channels.get_mut(task_id) else {
            return;
        };
        if channel.sender.receiver_count() == 0 {
            channels.remove(task_id);
            return;
        }
        for ev in logged {
            if ev.seq > channel.published {
                channel.published = ev.seq;
                let _ = channel.sender.send(Arc::new(ev.clone()));
            }
        }
    }

    /// Tasks someone here watches, with what was published for each.
    fn watched(&self) -> Vec<(String, i64)> {
        let Ok(mut channels) = self.channels.lock() else {
            return Vec::new();
        };
        channels.retain(|_, c| c.sender.receiver_count() > 0);
        channels
            .iter()
            .map(|(id, c)| (id.clone(), c.published))
            .collect()
    }

    /// Publishes events other processes logged. Runs until the process ends.
    pub async fn watch_store(self: Arc<Self>, db: Db, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.catch_up(&db).await {
                tracing::warn!(error = %e, "event watcher: cannot read the store");
            }
        }
    }

    async fn catch_up(&self, db: &Db) -> Result<(), sea_orm::DbErr> {
        let watched = self.watched();
        for chunk in watched.chunks(500) {
            let ids: Vec<String> = chunk.iter().map(|(id, _)| id.clone()).collect();
            let lasts: Vec<(String, i64)> = task::Entity::find()
                .select_only()
                .column(task::Column::Id)
                .column(task::Column::LastSeq)
                .filter(task::Column::Id.is_in(ids))
                .into_tuple()
                .all(db)
                .await?;
            for (id, last) in lasts {
                let published = chunk
                    .iter()
                    .find(|(t, _)| *t == id)
                    .map(|(_, p)| *p)
                    .unwrap_or(0);
                if last > published {
                    // Published is 0 for a channel nothing went through yet: subscribers
                    // read the store themselves first, so start from their side of it.
                    let from = if published == 0 { last - 1 } else { published };
                    let fresh = log::read_after(db, &id, from, 1000).await?;
                    self.publish(&id, &fresh);
                }
            }
        }
        Ok(())
    }
}
