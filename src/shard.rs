//! Shards: one run split over several generator processes (`run --shard I/N`), whose results
//! files `sipbench merge` adds up. Pure: the splitting rules only.
//!
//! Shards are numbered from 0 (as a Kubernetes Indexed Job numbers its pods in
//! `JOB_COMPLETION_INDEX`). Shard `i` of `n` takes, deterministically and without overlap:
//!
//! - of every whole number the plan gives (closed-loop `concurrency`, `connections`, the
//!   `sessions` budget), `total / n`, plus one for the first `total % n` shards: the parts sum
//!   to the total exactly. A shard whose part would be 0 is refused;
//! - of an open-loop `rate`, `rate / n`;
//! - the session ids `i`, `i + n`, `i + 2n`, ... (so Call-IDs, tags and the default user names
//!   `u<id>` never meet);
//! - of the `--users` file, users `i`, `i + n`, `i + 2n`, ... (in file order, taken by its
//!   sessions as the order says);
//! - of the `--local-addr` list, addresses `i`, `i + n`, ...
//!
//! `max_in_flight` (open loop) stays a per-process cap.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::plan::{Load, PhasePlan};
use crate::results::ShardInfo;

/// One shard of a run: `index` (from 0) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

/// Why a run does not split.
#[derive(Debug, Error, PartialEq)]
pub enum ShardError {
    /// Not `I/N` with `I < N`.
    #[error("shard {0}: expected I/N, 0 <= I < N (shards are numbered from 0)")]
    Syntax(String),
    /// A whole number too small to give every shard at least one.
    #[error("phase {phase:?}: {field} {total} cannot be split over {count} shards (each needs at least 1)")]
    TooSmall {
        /// The phase.
        phase: String,
        /// The field (`concurrency`, `connections`, `sessions`).
        field: &'static str,
        /// Its total.
        total: u64,
        /// Shards.
        count: u32,
    },
    /// Fewer items in a list than shards.
    #[error("{flag}: {len} entries cannot be split over {count} shards without overlap")]
    TooFew {
        /// The flag (`--users`, `--local-addr`).
        flag: &'static str,
        /// Entries in the list.
        len: usize,
        /// Shards.
        count: u32,
    },
}

impl Shard {
    /// The whole run: shard 0 of 1.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`.
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        if count == 0 || index >= count {
            return Err(ShardError::Syntax(format!("{index}/{count}")));
        }
        Ok(Shard { index, count })
    }

    /// Index, from 0.
    pub fn index(self) -> u32 {
        self.index
    }

    /// Shards in the run.
    pub fn count(self) -> u32 {
        self.count
    }

    /// As the results file records it.
    pub fn info(self) -> ShardInfo {
        ShardInfo {
            index: self.index,
            count: self.count,
        }
    }

    /// This shard's part of `total`: the parts of all shards sum to `total`, the first
    /// `total % count` shards taking one more.
    pub fn part(self, total: u64) -> u64 {
        let n = u64::from(self.count);
        total / n + u64::from(u64::from(self.index) < total % n)
    }

    /// This shard's share of a list: entries `index`, `index + count`, ...
    pub fn pick<T: Clone>(self, items: &[T]) -> Vec<T> {
        items
            .iter()
            .skip(self.index as usize)
            .step_by(self.count as usize)
            .cloned()
            .collect()
    }

    /// As [`Shard::pick`], refusing a non-empty list with fewer entries than shards.
    pub fn pick_all<T: Clone>(self, items: &[T], flag: &'static str) -> Result<Vec<T>, ShardError> {
        if !items.is_empty() && items.len() < self.count as usize {
            return Err(ShardError::TooFew {
                flag,
                len: items.len(),
                count: self.count,
            });
        }
        Ok(self.pick(items))
    }

    /// The id of this shard's `seq`-th session (from 0).
    pub fn session_id(self, seq: u64) -> u64 {
        seq * u64::from(self.count) + u64::from(self.index)
    }

    /// The sequence number of one of this shard's session ids.
    pub fn seq_of(self, id: u64) -> u64 {
        id / u64::from(self.count)
    }

    /// This shard's part of `plan`.
    pub fn plan(self, plan: &PhasePlan) -> Result<PhasePlan, ShardError> {
        let mut p = plan.clone();
        if self.count == 1 {
            return Ok(p);
        }
        let part = |field: &'static str, total: u64| {
            let n = self.part(total);
            if n == 0 {
                return Err(ShardError::TooSmall {
                    phase: plan.name.clone(),
                    field,
                    total,
                    count: self.count,
                });
            }
            Ok(n)
        };
        p.load = match plan.load {
            Load::Closed { concurrency } => Load::Closed {
                concurrency: part("concurrency", concurrency as u64)? as usize,
            },
            Load::Open { rate } => Load::Open {
                rate: rate / f64::from(self.count),
            },
        };
        if plan.connections > 0 {
            p.connections = part("connections", plan.connections as u64)? as usize;
        }
        if let Some(sessions) = plan.sessions {
            p.sessions = Some(part("sessions", sessions)?);
        }
        Ok(p)
    }
}

impl Default for Shard {
    fn default() -> Shard {
        Shard::WHOLE
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError::Syntax(s.to_owned());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (i, n) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        Shard::new(i, n).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(load: Load, connections: usize, sessions: Option<u64>) -> PhasePlan {
        let mut p = crate::generator::RunConfig::default().plan().unwrap().1.remove(0);
        p.load = load;
        p.connections = connections;
        p.sessions = sessions;
        p
    }

    #[test]
    fn parts_sum_to_the_total() {
        for count in 1..=7u32 {
            for total in [0u64, 1, 2, 6, 7, 64, 1001] {
                let parts: Vec<u64> = (0..count).map(|i| Shard::new(i, count).unwrap().part(total)).collect();
                assert_eq!(parts.iter().sum::<u64>(), total, "{total} over {count}");
                assert!(parts.windows(2).all(|w| w[0] >= w[1] && w[0] - w[1] <= 1), "{parts:?}");
            }
        }
    }

    #[test]
    fn plans_split_so_that_the_shards_add_up() {
        let p = plan(Load::Closed { concurrency: 10 }, 7, Some(100));
        let parts: Vec<PhasePlan> = (0..3).map(|i| Shard::new(i, 3).unwrap().plan(&p).unwrap()).collect();
        let conc: usize = parts
            .iter()
            .map(|p| match p.load {
                Load::Closed { concurrency } => concurrency,
                Load::Open { .. } => unreachable!(),
            })
            .sum();
        assert_eq!(conc, 10);
        assert_eq!(parts.iter().map(|p| p.connections).sum::<usize>(), 7);
        assert_eq!(parts.iter().map(|p| p.sessions.unwrap()).sum::<u64>(), 100);
        assert_eq!(parts[0].sessions, Some(34));

        let p = plan(Load::Open { rate: 300.0 }, 0, None);
        let part = Shard::new(1, 4).unwrap().plan(&p).unwrap();
        assert_eq!(part.load, Load::Open { rate: 75.0 });
        assert_eq!((part.connections, part.sessions), (0, None));

        let p = plan(Load::Closed { concurrency: 2 }, 0, None);
        let e = Shard::new(2, 3).unwrap().plan(&p).unwrap_err();
        assert!(
            matches!(
                e,
                ShardError::TooSmall {
                    field: "concurrency",
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(Shard::WHOLE.plan(&p).unwrap(), p);
    }

    #[test]
    fn session_ids_users_and_addresses_never_overlap() {
        let count = 3;
        let shards: Vec<Shard> = (0..count).map(|i| Shard::new(i, count).unwrap()).collect();
        let mut ids = std::collections::BTreeSet::new();
        for s in &shards {
            for seq in 0..1000 {
                let id = s.session_id(seq);
                assert!(ids.insert(id), "{id} twice");
                assert_eq!(s.seq_of(id), seq);
            }
        }
        let users: Vec<u32> = (0..10).collect();
        let picks: Vec<Vec<u32>> = shards.iter().map(|s| s.pick(&users)).collect();
        assert_eq!(picks[0], [0, 3, 6, 9]);
        assert_eq!(picks[2], [2, 5, 8]);
        let mut all: Vec<u32> = picks.concat();
        all.sort();
        assert_eq!(all, users);
        assert!(shards[0].pick_all(&[1, 2], "--local-addr").is_err());
        assert_eq!(shards[1].pick_all::<u8>(&[], "--local-addr").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn parses_i_of_n_from_zero() {
        assert_eq!("2/3".parse::<Shard>().unwrap(), Shard::new(2, 3).unwrap());
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!(Shard::new(1, 4).unwrap().to_string(), "1/4");
    }
}
