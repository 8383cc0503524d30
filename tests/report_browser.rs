//! `report.html` opened in a real browser: headless Chromium renders the report of a fresh run
//! and of committed results (two runs, a capacity search, a compare file), dumps the DOM it
//! built and takes a screenshot. The DOM must hold every section, nested as written (phases in
//! their run), every chart's SVG, and no error text; the screenshot must be the size asked and
//! show text and the charts' series colours, not a blank page.
//!
//! Skipped, with the reason printed, where no Chromium is installed (`.ci/run` installs
//! Debian's `chromium`).

mod common;
use common::{run_ok, sipbench};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The window the screenshot is taken in.
const WINDOW: (u32, u32) = (1200, 4000);

/// The first Chromium on the PATH.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
        .into_iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// Runs headless Chromium on `page` with `args`, its own profile directory, and a time limit;
/// returns what it wrote on stdout.
fn headless(browser: &Path, page: &Path, args: &[String]) -> Vec<u8> {
    let profile = tempfile::tempdir().unwrap();
    let stdout_file = profile.path().join("stdout");
    let mut child = Command::new(browser)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().join("profile").display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_file).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s on {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "chromium {args:?}: {status}");
    std::fs::read(&stdout_file).unwrap()
}

/// The ids of the `<section>` elements of `dom` with the id of the section each is in.
fn sections(dom: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut rest = dom;
    loop {
        let open = rest.find("<section");
        let close = rest.find("</section>");
        match (open, close) {
            (Some(o), c) if c.is_none_or(|c| o < c) => {
                let tag = &rest[o..o + rest[o..].find('>').unwrap()];
                let id = tag
                    .split("id=\"")
                    .nth(1)
                    .and_then(|s| s.split('"').next())
                    .unwrap_or_default()
                    .to_owned();
                out.push((id.clone(), stack.last().cloned()));
                stack.push(id);
                rest = &rest[o + 8..];
            }
            (_, Some(c)) => {
                assert!(stack.pop().is_some(), "a </section> closes nothing");
                rest = &rest[c + 10..];
            }
            _ => break,
        }
    }
    assert!(stack.is_empty(), "sections left open: {stack:?}");
    out
}

/// The visible text of an HTML document: tags (and the style sheet) removed.
fn text_of(html: &str) -> String {
    let body = html.split("</style>").last().unwrap_or(html);
    let mut out = String::with_capacity(body.len());
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Checks one page in the browser: the sections `expect` (id, parent id), the charts, the
/// text, and the screenshot.
fn check_page(browser: &Path, dir: &Path, expect: &[(String, Option<String>)], inline_charts: usize) {
    let page = dir.join("report.html");
    let source = std::fs::read_to_string(&page).unwrap();
    let dom = String::from_utf8(headless(browser, &page, &["--dump-dom".into()])).unwrap();
    assert!(
        dom.contains("<h1>sipbench report"),
        "the browser built no page:\n{dom:.2000}"
    );

    // Every section, once, nested as written.
    let found = sections(&dom);
    for e in expect {
        assert!(
            found.contains(e),
            "{}: section {e:?} missing or misplaced in {found:?}",
            page.display()
        );
    }
    let mut ids: Vec<&String> = found.iter().map(|s| &s.0).collect();
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "section ids repeat");
    // Every contents entry leads to a section of the page.
    for link in dom.split("<a href=\"#").skip(1) {
        let target = &link[..link.find('"').unwrap()];
        assert!(
            dom.contains(&format!("id=\"{target}\"")),
            "link to #{target}, which is not on the page"
        );
    }

    // Every chart made it into the DOM as an <svg>, inside its figure.
    assert_eq!(dom.matches("<svg").count(), inline_charts, "inline charts");
    assert_eq!(source.matches("<svg").count(), inline_charts);
    for figure in dom.split("<figure").skip(1) {
        let figure = &figure[..figure.find("</figure>").unwrap()];
        assert!(figure.contains("<figcaption>"), "a chart without a caption");
        assert!(figure.contains(".png\">"), "a chart without its files");
    }

    // No error text anywhere, nor numbers that went wrong.
    let text = text_of(&dom);
    for word in text.split(|c: char| !c.is_alphanumeric() && c != '_') {
        let lower = word.to_ascii_lowercase();
        assert!(
            !["nan", "inf", "infinity", "undefined", "unknown", "error", "null"].contains(&lower.as_str()),
            "{}: {word:?} on the page",
            page.display()
        );
    }

    // The screenshot: the size asked, text, and the charts' series colours.
    let shot = tempfile::tempdir().unwrap();
    let png_path = shot.path().join("shot.png");
    headless(
        browser,
        &page,
        &[
            format!("--screenshot={}", png_path.display()),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
        ],
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png_path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), WINDOW, "screenshot size");
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let rgb = |p: &[u8]| (p[0], p[1], p[2]);
    let mut colours: Vec<(u8, u8, u8)> = pixels.iter().map(|p| rgb(p)).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 50, "{} colours: a blank page", colours.len());
    let dark = pixels.iter().filter(|p| p[0] < 90 && p[1] < 90 && p[2] < 90).count();
    assert!(dark > 20_000, "{dark} dark pixels: no text");
    let near = |p: &[u8], c: (u8, u8, u8)| {
        (i32::from(p[0]) - i32::from(c.0)).abs() < 30
            && (i32::from(p[1]) - i32::from(c.1)).abs() < 30
            && (i32::from(p[2]) - i32::from(c.2)).abs() < 30
    };
    let blue = pixels.iter().filter(|p| near(p, (0, 114, 178))).count();
    let orange = pixels.iter().filter(|p| near(p, (213, 94, 0))).count();
    assert!(
        blue > 500 && orange > 200,
        "series colours: {blue} blue, {orange} vermillion pixels"
    );
    // The top of the page is the title, not a chart or an empty band.
    let top_dark = pixels[..(WINDOW.0 * 80) as usize]
        .iter()
        .filter(|p| p[0] < 90 && p[1] < 90 && p[2] < 90)
        .count();
    assert!(top_dark > 500, "no title at the top");
}

#[test]
fn report_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        eprintln!(
            "skipped: no chromium on the PATH (Debian: apt-get install chromium); report.html was not opened in a browser"
        );
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();

    // A fresh run, one phase: its charts inline.
    let fresh = work.path().join("fresh.json");
    run_ok(
        sipbench()
            .args([
                "run", "--mode", "tls", "-r", "200", "-d", "1200ms", "--warmup", "0s", "-q", "-o",
            ])
            .arg(&fresh),
    );
    let one = work.path().join("one");
    run_ok(sipbench().arg("report").arg(&fresh).arg("--out-dir").arg(&one));
    let top = |id: &str| (id.to_owned(), None);
    let within = |id: &str, parent: &str| (id.to_owned(), Some(parent.to_owned()));
    check_page(
        &browser,
        &one,
        &[top("summary"), top("run-fresh"), within("phase-fresh-cli", "run-fresh")],
        3,
    );

    // Committed results: two runs, a capacity search and a compare file on one page.
    let files = [
        "results/default.json",
        "results/tls-open-3000.json",
        "results/capacity/tls-handshakes.json",
        "results/compare-kx-groups.json",
    ];
    let all = work.path().join("all");
    run_ok(
        sipbench()
            .arg("report")
            .args(files.iter().map(|f| root.join(f)))
            .arg("--out-dir")
            .arg(&all),
    );
    let mut expect = vec![
        top("summary"),
        top("differences"),
        top("comparison"),
        top("capacity-tls-handshakes"),
        top("compare-compare-kx-groups"),
    ];
    for f in &files[..3] {
        let r = sipbench::results::RunResult::read(&root.join(f)).unwrap();
        let name = Path::new(f).file_stem().unwrap().to_string_lossy().into_owned();
        expect.push(top(&format!("run-{name}")));
        for p in &r.phases {
            let id = format!("phase-{name}-{}", p.plan.name).replace('.', "-");
            expect.push(within(&id, &format!("run-{name}")));
        }
    }
    // Inline: the comparison's charts, the capacity search's two and the compare file's three.
    let comparison = count_files(&all.join("compare"), "svg");
    assert!(comparison >= 2, "the runs' comparison charts");
    check_page(&browser, &all, &expect, comparison + 2 + 3);
}

/// Files under `dir` (recursively) whose name ends in `.ext`.
fn count_files(dir: &Path, ext: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .map(|e| e.unwrap().path())
        .map(|p| {
            if p.is_dir() {
                count_files(&p, ext)
            } else {
                usize::from(p.extension().is_some_and(|e| e == ext))
            }
        })
        .sum()
}
