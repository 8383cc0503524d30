//! The rustls server's session cache (stateful resumption: TLS 1.3 ticket ids, TLS 1.2
//! session ids), with constant-time lookups, inserts and removals.
//!
//! rustls's own `ServerSessionMemoryCache` keeps its eviction order in a `VecDeque` and finds
//! a key in it by a linear search on every `take`: a TLS 1.3 stateful resumption takes its
//! session out of the cache, so with the cache full (10,000 entries by default here, two
//! tickets issued per handshake and one used) every resumed handshake scanned thousands of
//! keys under one lock shared by every server thread. Here a removal leaves its slot in the
//! order queue stale (it is skipped when it reaches the front), and the cache is split into
//! shards by key, each with its own lock.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Shards: locks taken by concurrent handshakes rarely meet. Keys are random (ticket ids and
/// session ids come from the CSPRNG), so their first bytes spread them evenly.
const SHARDS: usize = 16;

/// A bounded in-memory store of server sessions, oldest evicted first.
#[derive(Debug)]
pub struct ServerSessionStore {
    shards: Vec<Mutex<Shard>>,
}

/// One shard: the sessions by key, and the order they came in.
#[derive(Debug, Default)]
struct Shard {
    /// Session value and the insertion number it was stored under.
    map: HashMap<Vec<u8>, (Vec<u8>, u64)>,
    /// Keys in insertion order with their insertion number; an entry whose number no longer
    /// matches the map's (taken, or stored again since) is stale and skipped.
    order: VecDeque<(Vec<u8>, u64)>,
    /// The next insertion number.
    seq: u64,
    /// Most sessions held.
    limit: usize,
}

impl Shard {
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        let seq = self.seq;
        self.seq += 1;
        self.order.push_back((key.clone(), seq));
        self.map.insert(key, (value, seq));
        while self.map.len() > self.limit {
            self.evict_oldest();
        }
        // Stale entries (taken sessions) would otherwise pile up in the queue.
        if self.order.len() > 2 * self.limit + 16 {
            let map = &self.map;
            self.order
                .retain(|(k, s)| map.get(k).is_some_and(|(_, live)| live == s));
        }
    }

    fn evict_oldest(&mut self) {
        while let Some((key, seq)) = self.order.pop_front() {
            if self.map.get(&key).is_some_and(|(_, live)| *live == seq) {
                self.map.remove(&key);
                return;
            }
        }
    }
}

impl ServerSessionStore {
    /// A store holding at most about `size` sessions (at least one per shard).
    pub fn new(size: usize) -> ServerSessionStore {
        let limit = size.div_ceil(SHARDS).max(1);
        ServerSessionStore {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        limit,
                        ..Default::default()
                    })
                })
                .collect(),
        }
    }

    fn shard(&self, key: &[u8]) -> std::sync::MutexGuard<'_, Shard> {
        let i = key.first().map_or(0, |&b| usize::from(b) % SHARDS);
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sessions held.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).map.len())
            .sum()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl rustls::server::StoresServerSessions for ServerSessionStore {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.shard(&key).put(key, value);
        true
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.shard(key).map.get(key).map(|(v, _)| v.clone())
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        // The key's slot in the order queue goes stale; it is skipped later.
        self.shard(key).map.remove(key).map(|(v, _)| v)
    }

    fn can_cache(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::server::StoresServerSessions;

    /// A key that lands in shard 0, numbered `n`.
    fn key(n: u32) -> Vec<u8> {
        let mut k = vec![0u8];
        k.extend_from_slice(&n.to_be_bytes());
        k
    }

    #[test]
    fn get_keeps_and_take_removes() {
        let s = ServerSessionStore::new(100);
        assert!(s.put(key(1), b"one".to_vec()));
        assert_eq!(s.get(&key(1)).as_deref(), Some(&b"one"[..]));
        assert_eq!(s.get(&key(1)).as_deref(), Some(&b"one"[..]));
        assert_eq!(s.take(&key(1)).as_deref(), Some(&b"one"[..]));
        assert_eq!(s.take(&key(1)), None);
        assert_eq!(s.get(&key(1)), None);
        assert!(s.is_empty());
    }

    #[test]
    fn a_full_shard_evicts_its_oldest_live_session() {
        // 16 shards of 2 sessions each.
        let s = ServerSessionStore::new(2 * SHARDS);
        s.put(key(1), b"1".to_vec());
        s.put(key(2), b"2".to_vec());
        s.put(key(3), b"3".to_vec());
        assert_eq!(s.get(&key(1)), None, "the oldest went");
        assert!(s.get(&key(2)).is_some() && s.get(&key(3)).is_some());
        // A taken session leaves a stale slot, which eviction skips: 2 goes, not a live one
        // in its place.
        s.take(&key(2));
        s.put(key(4), b"4".to_vec());
        assert_eq!(s.len(), 2);
        s.put(key(5), b"5".to_vec());
        assert_eq!(s.get(&key(3)), None);
        assert!(s.get(&key(4)).is_some() && s.get(&key(5)).is_some());
        // Storing a key again renews it: its old slot is stale.
        s.put(key(4), b"4 again".to_vec());
        s.put(key(6), b"6".to_vec());
        assert_eq!(s.get(&key(5)), None);
        assert_eq!(s.get(&key(4)).as_deref(), Some(&b"4 again"[..]));
    }

    #[test]
    fn stale_slots_do_not_pile_up() {
        let s = ServerSessionStore::new(4 * SHARDS);
        for n in 0..10_000 {
            s.put(key(n), vec![1]);
            s.take(&key(n));
        }
        let shard = s.shards[0].lock().unwrap();
        assert!(shard.order.len() <= 2 * shard.limit + 16, "{}", shard.order.len());
        assert!(shard.map.is_empty());
    }

    #[test]
    fn keys_spread_over_the_shards() {
        let s = ServerSessionStore::new(256);
        for b in 0..=255u8 {
            s.put(vec![b, 1, 2, 3], vec![b]);
        }
        assert_eq!(s.len(), 256);
        assert!(s.shards.iter().all(|m| m.lock().unwrap().map.len() == 256 / SHARDS));
    }
}
