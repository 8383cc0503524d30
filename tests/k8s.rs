//! The Kubernetes manifests (deploy/k8s) as `kubectl kustomize` renders them, offline: the
//! generator is an Indexed Job whose shard count matches its completions and the merge's, every
//! command line parses with sipbench's own flags, the profile ConfigMap lowers into phases, the
//! server has its probes, ports and Service, nothing runs as root, and every object is in the
//! `sipbench` namespace. (No cluster and no image registry here: the manifests are rendered
//! and checked, not applied; the Dockerfile is checked for what it must hold.)

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use clap::Parser;
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The rendered objects by `Kind/name`, or `None` without kubectl.
fn rendered() -> Option<BTreeMap<String, Value>> {
    let out = match Command::new("kubectl")
        .args(["kustomize"])
        .arg(root().join("deploy/k8s"))
        .output()
    {
        Ok(o) => o,
        Err(_) => {
            eprintln!("SKIPPED: kubectl is not installed (it renders deploy/k8s offline)");
            return None;
        }
    };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut objects = BTreeMap::new();
    for doc in text.split("\n---\n") {
        let v: Value = serde_norway::from_str(doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
        let key = format!(
            "{}/{}",
            v["kind"].as_str().unwrap(),
            v["metadata"]["name"].as_str().unwrap()
        );
        objects.insert(key, v);
    }
    Some(objects)
}

/// A container's command line as the shell would run it: `sh -c` scripts have their `$VAR`s
/// replaced from `env` and their quotes dropped.
fn command_line(container: &Value, env: &BTreeMap<&str, &str>) -> Vec<String> {
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    if container["command"].is_null() {
        return std::iter::once("sipbench").chain(args).map(str::to_owned).collect();
    }
    let mut script = args.join(" ");
    for (k, v) in env {
        script = script.replace(&format!("\"${k}\""), v).replace(&format!("${k}"), v);
    }
    let words: Vec<String> = script.split_whitespace().map(|w| w.replace('"', "")).collect();
    let at = words
        .iter()
        .position(|w| w == "sipbench")
        .expect("the script runs sipbench");
    words[at..].to_vec()
}

fn env_of(container: &Value) -> BTreeMap<&str, &str> {
    container["env"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|v| (v["name"].as_str().unwrap(), v["value"].as_str().unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn manifests_render_and_hold_together() {
    let Some(objects) = rendered() else { return };
    for (key, v) in &objects {
        if !key.starts_with("Namespace/") {
            assert_eq!(v["metadata"]["namespace"], "sipbench", "{key}");
        }
    }

    // The shards: an Indexed Job, as many shards as completions, each writing its own file.
    let job = &objects["Job/sipbench-generator"];
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let completions = spec["completions"].as_u64().unwrap();
    assert_eq!(spec["parallelism"].as_u64(), Some(completions));
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let shard = &pod["containers"][0];
    let mut env = env_of(shard);
    env.insert("JOB_COMPLETION_INDEX", "0");
    let argv = command_line(shard, &env);
    let shards_at = argv.iter().position(|a| a == "--shards").expect("--shards");
    assert_eq!(argv[shards_at + 1], completions.to_string(), "{argv:?}");
    assert!(argv.contains(&"/results/shard-0.json".to_owned()), "{argv:?}");
    let cli = sipbench::cli::Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    assert!(format!("{cli:?}").contains("Run("), "{cli:?}");
    let mounts: Vec<&str> = shard["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    assert_eq!(mounts, ["/pki", "/profile", "/results"]);
    let volumes = pod["volumes"].as_array().unwrap();
    assert!(volumes.iter().any(|v| v["secret"]["secretName"] == "sipbench-pki"));
    assert!(volumes.iter().any(|v| v["configMap"]["name"] == "sipbench-profile"));
    assert!(
        volumes
            .iter()
            .any(|v| v["persistentVolumeClaim"]["claimName"] == "sipbench-results")
    );
    assert_eq!(
        objects["PersistentVolumeClaim/sipbench-results"]["spec"]["accessModes"][0],
        "ReadWriteMany"
    );

    // The profile the shards run lowers into phases.
    let text = objects["ConfigMap/sipbench-profile"]["data"]["profile.toml"]
        .as_str()
        .unwrap();
    let profile = sipbench::plan::Profile::parse(text).unwrap();
    let phases = sipbench::plan::lower(&profile, &Default::default(), &[]).unwrap();
    assert!(phases.len() >= 2);

    // The merge waits for as many files as there are shards.
    let merge = &objects["Job/sipbench-merge"]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(env_of(merge)["SHARDS"], completions.to_string());
    let argv = command_line(merge, &env_of(merge));
    assert_eq!(argv[..2], ["sipbench", "merge"]);

    // The server: its command line parses, probes and ports, a Service in front.
    let deploy = &objects["Deployment/sipbench-serve"]["spec"]["template"];
    let serve = &deploy["spec"]["containers"][0];
    let argv = command_line(serve, &BTreeMap::new());
    sipbench::cli::Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    assert_eq!(serve["readinessProbe"]["tcpSocket"]["port"], "sip-tls");
    assert_eq!(serve["livenessProbe"]["httpGet"]["path"], "/metrics");
    assert_eq!(deploy["spec"]["securityContext"]["runAsNonRoot"], true);
    let service = &objects["Service/sipbench-serve"]["spec"];
    for (k, v) in service["selector"].as_object().unwrap() {
        assert_eq!(&deploy["metadata"]["labels"][k], v, "the Service selects the pods");
    }
    let port_names: Vec<&str> = serve["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in service["ports"].as_array().unwrap() {
        assert!(port_names.contains(&p["targetPort"].as_str().unwrap()), "{p}");
    }
    // The generator reaches the Service by name.
    let job_env = env_of(&pod["containers"][0]);
    assert!(job_env["TARGET"].starts_with("sipbench-serve:"), "{job_env:?}");
}

#[test]
fn the_dockerfile_builds_in_one_stage_and_runs_unprivileged_in_another() {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "multi-stage: {froms:?}");
    assert!(text.contains("cargo build --release --locked"));
    assert!(text.contains("COPY --from=build /src/target/release/sipbench /usr/local/bin/sipbench"));
    let user = text.lines().find(|l| l.starts_with("USER ")).expect("a USER line");
    assert_ne!(user.trim(), "USER root");
    assert_ne!(user.trim(), "USER 0");
    // The image the manifests run is the one it builds.
    let k8s = std::fs::read_to_string(root().join("deploy/k8s/serve.yaml")).unwrap();
    assert!(k8s.contains("image: sipbench:latest"));
    assert!(text.contains("ENTRYPOINT [\"sipbench\"]"));
}
