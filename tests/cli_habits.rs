//! The habits users bring from SIPp, wrk2 and oha: shipped profiles by name from any directory,
//! `--quiet` that still says where the results went, `--version` with the revision and the
//! backends, shell completions and a man page.

mod common;
use common::sipbench;

use std::path::Path;
use std::process::{Command, Output};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// `--profile smoke` from a directory with no profiles/ in sight: the embedded profile runs,
/// and `-q` prints nothing but the results path (relative to that directory), on stderr;
/// `compare -q` likewise.
#[test]
fn shipped_profiles_run_by_name_anywhere_and_quiet_prints_the_results_path() {
    let dir = tempfile::tempdir().unwrap();
    let o = sipbench()
        .current_dir(dir.path())
        .args(["run", "--profile", "smoke", "--phase", "tls-sessions"])
        .args(["-d", "200ms", "--warmup", "0s", "-w", "1", "-q"])
        .output()
        .unwrap();
    assert!(ok(&o).is_empty(), "quiet printed on stdout: {}", text(&o.stdout));
    let err = text(&o.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    let path = lines[0].strip_prefix("results written to ").expect(&err);
    let r = sipbench::results::RunResult::read(&dir.path().join(path)).unwrap();
    assert_eq!(r.profile, "smoke");
    // The revision `--version` prints is the one the results file records.
    assert_eq!(r.environment.git_revision, sipbench::version::REVISION);
    assert_eq!(r.phases.len(), 1);
    assert_eq!(r.phases[0].plan.name, "tls-sessions");
    assert!(r.phases[0].sessions.ok > 0, "{:?}", r.phases[0].sessions);

    // compare -q: no table, only where the compare file went.
    let o = sipbench()
        .current_dir(dir.path())
        .args([
            "compare",
            "--backends",
            "aws-lc-rs,ring",
            "--rounds",
            "1",
            "--mode",
            "tls",
            "-c",
            "1",
        ])
        .args([
            "-d",
            "200ms",
            "--warmup",
            "0s",
            "--memory-sessions",
            "0",
            "-w",
            "1",
            "-q",
            "-o",
            "c.json",
        ])
        .output()
        .unwrap();
    assert!(ok(&o).is_empty(), "quiet printed on stdout: {}", text(&o.stdout));
    assert_eq!(text(&o.stderr), "compare file written to c.json\n");
    assert!(dir.path().join("c.json").exists());
}

/// A bare name that is neither a file nor a shipped profile is a usage error naming the flag
/// and the choices; a path is read as a file, and a file of that name wins over the embedded.
#[test]
fn unknown_profile_names_are_usage_errors_listing_the_shipped_ones() {
    let dir = tempfile::tempdir().unwrap();
    let o = sipbench()
        .current_dir(dir.path())
        .args(["run", "--profile", "smok"])
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--profile smok"), "{err}");
    for name in ["bulk", "default", "hold", "resumption", "smoke", "trust"] {
        assert!(err.contains(name), "{name} missing: {err}");
    }
    let o = sipbench()
        .current_dir(dir.path())
        .args(["run", "--profile", "smoke.toml"])
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("reading profile smoke.toml"), "{err}");

    // A local file named like a shipped profile is the one that runs.
    std::fs::write(
        dir.path().join("smoke"),
        "name = \"mine\"\n[[phase]]\nname = \"only\"\nmode = \"tcp\"\nconcurrency = 1\nwarmup = \"0s\"\nduration = \"100ms\"\n",
    )
    .unwrap();
    let o = sipbench()
        .current_dir(dir.path())
        .args(["run", "--profile", "smoke", "-w", "1", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(json["profile"], "mine");
}

#[test]
fn profiles_lists_every_shipped_profile_with_its_description_and_prints_one() {
    let out = ok(&sipbench().arg("profiles").output().unwrap());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let profile = sipbench::plan::Profile::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(stem.as_str()))
            .unwrap_or_else(|| panic!("{stem} not listed:\n{out}"));
        assert!(line.ends_with(profile.description.as_deref().unwrap()), "{line}");
    }
    let toml = ok(&sipbench().args(["profiles", "smoke"]).output().unwrap());
    assert_eq!(toml, std::fs::read_to_string(dir.join("smoke.toml")).unwrap());
    let o = sipbench().args(["profiles", "nope"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// `-V` is one line with the revision the results file records; `--version` adds every
/// backend with its library version, as `sipbench backends` names them.
#[test]
fn version_names_the_revision_the_build_and_the_backends() {
    let short = ok(&sipbench().arg("-V").output().unwrap());
    let long = ok(&sipbench().arg("--version").output().unwrap());
    let rev = sipbench::version::REVISION;
    let first = format!(
        "sipbench {} (rev {rev}, {} build)",
        env!("CARGO_PKG_VERSION"),
        sipbench::version::BUILD_PROFILE
    );
    assert_eq!(short.trim_end(), first);
    assert!(long.starts_with(&first), "{long}");
    assert!(rev != "unknown" || !Path::new(env!("CARGO_MANIFEST_DIR")).join(".git").exists());
    let backends: serde_json::Value =
        serde_json::from_str(&ok(&sipbench().args(["backends", "--json"]).output().unwrap())).unwrap();
    for b in backends["backends"].as_array().unwrap() {
        let library = b["library"].as_str().unwrap();
        assert!(long.contains(library), "{library} missing:\n{long}");
    }
    assert!(long.contains("aws-lc-rs") && long.contains("OpenSSL 3"), "{long}");
}

#[test]
fn completions_name_the_subcommands_and_their_flags() {
    let bash = ok(&sipbench().args(["completions", "bash"]).output().unwrap());
    for needle in [
        "sipbench__subcmd__run)",
        "sipbench,serve)",
        "sipbench,audit)",
        "sipbench,profiles)",
        "--profile",
        "--quiet",
        "--tls-addr",
        "--backend",
    ] {
        assert!(bash.contains(needle), "bash completions lack {needle}");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = ok(&sipbench().args(["completions", shell]).output().unwrap());
        assert!(script.contains("--profile"), "{shell}");
    }
    let o = sipbench().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

const SUBCOMMANDS: [&str; 11] = [
    "run",
    "serve",
    "pki",
    "report",
    "diff",
    "audit",
    "backends",
    "compare",
    "profiles",
    "completions",
    "man",
];

/// The man page is roff (`.TH` first after the preamble) that names every subcommand, and the
/// formatters installed here render it without a warning.
#[test]
fn the_man_page_is_roff_that_renders_and_names_the_subcommands() {
    let page = ok(&sipbench().arg("man").output().unwrap());
    let first_macro = page
        .lines()
        .find(|l| l.starts_with('.') && !l.starts_with(".ie") && !l.starts_with(".el"))
        .unwrap();
    assert!(first_macro.starts_with(".TH sipbench 1"), "{first_macro}");
    for sub in SUBCOMMANDS {
        assert!(page.contains(&format!("sipbench\\-{sub}(1)")), "{sub} missing");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sipbench.1");
    std::fs::write(&file, &page).unwrap();
    render(&file, "sipbench-run(1)");

    // One page per subcommand.
    let pages = dir.path().join("pages");
    ok(&sipbench().args(["man", "--out-dir"]).arg(&pages).output().unwrap());
    for sub in SUBCOMMANDS {
        let page = pages.join(format!("sipbench-{sub}.1"));
        assert!(page.exists(), "{} missing", page.display());
    }
    render(&pages.join("sipbench-run.1"), "--profile");
}

/// Renders `page` with each formatter installed (man, groff, mandoc), expecting `needle` in the
/// text and no warnings; says which are missing.
fn render(page: &Path, needle: &str) {
    let tools: [(&str, &[&str]); 3] = [
        ("man", &["-l"]),
        ("groff", &["-man", "-Tutf8", "-ww"]),
        ("mandoc", &["-Tutf8", "-Wwarning"]),
    ];
    for (tool, args) in tools {
        let o = match Command::new(tool)
            .args(args)
            .arg(page)
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .env("MANWIDTH", "120")
            .output()
        {
            Ok(o) => o,
            Err(e) => {
                eprintln!("{tool} not installed ({e}): not rendered with it");
                continue;
            }
        };
        let out = text(&o.stdout);
        let err = text(&o.stderr);
        assert!(o.status.success(), "{tool}: {err}");
        assert!(err.trim().is_empty(), "{tool} warns: {err}");
        // Formatters may hyphenate or embolden with backspaces; compare letters only.
        let plain: String = out
            .replace('\u{8}', "")
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '\u{2010}')
            .collect();
        let needle: String = needle.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(
            plain.contains(&needle) || out.contains(&needle),
            "{tool} output lacks {needle}:\n{out}"
        );
    }
}
