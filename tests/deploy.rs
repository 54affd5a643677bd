//! The settings the deployment files carry pass `leadgate check`, with
//! the environment each file gives the gateway: the compose file's
//! (defaults of its `${VAR:-default}`s), the Kubernetes Secret's, and the
//! Dockerfile's over the example settings it copies in. The Kubernetes
//! ConfigMap holds the same settings as `deploy/leadgate.cluster.toml`.

use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn yaml(path: &str) -> Vec<Yaml> {
    let text = std::fs::read_to_string(deploy(path)).unwrap();
    YamlLoader::load_from_str(&text).unwrap()
}

/// `leadgate check` on `config` with exactly `environment` (beside PATH).
fn check(config: &Path, environment: &[(String, String)]) {
    let output = Command::new(env!("CARGO_BIN_EXE_leadgate"))
        .args(["check", "--config"])
        .arg(config)
        .env_clear()
        .envs(environment.iter().map(|(name, value)| (name, value)))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}: {}{}",
        config.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `${NAME:-default}` → default; anything else as written.
fn compose_value(text: &str) -> String {
    match text
        .strip_prefix("${")
        .and_then(|rest| rest.split_once(":-"))
    {
        Some((_, rest)) => rest.trim_end_matches('}').to_owned(),
        None => {
            // A default inside a longer value (the store URL).
            let mut value = text.to_owned();
            while let Some(start) = value.find("${") {
                let end = value[start..].find('}').unwrap() + start;
                let default = value[start + 2..end]
                    .split_once(":-")
                    .map_or("", |(_, default)| default)
                    .to_owned();
                value.replace_range(start..=end, &default);
            }
            value
        }
    }
}

#[test]
fn the_compose_replicas_settings_pass_check() {
    let compose = &yaml("deploy/compose.yaml")[0];
    let config = compose["configs"]["leadgate"]["file"].as_str().unwrap();
    let config = deploy("deploy").join(config);
    for service in ["leadgate-1", "leadgate-2"] {
        let service_settings = &compose["services"][service];
        // The shared part comes in through a YAML merge key.
        let given = match &service_settings["environment"] {
            Yaml::BadValue => &service_settings["<<"]["environment"],
            given => given,
        };
        let environment: Vec<(String, String)> = given
            .as_hash()
            .unwrap_or_else(|| panic!("{service} has no environment"))
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().unwrap().to_owned(),
                    compose_value(value.as_str().unwrap()),
                )
            })
            .collect();
        assert!(environment
            .iter()
            .any(|(name, value)| name == "LEADGATE_STORE_URL" && value.starts_with("postgres://")));
        check(&config, &environment);
    }
}

#[test]
fn the_kubernetes_config_map_passes_check_and_matches_the_cluster_settings() {
    let config_map = &yaml("deploy/k8s/configmap.yaml")[0];
    let embedded = config_map["data"]["leadgate.toml"].as_str().unwrap();
    let cluster = std::fs::read_to_string(deploy("deploy/leadgate.cluster.toml")).unwrap();
    assert_eq!(
        embedded.trim(),
        cluster.trim(),
        "deploy/k8s/configmap.yaml differs from deploy/leadgate.cluster.toml"
    );
    let secret = &yaml("deploy/k8s/secret.yaml")[0];
    let environment: Vec<(String, String)> = secret["stringData"]
        .as_hash()
        .unwrap()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().unwrap().to_owned(),
                value.as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leadgate.toml");
    std::fs::write(&file, embedded).unwrap();
    check(&file, &environment);
    // Every env: reference in the settings is one the Secret gives.
    for reference in embedded.split("\"env:").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            environment.iter().any(|(given, _)| given == name),
            "{name} is not in the Secret"
        );
    }
}

#[test]
fn the_docker_image_settings_pass_check() {
    let dockerfile = std::fs::read_to_string(deploy("Dockerfile")).unwrap();
    // The ENV lines of the runtime stage: NAME=value pairs.
    let environment: Vec<(String, String)> = dockerfile
        .split("\nENV ")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|line| !line.starts_with("USER"))
        .map(|line| line.trim().trim_end_matches('\\').trim())
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    assert!(
        environment
            .iter()
            .any(|(name, _)| name == "LEADGATE__SERVER__LISTEN"),
        "{environment:?}"
    );
    check(&deploy("deploy/leadgate.example.toml"), &environment);
}
