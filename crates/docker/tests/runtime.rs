//! Runtime facts the watcher and the runtime-logs API depend on, checked on the real
//! Docker Engine: log lines with their stream and time, the container event stream,
//! resource limits, and what the restart policy does when a process keeps failing or is
//! killed from outside.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

mod support;

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use slipway_docker::{
    ContainerEvent, ContainerSpec, DockerClient, DockerError, LogStream, LogsQuery,
};
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
        pids_limit: None,
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

/// Reads events until `done` says the ones seen so far are enough; fails after 30 s.
async fn events_until(
    events: &mut (impl futures_util::Stream<Item = Result<ContainerEvent, DockerError>> + Unpin),
    done: impl Fn(&[ContainerEvent]) -> bool,
) -> Vec<ContainerEvent> {
    let mut seen = Vec::new();
    let outcome = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(event) = events.next().await {
            seen.push(event.unwrap());
            if done(&seen) {
                return;
            }
        }
        panic!("the event stream ended");
    })
    .await;
    let actions: Vec<&str> = seen.iter().map(|e| e.action.as_str()).collect();
    assert!(outcome.is_ok(), "timed out; events so far: {actions:?}");
    seen
}

fn actions(events: &[ContainerEvent]) -> Vec<&str> {
    events.iter().map(|e| e.action.as_str()).collect()
}

#[tokio::test]
async fn limits_and_the_on_failure_policy_are_applied_and_the_policy_gives_up() {
    let mut cleanup = Cleanup::default();
    let (docker, network, image) = setup(&mut cleanup).await;
    let name = unique("limits");
    cleanup.container(&name);
    let mut events = Box::pin(docker.container_events(&[("slipway.test", name.as_str())]));
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
    assert!(!state.oom_killed);
    // Three runs: the first and two restarts, each a plain start and die. No event
    // says a policy restart happened, nor that Docker gave up.
    let seen = events_until(&mut events, |seen| {
        seen.iter().filter(|e| e.action == "die").count() >= 3
    })
    .await;
    assert_eq!(
        actions(&seen),
        ["create", "start", "die", "start", "die", "start", "die"]
    );
    assert!(
        seen.iter()
            .filter(|e| e.action == "die")
            .all(|e| e.exit_code == Some(1))
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        docker.container_state(&name).await.unwrap().status,
        "exited",
        "no third restart"
    );
    let quiet = tokio::time::timeout(Duration::from_millis(300), events.next()).await;
    assert!(quiet.is_err(), "no event after giving up: {quiet:?}");
}

#[tokio::test]
async fn no_retries_means_policy_no_not_docker_s_unlimited_on_failure_0() {
    let mut cleanup = Cleanup::default();
    let (docker, network, image) = setup(&mut cleanup).await;
    let name = unique("noretry");
    cleanup.container(&name);
    let spec = ContainerSpec {
        restart_max_retries: Some(0),
        ..spec(&name, &image, &network, "exit 1")
    };
    docker.run_container(&spec).await.unwrap();
    assert_eq!(inspect(&name, "{{.HostConfig.RestartPolicy.Name}}"), "no");
    eventually(Duration::from_secs(15), "the container to exit", || async {
        let s = docker.container_state(&name).await.unwrap();
        (s.status == "exited").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let state = docker.container_state(&name).await.unwrap();
    assert_eq!((state.status.as_str(), state.restart_count), ("exited", 0));
}

#[tokio::test]
async fn a_container_killed_from_outside_is_not_restarted_by_either_policy() {
    let mut cleanup = Cleanup::default();
    let (docker, network, image) = setup(&mut cleanup).await;
    for retries in [Some(5), None] {
        let name = unique("killed");
        cleanup.container(&name);
        let mut events = Box::pin(docker.container_events(&[("slipway.test", name.as_str())]));
        let spec = ContainerSpec {
            restart_max_retries: retries,
            ..spec(&name, &image, &network, "sleep 3600")
        };
        docker.run_container(&spec).await.unwrap();
        let out = std::process::Command::new("docker")
            .args(["kill", &name])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let seen = events_until(&mut events, |seen| seen.iter().any(|e| e.action == "die")).await;
        assert_eq!(actions(&seen), ["create", "start", "kill", "die"]);
        assert_eq!(seen[3].exit_code, Some(137));
        assert!(!seen[2].labels.contains_key("signal"));
        tokio::time::sleep(Duration::from_secs(2)).await;
        // Docker treats `docker kill` as a deliberate stop, even under unless-stopped:
        // the watcher must call it a crash itself, because no restart will come.
        let state = docker.container_state(&name).await.unwrap();
        assert_eq!(
            (state.status.as_str(), state.exit_code, state.restart_count),
            ("exited", Some(137), 0),
            "{retries:?}"
        );
    }
}

#[tokio::test]
async fn a_process_killed_inside_the_container_is_restarted() {
    let mut cleanup = Cleanup::default();
    let (docker, network, image) = setup(&mut cleanup).await;
    let name = unique("inner");
    cleanup.container(&name);
    let mut events = Box::pin(docker.container_events(&[("slipway.test", name.as_str())]));
    let spec = spec(
        &name,
        &image,
        &network,
        "echo $$ > /pid; exec /bin/busybox sleep 3600",
    );
    docker.run_container(&spec).await.unwrap();
    eventually(
        Duration::from_secs(10),
        "the process to be killed",
        || async {
            let out = std::process::Command::new("docker")
                .args(["exec", &name, "/bin/busybox", "sh", "-c"])
                .arg("/bin/busybox kill -9 $(/bin/busybox cat /pid)")
                .output()
                .unwrap();
            out.status.success().then_some(())
        },
    )
    .await;
    let seen = events_until(&mut events, |seen| {
        seen.iter().filter(|e| e.action == "start").count() >= 2
    })
    .await;
    let container: Vec<&str> = actions(&seen)
        .into_iter()
        .filter(|a| !a.starts_with("exec_"))
        .collect();
    assert_eq!(container, ["create", "start", "die", "start"], "{seen:#?}");
    let died = seen.iter().find(|e| e.action == "die").unwrap();
    assert_eq!(died.exit_code, Some(137));
    assert!(
        seen.iter()
            .filter(|e| e.action.starts_with("exec_"))
            .all(|e| !e.labels.contains_key("execID")),
        "{seen:#?}"
    );
    let state = docker.container_state(&name).await.unwrap();
    assert_eq!(state.restart_count, 1, "{state:?}");
}

#[tokio::test]
async fn going_over_the_memory_limit_is_an_oom_kill() {
    let mut cleanup = Cleanup::default();
    let (docker, network, image) = setup(&mut cleanup).await;
    let name = unique("oom");
    cleanup.container(&name);
    let mut events = Box::pin(docker.container_events(&[("slipway.test", name.as_str())]));
    let script =
        "x=$(/bin/busybox head -c 50000000 /dev/zero | /bin/busybox tr '\\0' a); echo done";
    let spec = ContainerSpec {
        memory: Some(8 * 1024 * 1024),
        restart_max_retries: Some(1),
        ..spec(&name, &image, &network, script)
    };
    docker.run_container(&spec).await.unwrap();
    let count =
        |seen: &[ContainerEvent], action: &str| seen.iter().filter(|e| e.action == action).count();
    let seen = events_until(&mut events, |seen| {
        count(seen, "die") >= 2 && count(seen, "oom") >= 2
    })
    .await;
    // Each run has its `oom` (sometimes two), usually before its `die` but not always.
    let lifecycle: Vec<&str> = actions(&seen).into_iter().filter(|a| *a != "oom").collect();
    assert_eq!(
        lifecycle,
        ["create", "start", "die", "start", "die"],
        "an OOM kill is a failure for on-failure: {:?}",
        actions(&seen)
    );
    assert!(
        seen.iter()
            .filter(|e| e.action == "die")
            .all(|e| e.exit_code == Some(137))
    );
    let state = eventually(Duration::from_secs(15), "Docker to give up", || async {
        let s = docker.container_state(&name).await.unwrap();
        (s.status == "exited").then_some(s)
    })
    .await;
    assert!(state.oom_killed, "{state:?}");
    assert_eq!((state.exit_code, state.restart_count), (Some(137), 1));
}

#[tokio::test]
async fn long_lines_are_joined_and_an_unterminated_end_is_kept() {
    let mut cleanup = Cleanup::default();
    let (docker, network, image) = setup(&mut cleanup).await;
    let name = unique("longlines");
    cleanup.container(&name);
    // 40 000 characters: the json-file driver stores them as three entries.
    let script = "echo first; printf 'x%.0s' $(/bin/busybox seq 1 40000); echo; \
                  printf 'oops\\r\\n' >&2; printf unterminated";
    let spec = ContainerSpec {
        restart_max_retries: Some(0),
        ..spec(&name, &image, &network, script)
    };
    docker.run_container(&spec).await.unwrap();
    eventually(Duration::from_secs(15), "the container to exit", || async {
        let s = docker.container_state(&name).await.unwrap();
        (s.status == "exited").then_some(())
    })
    .await;
    let lines: Vec<_> = docker
        .logs(&name, &LogsQuery::default())
        .map(|l| l.unwrap())
        .collect()
        .await;
    let out: Vec<&str> = lines
        .iter()
        .filter(|l| l.stream == LogStream::Stdout)
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(
        out.len(),
        3,
        "{:?}",
        lines.iter().map(|l| l.text.len()).collect::<Vec<_>>()
    );
    assert_eq!(out[0], "first");
    assert_eq!(out[1], "x".repeat(40_000));
    assert_eq!(out[2], "unterminated");
    let err: Vec<&str> = lines
        .iter()
        .filter(|l| l.stream == LogStream::Stderr)
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(err, ["oops"]);
    assert!(lines.iter().all(|l| l.at.is_some()));
}

#[tokio::test]
async fn following_delivers_lines_written_after_it_started() {
    let mut cleanup = Cleanup::default();
    let (docker, network, image) = setup(&mut cleanup).await;
    let name = unique("follow");
    cleanup.container(&name);
    // Writes `fresh` only once the test creates /go.
    let script = "echo start; while [ ! -e /go ]; do /bin/busybox sleep 0.1; done; \
                  echo fresh; exec /bin/busybox sleep 3600";
    docker
        .run_container(&spec(&name, &image, &network, script))
        .await
        .unwrap();
    let follow = |tail| {
        Box::pin(docker.logs(
            &name,
            &LogsQuery {
                tail,
                follow: true,
                ..Default::default()
            },
        ))
    };
    let mut everything = follow(None);
    let first = tokio::time::timeout(Duration::from_secs(10), everything.next())
        .await
        .expect("the first line within 10 s")
        .unwrap()
        .unwrap();
    assert_eq!(first.text, "start");
    // Tail 0 means no old lines, only new ones.
    let mut only_new = follow(Some(0));
    let nothing_yet = tokio::time::timeout(Duration::from_millis(500), only_new.next()).await;
    assert!(nothing_yet.is_err(), "{nothing_yet:?}");
    let opened = chrono::Utc::now();

    let out = std::process::Command::new("docker")
        .args(["exec", &name, "/bin/busybox", "touch", "/go"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for stream in [&mut everything, &mut only_new] {
        let line = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("the new line within 10 s")
            .unwrap()
            .unwrap();
        assert_eq!(line.text, "fresh");
        assert!(line.at.unwrap() >= opened - chrono::Duration::seconds(1));
    }

    // Removing the container ends a followed stream.
    docker.stop_and_remove(&name, Duration::ZERO).await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), everything.next())
        .await
        .expect("the stream ends within 10 s");
    assert!(end.is_none(), "{end:?}");
    let gone: Vec<_> = docker.logs(&name, &LogsQuery::default()).collect().await;
    assert!(
        matches!(gone.as_slice(), [Err(e)] if e.is_not_found()),
        "{gone:?}"
    );
}
