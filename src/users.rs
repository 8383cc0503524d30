//! User lists (`--users FILE` of `run`, `--auth FILE` of `serve`): who the generator's sessions
//! are and what the reference server accepts. Pure: parsing only.
//!
//! The file is CSV, one user a line, modelled on SIPp's injection files:
//!
//! ```text
//! # user, password, auth user, domain, display name (all but the user optional)
//! SEQUENTIAL
//! alice,secret-a,,example.test,Alice Liddell
//! bob;secret-b;bob-auth          (';' separates as well, as in SIPp files)
//! carol,secret-c,,,"Carol, Jr"   (a quoted field may hold the separator)
//! ```
//!
//! An optional first line `SEQUENTIAL` or `RANDOM` (SIPp's keywords) sets how sessions take
//! users: in order, round robin (session `n` is user `n mod len`), or in a random order
//! (a fixed permutation of the session ids, reproducible run to run). `--user-order` overrides
//! it. Lines starting with `#` and empty lines are skipped. The separator is `;` when the first
//! user line has a `;` and no `,`, else `,`.

use std::path::Path;

use thiserror::Error;

/// The most users a file may hold.
pub const MAX_USERS: usize = 1_000_000;

/// One user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user part of From/To and the address of record.
    pub user: String,
    /// The digest password; `None` when empty (the session answers no challenge).
    pub password: Option<String>,
    /// The digest user name, when it differs from `user`.
    pub auth_user: Option<String>,
    /// The user's SIP domain, when it differs from the run's.
    pub domain: Option<String>,
    /// The display name in From/To.
    pub display: Option<String>,
}

impl User {
    /// The name digest credentials carry: the auth user, else the user.
    pub fn auth_name(&self) -> &str {
        self.auth_user.as_deref().unwrap_or(&self.user)
    }
}

/// How sessions take users from the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum UserOrder {
    /// Round robin in file order.
    #[default]
    Sequential,
    /// A random (fixed, reproducible) order.
    Random,
}

/// A user list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Users {
    /// The users, in file order.
    pub users: Vec<User>,
    /// The order the file asks for (`SEQUENTIAL`/`RANDOM`), if it says.
    pub order: Option<UserOrder>,
}

/// Why a user list does not load; names the line.
#[derive(Debug, Error)]
pub enum UsersError {
    /// The file cannot be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A line does not parse.
    #[error("line {line}: {why}")]
    Line {
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        why: String,
    },
    /// No users at all.
    #[error("no users in the file")]
    Empty,
    /// More than [`MAX_USERS`].
    #[error("more than {MAX_USERS} users")]
    TooMany,
}

impl Users {
    /// Reads and parses a user list file.
    pub fn load(path: &Path) -> Result<Users, UsersError> {
        let text = std::fs::read_to_string(path).map_err(|source| UsersError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Users::parse(&text)
    }

    /// Parses a user list.
    pub fn parse(text: &str) -> Result<Users, UsersError> {
        let mut order = None;
        let mut first_user_line = None;
        for l in text.lines() {
            let t = l.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            match t.to_ascii_uppercase().as_str() {
                "SEQUENTIAL" if order.is_none() && first_user_line.is_none() => order = Some(UserOrder::Sequential),
                "RANDOM" if order.is_none() && first_user_line.is_none() => order = Some(UserOrder::Random),
                _ => {
                    first_user_line = Some(t);
                    break;
                }
            }
        }
        let sep = match first_user_line {
            Some(l) if l.contains(';') && !l.contains(',') => b';',
            _ => b',',
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(sep)
            .flexible(true)
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut users = Vec::new();
        let mut keyword_seen = false;
        for record in reader.records() {
            let record = record.map_err(|e| UsersError::Line {
                line: e.position().map_or(0, |p| p.line()),
                why: e.to_string(),
            })?;
            let line = record.position().map_or(0, |p| p.line());
            let field = |i: usize| record.get(i).filter(|f| !f.is_empty()).map(str::to_owned);
            if record.len() == 1 && !keyword_seen && users.is_empty() {
                let f = record.get(0).unwrap_or("").to_ascii_uppercase();
                if f == "SEQUENTIAL" || f == "RANDOM" {
                    keyword_seen = true;
                    continue;
                }
            }
            if record.iter().all(str::is_empty) {
                continue;
            }
            if record.len() > 5 {
                return Err(UsersError::Line {
                    line,
                    why: format!(
                        "{} fields; at most 5: user, password, auth user, domain, display name",
                        record.len()
                    ),
                });
            }
            let Some(user) = field(0) else {
                return Err(UsersError::Line {
                    line,
                    why: "the user (first field) is empty".into(),
                });
            };
            let bad = |what: &str, v: &str| {
                v.chars()
                    .any(|c| c.is_control() || (what != "display name" && c.is_whitespace()))
            };
            for (what, v) in [
                ("user", Some(&user)),
                ("auth user", field(2).as_ref()),
                ("domain", field(3).as_ref()),
                ("display name", field(4).as_ref()),
            ] {
                if let Some(v) = v
                    && (bad(what, v) || v.contains(['<', '>', '"', '@']) && what != "auth user")
                {
                    return Err(UsersError::Line {
                        line,
                        why: format!("the {what} {v:?} holds a character SIP headers cannot carry here"),
                    });
                }
            }
            if users.len() == MAX_USERS {
                return Err(UsersError::TooMany);
            }
            users.push(User {
                user,
                password: record.get(1).filter(|p| !p.is_empty()).map(str::to_owned),
                auth_user: field(2),
                domain: field(3),
                display: field(4),
            });
        }
        if users.is_empty() {
            return Err(UsersError::Empty);
        }
        Ok(Users { users, order })
    }

    /// The user of session `id` in `order`.
    pub fn pick(&self, id: u64, order: UserOrder) -> &User {
        let n = self.users.len() as u64;
        let i = match order {
            UserOrder::Sequential => id % n,
            // A bijection on u64 (splitmix64's finalizer), then the modulus: a fixed order that
            // looks random and covers every user about equally.
            UserOrder::Random => {
                let mut z = id.wrapping_add(0x9e37_79b9_7f4a_7c15);
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                (z ^ (z >> 31)) % n
            }
        };
        &self.users[i as usize]
    }

    /// Digest name to password, for users that have one (a later line wins over an earlier one
    /// of the same name).
    pub fn passwords(&self) -> std::collections::HashMap<String, String> {
        self.users
            .iter()
            .filter_map(|u| Some((u.auth_name().to_owned(), u.password.clone()?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_separators_quotes_comments_and_the_order_keyword() {
        let u = Users::parse(
            "# users\nRANDOM\nalice,secret-a,,example.test,Alice Liddell\n\ncarol,\"pw,with,commas\",,,\"Carol, Jr\"\nbob,,bob-auth\n",
        )
        .unwrap();
        assert_eq!(u.order, Some(UserOrder::Random));
        assert_eq!(u.users.len(), 3);
        assert_eq!(u.users[0].domain.as_deref(), Some("example.test"));
        assert_eq!(u.users[0].display.as_deref(), Some("Alice Liddell"));
        assert_eq!(u.users[1].password.as_deref(), Some("pw,with,commas"));
        assert_eq!(u.users[1].display.as_deref(), Some("Carol, Jr"));
        assert_eq!(u.users[2].password, None);
        assert_eq!(u.users[2].auth_name(), "bob-auth");

        let s = Users::parse("SEQUENTIAL\nalice;secret;;example.test\nbob;pw\n").unwrap();
        assert_eq!(s.order, Some(UserOrder::Sequential));
        assert_eq!(s.users[1].password.as_deref(), Some("pw"));
        let p = s.passwords();
        assert_eq!(p.get("alice").map(String::as_str), Some("secret"));
        assert_eq!(p.get("carol"), None);
        assert_eq!(Users::parse("alice\n").unwrap().order, None);
    }

    #[test]
    fn names_the_bad_line() {
        let e = |t: &str| Users::parse(t).unwrap_err().to_string();
        assert_eq!(e("# nothing\n"), "no users in the file");
        assert!(
            e("alice,pw\n,pw\n").starts_with("line 2: the user"),
            "{}",
            e("alice,pw\n,pw\n")
        );
        assert!(e("a,b,c,d,e,f\n").starts_with("line 1: 6 fields"));
        assert!(e("ali ce,pw\n").starts_with("line 1: the user \"ali ce\""));
        assert!(e("alice,pw,,exa<mple\n").starts_with("line 1: the domain"));
    }

    #[test]
    fn orders_cover_every_user() {
        let u = Users::parse(&(0..100).map(|i| format!("u{i},p\n")).collect::<String>()).unwrap();
        assert_eq!(u.pick(0, UserOrder::Sequential).user, "u0");
        assert_eq!(u.pick(101, UserOrder::Sequential).user, "u1");
        let mut seen = std::collections::BTreeMap::new();
        for id in 0..10_000 {
            *seen.entry(&u.pick(id, UserOrder::Random).user).or_insert(0) += 1;
        }
        assert_eq!(seen.len(), 100);
        assert!(seen.values().all(|&n| (50..=150).contains(&n)), "{seen:?}");
        // Reproducible.
        assert_eq!(u.pick(7, UserOrder::Random), u.pick(7, UserOrder::Random));
    }
}
