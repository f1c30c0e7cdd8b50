//! Runtime facts the watcher and the runtime-logs API depend on, checked on the real
//! Docker Engine: log lines with their stream and time, the container event stream,
//! resource limits, and what the restart policy does when a process keeps failing or is
//! killed from outside.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

mod support;

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use slipway_docker::{ContainerSpec, DockerClient, LogStream, LogsQuery};
use support::{Cleanup, build_web_image, docker, eventually, unique};

fn spec(name: &str, image: &str, network: &str, script: &str) -> ContainerSpec {
    ContainerSpec {
        name: name.to_owned(),
        image: image.to_owned(),
        network: network.to_owned(),
        port: 80,
        publish_port: false,
        env: Vec::new(),
        labels: HashMap::from([("slipway.test".to_owned(), name.to_owned())]),
        command: Some(
            ["/bin/busybox", "sh", "-c", script]
                .map(String::from)
                .to_vec(),
        ),
        memory: None,
        nano_cpus: None,
        restart_max_retries: None,
    }
}

async fn setup(cleanup: &mut Cleanup) -> (DockerClient, String, String) {
    let docker = docker().await;
    let network = unique("net");
    cleanup.network(&network);
    docker.ensure_network(&network).await.unwrap();
    let (image, _) = build_web_image(&docker, cleanup).await;
    (docker, network, image)
}

#[tokio::test]
async fn logs_come_as_tagged_timestamped_lines_with_tail_since_and_follow() {
    let mut cleanup = Cleanup::default();
    let (docker, network, image) = setup(&mut cleanup).await;
    let name = unique("logs");
    cleanup.container(&name);
    let script = "echo one; echo two >&2; echo three; sleep 1; echo later; sleep 3600";
    docker
        .run_container(&spec(&name, &image, &network, script))
        .await
        .unwrap();
    eventually(Duration::from_secs(15), "four lines", || async {
        let lines: Vec<_> = docker.logs(&name, &LogsQuery::default()).collect().await;
        (lines.len() >= 4).then_some(())
    })
    .await;

    let all: Vec<_> = docker
        .logs(&name, &LogsQuery::default())
        .map(|l| l.unwrap())
        .collect()
        .await;
    let texts: Vec<&str> = all.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert!(
        texts.contains(&"two") && texts.contains(&"later"),
        "{texts:?}"
    );
    let two = all.iter().find(|l| l.text == "two").unwrap();
    assert_eq!(two.stream, LogStream::Stderr);
    assert!(
        all.iter().all(|l| l.at.is_some()),
        "every line has its time"
    );
    let later = all.iter().find(|l| l.text == "later").unwrap();
    assert!(later.at > all[0].at);

    let tail: Vec<_> = docker
        .logs(
            &name,
            &LogsQuery {
                tail: Some(1),
                ..Default::default()
            },
        )
        .map(|l| l.unwrap().text)
        .collect()
        .await;
    assert_eq!(tail, ["later"]);
    let future = later.at.unwrap().timestamp() + 3600;
    let none: Vec<_> = docker
        .logs(
            &name,
            &LogsQuery {
                since: Some(future),
                ..Default::default()
            },
        )
        .collect()
        .await;
    assert!(none.is_empty());

    // Following stays open: the existing tail arrives, then the stream waits.
    let mut follow = Box::pin(docker.logs(
        &name,
        &LogsQuery {
            tail: Some(1),
            follow: true,
            ..Default::default()
        },
    ));
    let first = tokio::time::timeout(Duration::from_secs(10), follow.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.text, "later");
    assert!(
        tokio::time::timeout(Duration::from_millis(500), follow.next())
            .await
            .is_err(),
        "a followed stream waits for new lines instead of ending"
    );
}

#[tokio::test]
async fn a_dying_container_is_reported_with_its_exit_code_and_labels() {
    let mut cleanup = Cleanup::default();
    let (docker, network, image) = setup(&mut cleanup).await;
    let name = unique("dies");
    cleanup.container(&name);
    // Subscribe first: events are not replayed.
    let mut events = Box::pin(docker.container_events(&[("slipway.test", name.as_str())]));
    docker
        .run_container(&spec(&name, &image, &network, "sleep 0.3; exit 7"))
        .await
        .unwrap();
    let died = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(event) = events.next().await {
            let event = event.unwrap();
            if event.action == "die" {
                return event;
            }
        }
        panic!("the event stream ended");
    })
    .await
    .expect("a die event within 20s");
    assert_eq!(died.name, name);
    assert_eq!(died.exit_code, Some(7));
    assert_eq!(died.labels.get("slipway.test"), Some(&name));
    assert!(
        !died.labels.contains_key("exitCode"),
        "Docker's attributes are not labels"
    );
    assert!(died.at.is_some());
}

fn inspect(name: &str, format: &str) -> String {
    let out = std::process::Command::new("docker")
        .args(["inspect", "-f", format, name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn limits_and_the_on_failure_policy_are_applied_and_the_policy_gives_up() {
    let mut cleanup = Cleanup::default();
    let (docker, network, image) = setup(&mut cleanup).await;
    let name = unique("limits");
    cleanup.container(&name);
    let limited = ContainerSpec {
        memory: Some(32 * 1024 * 1024),
        nano_cpus: Some(250_000_000),
        restart_max_retries: Some(2),
        ..spec(&name, &image, &network, "exit 1")
    };
    docker.run_container(&limited).await.unwrap();
    assert_eq!(inspect(&name, "{{.HostConfig.Memory}}"), "33554432");
    assert_eq!(
        inspect(&name, "{{.HostConfig.MemorySwap}}"),
        "33554432",
        "no swap beyond the limit"
    );
    assert_eq!(inspect(&name, "{{.HostConfig.NanoCpus}}"), "250000000");
    assert_eq!(
        inspect(
            &name,
            "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "on-failure:2"
    );
    // Restarted twice with back-off, then left exited: the crash the watcher reports.
    let state = eventually(Duration::from_secs(30), "Docker to give up", || async {
        let s = docker.container_state(&name).await.unwrap();
        (s.status == "exited" && s.restart_count == 2).then_some(s)
    })
    .await;
    assert_eq!(state.exit_code, Some(1));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        docker.container_state(&name).await.unwrap().status,
        "exited",
        "no third restart"
    );
}

#[tokio::test]
async fn a_container_killed_from_outside_is_not_restarted_by_on_failure() {
    let mut cleanup = Cleanup::default();
    let (docker, network, image) = setup(&mut cleanup).await;
    let name = unique("killed");
    cleanup.container(&name);
    let spec = ContainerSpec {
        restart_max_retries: Some(5),
        ..spec(&name, &image, &network, "sleep 3600")
    };
    docker.run_container(&spec).await.unwrap();
    let out = std::process::Command::new("docker")
        .args(["kill", &name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Docker treats `docker kill` as a deliberate stop: the watcher must call it a crash
    // itself, because the restart policy will not bring it back.
    let state = docker.container_state(&name).await.unwrap();
    assert_eq!(
        (state.status.as_str(), state.exit_code, state.restart_count),
        ("exited", Some(137), 0)
    );
}
