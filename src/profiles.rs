//! The shipped load profiles, embedded: every file of `profiles/` is in the binary, so
//! `--profile smoke` works from any directory. The files stay the source of truth; a unit test
//! checks that [`EMBEDDED`] lists exactly the files there.
//!
//! `--profile ARG` names a file when one exists at that path; otherwise a bare name (no `/`,
//! no `.toml`) names an embedded profile ([`resolve`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use crate::plan::Profile;

/// One embedded profile: its file name without `.toml`, and its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Embedded {
    /// The name `--profile` takes (the file's stem).
    pub name: &'static str,
    /// The profile's TOML, as in `profiles/NAME.toml`.
    pub text: &'static str,
}

impl Embedded {
    /// The parsed profile.
    pub fn profile(&self) -> Result<Profile> {
        Profile::parse(self.text).with_context(|| format!("the embedded profile {}", self.name))
    }
}

/// Every file of `profiles/`, by name.
pub const EMBEDDED: &[Embedded] = &[
    Embedded {
        name: "bulk",
        text: include_str!("../profiles/bulk.toml"),
    },
    Embedded {
        name: "default",
        text: crate::plan::DEFAULT_PROFILE,
    },
    Embedded {
        name: "hold",
        text: include_str!("../profiles/hold.toml"),
    },
    Embedded {
        name: "resumption",
        text: include_str!("../profiles/resumption.toml"),
    },
    Embedded {
        name: "shapes",
        text: include_str!("../profiles/shapes.toml"),
    },
    Embedded {
        name: "smoke",
        text: include_str!("../profiles/smoke.toml"),
    },
    Embedded {
        name: "trust",
        text: include_str!("../profiles/trust.toml"),
    },
];

/// The embedded profile of this name.
pub fn embedded(name: &str) -> Option<&'static Embedded> {
    EMBEDDED.iter().find(|e| e.name == name)
}

/// The names of the embedded profiles, comma-separated.
pub fn names() -> String {
    EMBEDDED.iter().map(|e| e.name).collect::<Vec<_>>().join(", ")
}

/// A `--profile` that is neither a file nor an embedded profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--profile {name}: no such file, and no embedded profile of that name (embedded: {known})")]
pub struct UnknownProfile {
    /// What was given.
    pub name: String,
    /// The embedded profiles' names, comma-separated.
    pub known: String,
}

/// What `--profile ARG` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A profile file.
    File(PathBuf),
    /// An embedded profile.
    Embedded(&'static Embedded),
}

/// Resolves `--profile ARG`: a file when one exists at that path (a file named `smoke` in the
/// current directory wins); else, for a bare name (no path separator, no `.toml`), the embedded
/// profile of that name; anything else is a file, whose read error names it.
pub fn resolve(arg: &Path) -> Result<Resolved, UnknownProfile> {
    if arg.exists() {
        return Ok(Resolved::File(arg.to_owned()));
    }
    let bare = arg.components().count() == 1 && arg.extension().is_none_or(|e| e != "toml");
    let Some(name) = arg.to_str().filter(|_| bare) else {
        return Ok(Resolved::File(arg.to_owned()));
    };
    embedded(name).map(Resolved::Embedded).ok_or_else(|| UnknownProfile {
        name: name.to_owned(),
        known: names(),
    })
}

/// Options of `sipbench profiles`.
#[derive(Debug, Clone, Args)]
pub struct ProfilesArgs {
    /// Print this embedded profile's TOML (to copy and edit) instead of the list.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
}

/// The list: one line per embedded profile with its phase count and description.
pub fn list() -> Result<String> {
    let mut out = String::new();
    for e in EMBEDDED {
        let p = e.profile()?;
        let _ = writeln!(
            out,
            "{:<11} {:>2} phase{}  {}",
            e.name,
            p.phases.len(),
            if p.phases.len() == 1 { " " } else { "s" },
            p.description.as_deref().unwrap_or("")
        );
    }
    Ok(out)
}

/// Entry point.
pub fn main(args: &ProfilesArgs) -> Result<ExitCode> {
    match &args.name {
        Some(name) => {
            let e = embedded(name).ok_or_else(|| UnknownProfile {
                name: name.clone(),
                known: names(),
            })?;
            print!("{}", e.text);
        }
        None => {
            print!("{}", list()?);
            println!("\nrun one with `sipbench run --profile NAME`; `sipbench profiles NAME` prints its TOML");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_profiles_is_embedded_under_its_own_name() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
        let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .map(|p| {
                let stem = p.file_stem().unwrap().to_str().unwrap().to_owned();
                (stem, std::fs::read_to_string(&p).unwrap())
            })
            .collect();
        files.sort();
        let embedded: Vec<(String, String)> = EMBEDDED
            .iter()
            .map(|e| (e.name.to_owned(), e.text.to_owned()))
            .collect();
        assert_eq!(
            embedded.iter().map(|e| &e.0).collect::<Vec<_>>(),
            files.iter().map(|f| &f.0).collect::<Vec<_>>(),
            "EMBEDDED must list exactly the files in profiles/, sorted"
        );
        assert_eq!(embedded, files);
        for e in EMBEDDED {
            let p = e.profile().unwrap();
            assert_eq!(p.name.as_deref(), Some(e.name), "the name inside {}.toml", e.name);
            assert!(p.description.is_some(), "{} has no description", e.name);
        }
    }

    #[test]
    fn bare_names_pick_embedded_profiles_and_paths_stay_files() {
        assert_eq!(
            resolve(Path::new("smoke")),
            Ok(Resolved::Embedded(embedded("smoke").unwrap()))
        );
        for file in ["smoke.toml", "./smoke", "dir/smoke", "/nowhere/smoke"] {
            assert_eq!(resolve(Path::new(file)), Ok(Resolved::File(file.into())), "{file}");
        }
        let e = resolve(Path::new("smok")).unwrap_err();
        assert_eq!(e.name, "smok");
        let msg = e.to_string();
        assert!(msg.starts_with("--profile smok:"), "{msg}");
        assert!(EMBEDDED.iter().all(|p| msg.contains(p.name)), "{msg}");
    }
}
