//! Integration tests against the real Docker Engine (never mocked). They fail, not
//! skip, when the engine does not answer.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step fails the test

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::query_parameters::ListNetworksOptionsBuilder;
use slipway_docker::{
    BuildError, BuildRequest, BuildSecrets, Builder, ContainerSpec, DockerClient,
};
use support::{
    Cleanup, PAGE, WEB_DOCKERFILE, bollard, build_request, build_web_image, docker, eventually,
    get_page, stream, unique, web_context,
};

fn spec(name: &str, image: &str, network: &str) -> ContainerSpec {
    ContainerSpec {
        name: name.to_owned(),
        image: image.to_owned(),
        network: network.to_owned(),
        port: 80,
        publish_port: false,
        env: vec!["PORT=80".to_owned()],
        labels: HashMap::new(),
        command: None,
        memory: None,
        nano_cpus: None,
        restart_max_retries: None,
        pids_limit: None,
    }
}

#[tokio::test]
async fn an_absent_engine_is_reported_as_unreachable() {
    let missing_socket =
        match DockerClient::connect(Some("unix:///nonexistent/slipway-docker.sock")).await {
            Ok(_) => panic!("connected to a socket that does not exist"),
            Err(e) => e,
        };
    assert!(missing_socket.is_unreachable(), "{missing_socket:?}");
    assert!(
        missing_socket
            .to_string()
            .contains("/nonexistent/slipway-docker.sock"),
        "{missing_socket}"
    );

    let refused = match DockerClient::connect(Some("tcp://127.0.0.1:1")).await {
        Ok(_) => panic!("connected to a closed port"),
        Err(e) => e,
    };
    assert!(refused.is_unreachable(), "{refused:?}");
    assert!(refused.to_string().contains("refused"), "{refused}");
}

#[tokio::test]
async fn ping_answers() {
    let docker = docker().await;
    docker.ping().await.expect("ping");
    let explicit = DockerClient::connect(Some("unix:///var/run/docker.sock"))
        .await
        .unwrap_or_else(|e| panic!("Docker Engine not reachable: {e}"));
    explicit
        .ping()
        .await
        .expect("ping through an explicit unix:// host");
}

#[tokio::test]
async fn ensure_network_is_idempotent_even_when_racing() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let (sequential, raced) = (unique("net"), unique("net"));
    cleanup.network(&sequential);
    cleanup.network(&raced);

    docker
        .ensure_network(&sequential)
        .await
        .expect("first ensure_network");
    docker
        .ensure_network(&sequential)
        .await
        .expect("second ensure_network");
    let (a, b, c) = tokio::join!(
        docker.ensure_network(&raced),
        docker.ensure_network(&raced),
        docker.ensure_network(&raced)
    );
    for result in [a, b, c] {
        result.expect("concurrent ensure_network");
    }

    let raw = bollard();
    for name in [&sequential, &raced] {
        let filters = HashMap::from([("name", vec![name.as_str()])]);
        let found = raw
            .list_networks(Some(
                ListNetworksOptionsBuilder::new().filters(&filters).build(),
            ))
            .await
            .expect("list networks");
        let found: Vec<_> = found
            .into_iter()
            .filter(|n| n.name.as_deref() == Some(name.as_str()))
            .collect();
        assert_eq!(found.len(), 1, "exactly one network named {name}");
        let labels = found[0].labels.clone().unwrap_or_default();
        assert_eq!(
            labels.get("slipway.managed").map(String::as_str),
            Some("true")
        );
        assert_eq!(found[0].driver.as_deref(), Some("bridge"));
    }

    docker
        .remove_network(&sequential)
        .await
        .expect("remove network");
    docker
        .remove_network(&sequential)
        .await
        .expect("removing a missing network is fine");
}

/// Two networks cannot share a subnet: the second create says so in a way the engine
/// can tell apart (it then tries the next free subnet), and the labels and subnet asked
/// for are the ones the network gets.
#[tokio::test]
async fn a_network_on_a_taken_subnet_is_refused_as_address_taken() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let (first, second) = (unique("net"), unique("net"));
    cleanup.network(&first);
    cleanup.network(&second);
    // A /29 from TEST-NET-2, which no default pool hands out.
    let subnet = ("198.51.100.248/29", "198.51.100.249");
    let labels = HashMap::from([("slipway.app".to_owned(), "hello".to_owned())]);
    docker
        .create_network_on(&first, labels.clone(), Some(subnet))
        .await
        .expect("create on a free subnet");
    docker
        .create_network_on(&first, labels.clone(), Some(subnet))
        .await
        .expect("an existing network of that name is fine");
    let err = docker
        .create_network_on(&second, labels, Some(subnet))
        .await
        .expect_err("the subnet is taken");
    assert!(err.is_address_taken(), "{err}");
    assert!(
        docker
            .taken_subnets()
            .await
            .unwrap()
            .contains(&subnet.0.to_owned())
    );
    assert_eq!(
        docker
            .networks_labelled(&[("slipway.app", "hello"), ("slipway.managed", "true")])
            .await
            .unwrap(),
        [first.as_str()]
    );
    docker.detach_all_and_remove(&first).await.unwrap();
    docker
        .detach_all_and_remove(&first)
        .await
        .expect("removing a missing network is fine");
}

#[tokio::test]
async fn build_streams_its_output_and_reports_exposed_ports() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let tag = format!("{}:v1", unique("build"));
    let token = unique("label");
    cleanup.image(&tag);

    let mut lines = Vec::new();
    let mut on_line = |line: String| lines.push(line);
    let built = docker
        .build_image(
            &build_request(&tag, &[("slipway.test", &token)]),
            stream(web_context(WEB_DOCKERFILE)),
            &mut on_line,
        )
        .await
        .unwrap_or_else(|e| panic!("build failed: {e}"));

    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("[1/2] COPY busybox /bin/busybox")),
        "no '[1/2] COPY busybox' line in {lines:#?}"
    );
    assert!(
        lines.iter().all(|l| !l.contains("moby.buildkit.trace")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .all(|l| !l.trim().is_empty() && !l.ends_with('\n')),
        "{lines:#?}"
    );
    assert_eq!(built.exposed_ports, vec![80]);
    assert!(built.id.starts_with("sha256:"), "{}", built.id);

    assert!(docker.image_exists(&tag).await.expect("image_exists"));
    let images = docker
        .list_images(&[("slipway.test", &token)])
        .await
        .expect("list_images");
    assert_eq!(images.len(), 1, "{images:#?}");
    assert_eq!(images[0].id, built.id);
    assert_eq!(images[0].tags, vec![tag.clone()]);
    assert_eq!(images[0].labels.get("slipway.test"), Some(&token));

    docker.remove_image(&tag).await.expect("remove_image");
    assert!(
        !docker
            .image_exists(&tag)
            .await
            .expect("image_exists after removal")
    );
    docker
        .remove_image(&tag)
        .await
        .expect("removing a missing image is fine");
}

#[tokio::test]
async fn a_broken_build_fails_with_the_builders_words() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let tag = format!("{}:latest", unique("broken"));
    cleanup.image(&tag);

    let mut lines = Vec::new();
    let mut on_line = |line: String| lines.push(line);
    let context = support::context("FROM scratch\nCOPY missing /x\n", &[]);
    match docker
        .build_image(&build_request(&tag, &[]), stream(context), &mut on_line)
        .await
    {
        Err(BuildError::Failed { message }) => {
            assert!(
                message.contains("step [1/1] COPY missing /x failed")
                    && message.contains("not found"),
                "{message}"
            );
        }
        other => panic!("expected BuildError::Failed, got {other:?}"),
    }
    assert!(
        lines.iter().any(|l| l.contains("COPY missing /x")),
        "{lines:#?}"
    );

    let unparsable = support::context("FROM scratch\nFOOBAR x\n", &[]);
    match docker
        .build_image(&build_request(&tag, &[]), stream(unparsable), &mut |_| {})
        .await
    {
        Err(e @ BuildError::Failed { .. }) => {
            assert!(e.to_string().contains("unknown instruction: FOOBAR"), "{e}")
        }
        other => panic!("expected BuildError::Failed, got {other:?}"),
    }
    assert!(!docker.image_exists(&tag).await.expect("image_exists"));
}

#[tokio::test]
async fn run_container_serves_on_its_network_and_published_port_and_replaces_by_name() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let network = unique("net");
    let name = unique("web");
    cleanup.container(&name);
    cleanup.network(&network);
    docker
        .ensure_network(&network)
        .await
        .expect("ensure_network");
    let (image, _) = build_web_image(&docker, &mut cleanup).await;

    let first = docker
        .run_container(&ContainerSpec {
            publish_port: true,
            ..spec(&name, &image, &network)
        })
        .await
        .expect("run_container");
    assert_eq!(first.name, name);
    let ip = first.ip.clone().expect("an IP on the network");
    assert_eq!(get_page(&format!("http://{ip}:80/")).await, PAGE);
    let host_port = first.host_port.expect("a published host port");
    assert_eq!(
        get_page(&format!("http://127.0.0.1:{host_port}/")).await,
        PAGE
    );

    let inspected = bollard()
        .inspect_container(&first.id, None)
        .await
        .expect("inspect");
    let networks: Vec<String> = inspected
        .network_settings
        .and_then(|s| s.networks)
        .unwrap_or_default()
        .into_keys()
        .collect();
    assert_eq!(
        networks,
        vec![network.clone()],
        "only on its own network, not the default bridge"
    );
    let restart = inspected
        .host_config
        .and_then(|h| h.restart_policy)
        .and_then(|r| r.name);
    assert_eq!(
        restart.map(|r| r.to_string()).as_deref(),
        Some("unless-stopped")
    );

    let second = docker
        .run_container(&spec(&name, &image, &network))
        .await
        .expect("run_container again");
    assert_ne!(second.id, first.id);
    assert_eq!(second.host_port, None, "not published this time");
    let gone = docker
        .container_state(&first.id)
        .await
        .expect_err("first container replaced");
    assert!(gone.is_not_found(), "{gone:?}");
    let ip = second.ip.clone().expect("an IP on the network");
    assert_eq!(get_page(&format!("http://{ip}:80/")).await, PAGE);
    assert!(docker.container_state(&name).await.expect("state").running);

    docker
        .stop_and_remove(&name, Duration::from_secs(2))
        .await
        .expect("stop_and_remove");
    docker
        .stop_and_remove(&name, Duration::from_secs(2))
        .await
        .expect("stop_and_remove twice");
    let gone = docker
        .container_state(&name)
        .await
        .expect_err("container removed");
    assert!(gone.is_not_found(), "{gone:?}");
    assert!(gone.to_string().contains("No such container"), "{gone}");

    let in_use = docker
        .run_container(&spec(
            &unique("web"),
            "slipway-no-such-image:none",
            &network,
        ))
        .await;
    let e = in_use.expect_err("no such image");
    assert!(e.is_not_found(), "{e:?}");
}

#[tokio::test]
async fn an_exited_container_reports_its_exit_code_and_output() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let network = unique("net");
    let name = unique("exit");
    cleanup.container(&name);
    cleanup.network(&network);
    docker
        .ensure_network(&network)
        .await
        .expect("ensure_network");
    let (image, _) = build_web_image(&docker, &mut cleanup).await;

    let script = "echo line-a; echo line-b >&2; echo line-c; exit 3";
    let command = ["/bin/busybox", "sh", "-c", script]
        .map(String::from)
        .to_vec();
    docker
        .run_container(&ContainerSpec {
            command: Some(command),
            ..spec(&name, &image, &network)
        })
        .await
        .expect("run_container");

    let state = eventually(
        Duration::from_secs(15),
        "the container to exit with 3",
        || async {
            let state = docker
                .container_state(&name)
                .await
                .expect("container_state");
            (!state.running && state.exit_code == Some(3)).then_some(state)
        },
    )
    .await;
    assert!(!state.oom_killed);
    assert_eq!(state.error, None);
    assert!(
        ["exited", "restarting"].contains(&state.status.as_str()),
        "{state:?}"
    );

    // The restart policy reruns it, so the log may hold several runs: the first three
    // lines are the first run (stdout and stderr are copied separately, so their
    // relative order is not guaranteed).
    let mut first_run = eventually(
        Duration::from_secs(10),
        "the container's output",
        || async {
            let lines = docker.logs_tail(&name, 1000).await.expect("logs_tail");
            (lines.len() >= 3).then_some(lines)
        },
    )
    .await;
    first_run.truncate(3);
    first_run.sort();
    assert_eq!(first_run, vec!["line-a", "line-b", "line-c"]);
    let last = docker.logs_tail(&name, 1).await.expect("logs_tail 1");
    assert_eq!(last.len(), 1, "{last:?}");
    assert!(last[0].starts_with("line-"), "{last:?}");
    assert!(
        docker
            .logs_tail(&name, 0)
            .await
            .expect("logs_tail 0")
            .is_empty()
    );

    docker
        .stop_and_remove(&name, Duration::ZERO)
        .await
        .expect("stop_and_remove");
    let e = docker
        .logs_tail(&name, 10)
        .await
        .expect_err("logs of a removed container");
    assert!(e.is_not_found(), "{e:?}");
}

#[tokio::test]
async fn list_containers_finds_exactly_the_labelled_ones() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let network = unique("net");
    cleanup.network(&network);
    docker
        .ensure_network(&network)
        .await
        .expect("ensure_network");
    let (image, _) = build_web_image(&docker, &mut cleanup).await;
    let token = unique("label");

    let mut expected = Vec::new();
    for (role, labelled) in [("a", true), ("b", true), ("c", false)] {
        let name = unique(&format!("list-{role}"));
        cleanup.container(&name);
        let mut labels = HashMap::from([("slipway.role".to_owned(), role.to_owned())]);
        if labelled {
            labels.insert("slipway.test".to_owned(), token.clone());
            expected.push(name.clone());
        }
        docker
            .run_container(&ContainerSpec {
                labels,
                ..spec(&name, &image, &network)
            })
            .await
            .expect("run");
    }
    expected.sort();

    let mut found = docker
        .list_containers(&[("slipway.test", &token)])
        .await
        .expect("list_containers");
    found.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        found.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
        expected
    );
    for c in &found {
        assert_eq!(c.image, image);
        assert_eq!(c.labels.get("slipway.test"), Some(&token));
        assert_eq!(c.state, "running");
        assert!(!c.id.is_empty());
    }

    let only_a = docker
        .list_containers(&[("slipway.test", &token), ("slipway.role", "a")])
        .await
        .expect("list");
    assert_eq!(only_a.len(), 1, "{only_a:#?}");
    assert_eq!(only_a[0].name, expected[0]);

    for name in &expected {
        docker
            .stop_and_remove(name, Duration::from_secs(1))
            .await
            .expect("stop_and_remove");
    }
    let stopped = docker
        .list_containers(&[("slipway.test", &token)])
        .await
        .expect("list after removal");
    assert!(stopped.is_empty(), "{stopped:#?}");
}

/// Whether a process with exactly this command line runs on this host (BuildKit runs
/// `RUN` steps as plain processes, not as containers the API lists).
fn process_running(argv: &[&str]) -> bool {
    let wanted: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc")
        .expect("read /proc")
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .any(|cmdline| cmdline == wanted)
}

#[tokio::test]
async fn dropping_a_buildkit_build_stops_its_run_step() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let tag = format!("{}:latest", unique("cancel-bk"));
    cleanup.image(&tag);
    // A duration of its own, so no earlier run's cache answers the step and the
    // process is recognisable.
    let seconds = (1000 + std::process::id() % 9000).to_string();
    let dockerfile = format!(
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\",\"sleep\",\"{seconds}\"]\n"
    );
    let argv = ["/bin/busybox", "sleep", seconds.as_str()];

    let mut lines = Vec::new();
    let mut on_line = |line: String| lines.push(line);
    let request = build_request(&tag, &[]);
    let build = docker.build_image(&request, stream(web_context(&dockerfile)), &mut on_line);
    let step_running = async {
        while !process_running(&argv) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::select! {
        result = build => panic!("the build finished instead of being dropped: {result:?}"),
        _ = step_running => {}
        _ = tokio::time::sleep(Duration::from_secs(60)) => panic!("the RUN step did not start within 60 s"),
    };
    assert!(
        lines.iter().any(|l| l.starts_with("[2/2] RUN")),
        "{lines:#?}"
    );
    // The build future was dropped above, with the RUN step sleeping.
    eventually(
        Duration::from_secs(15),
        "the RUN step's process to stop",
        || async { (!process_running(&argv)).then_some(()) },
    )
    .await;
    assert!(
        !docker.image_exists(&tag).await.expect("image_exists"),
        "a cancelled build left an image"
    );
}

#[tokio::test]
async fn dropping_a_legacy_build_cancels_it() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let tag = format!("{}:latest", unique("cancel"));
    cleanup.image(&tag);
    let dockerfile =
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\",\"sleep\",\"30\"]\n";

    // The intermediate container of the RUN step, as the builder announces it.
    let (running_in, mut announced) = tokio::sync::mpsc::unbounded_channel();
    let mut first_line = None;
    let mut on_line = |line: String| {
        if first_line.is_none() {
            first_line = Some(Instant::now());
        }
        if let Some(id) = line.trim().strip_prefix("---> Running in ") {
            let _ = running_in.send(id.to_owned());
        }
    };
    let request = BuildRequest {
        builder: Builder::Legacy,
        ..build_request(&tag, &[])
    };
    let build = docker.build_image(&request, stream(web_context(dockerfile)), &mut on_line);
    let started = Instant::now();
    let container = tokio::select! {
        result = build => panic!("the build finished instead of being dropped: {result:?}"),
        id = announced.recv() => id.expect("a 'Running in' line"),
        _ = tokio::time::sleep(Duration::from_secs(60)) => panic!("no 'Running in' line within 60 s"),
    };
    // The build future is dropped here, with the RUN step sleeping for 30 s.
    let dropped_after = started.elapsed();
    assert!(first_line.is_some());
    assert!(
        dropped_after < Duration::from_secs(25),
        "took {dropped_after:?} to reach the RUN step"
    );

    // The daemon notices the closed connection and kills the step's container.
    let dropped = Instant::now();
    eventually(
        Duration::from_secs(15),
        "the RUN step's container to stop",
        || async {
            match docker.container_state(&container).await {
                Err(e) if e.is_not_found() => Some(()),
                Ok(state) if !state.running => Some(()),
                Ok(_) => None,
                Err(e) => panic!("container_state: {e}"),
            }
        },
    )
    .await;
    assert!(dropped.elapsed() < Duration::from_secs(15));
    assert!(
        !docker.image_exists(&tag).await.expect("image_exists"),
        "a cancelled build left an image"
    );
}

#[tokio::test]
async fn dropping_a_build_during_the_upload_releases_the_context() {
    use futures_util::StreamExt;

    let docker = docker().await;
    let tag = format!("{}:latest", unique("upload"));
    // A context that never ends: a first chunk, then nothing. Its guard reports when
    // the stream itself is dropped, which proves no task kept the upload alive.
    let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
    struct OnDrop(Option<tokio::sync::oneshot::Sender<()>>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            if let Some(tx) = self.0.take() {
                let _ = tx.send(());
            }
        }
    }
    let guard = OnDrop(Some(dropped_tx));
    let first = stream(web_context(WEB_DOCKERFILE)).take(1);
    let endless = first
        .chain(futures_util::stream::pending())
        .map(move |chunk| {
            let _keep = &guard;
            chunk
        });

    let request = build_request(&tag, &[]);
    let mut on_line = |_line: String| {};
    let build = docker.build_image(&request, endless, &mut on_line);
    let result = tokio::time::timeout(Duration::from_secs(1), build).await;
    assert!(
        result.is_err(),
        "the build cannot finish without its context: {result:?}"
    );
    tokio::time::timeout(Duration::from_secs(5), dropped_rx)
        .await
        .expect("the context stream was still alive 5 s after the build future was dropped")
        .expect("guard dropped");
}

/// Bytes of BuildKit cache on the daemon, from `GET /system/df` in API 1.41's shape
/// (bollard reads the newer one), over the default socket.
async fn build_cache_bytes() -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::UnixStream::connect("/var/run/docker.sock")
        .await
        .expect("docker socket");
    socket
        .write_all(b"GET /v1.41/system/df HTTP/1.0\r\nHost: docker\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let (_, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    let df: serde_json::Value = serde_json::from_str(body).expect("JSON from /system/df");
    df["BuildCache"]
        .as_array()
        .map(|records| records.iter().filter_map(|r| r["Size"].as_u64()).sum())
        .unwrap_or(0)
}

#[tokio::test]
async fn the_build_cache_is_pruned_down_to_the_bound() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let tag = format!("{}:latest", unique("cache"));
    cleanup.image(&tag);
    // A step of its own writing 2 MB, so the cache holds at least that much.
    let dockerfile = format!(
        "FROM scratch\nCOPY busybox /bin/busybox\n\
         RUN [\"/bin/busybox\",\"sh\",\"-c\",\"echo {tag}; /bin/busybox dd if=/dev/zero of=/big bs=1024 count=2048\"]\n"
    );
    docker
        .build_image(
            &build_request(&tag, &[]),
            stream(web_context(&dockerfile)),
            &mut |_| {},
        )
        .await
        .unwrap_or_else(|e| panic!("build failed: {e}"));
    let before = build_cache_bytes().await;
    assert!(before >= 2 << 20, "{before} bytes of build cache");
    assert_eq!(
        docker.prune_build_cache(u64::MAX).await.expect("prune"),
        0,
        "nothing is pruned under the bound"
    );
    // Under what is there (records sharing data count once for the daemon, so a few
    // MB under the listed sum): the least recently used records go.
    let reclaimed = docker
        .prune_build_cache(before - (8 << 20))
        .await
        .expect("prune");
    assert!(reclaimed > 0, "nothing reclaimed from {before} bytes");
}

/// Every file of the image (its layers, in `docker save` form) with its contents, and
/// the raw saved archive, which also holds the image config and history.
async fn saved_image(tag: &str) -> (HashMap<String, Vec<u8>>, Vec<u8>) {
    use futures_util::TryStreamExt;
    use std::io::Read;
    let raw: Vec<u8> = bollard()
        .export_image(tag)
        .map_ok(|chunk| chunk.to_vec())
        .try_concat()
        .await
        .unwrap();
    let mut files = HashMap::new();
    let mut outer = tar::Archive::new(raw.as_slice());
    for entry in outer.entries().unwrap() {
        let mut entry = entry.unwrap();
        if !entry
            .path()
            .unwrap()
            .to_string_lossy()
            .ends_with("layer.tar")
        {
            continue;
        }
        let mut layer = Vec::new();
        entry.read_to_end(&mut layer).unwrap();
        let mut inner = tar::Archive::new(layer.as_slice());
        for file in inner.entries().unwrap() {
            let mut file = file.unwrap();
            let path = file.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            file.read_to_end(&mut data).unwrap();
            files.insert(path, data);
        }
    }
    (files, raw)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn a_build_secret_is_readable_by_its_run_step_and_nowhere_in_the_image() {
    use sha2::Digest;
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let tag = format!("{}:v1", unique("secret"));
    cleanup.image(&tag);
    let value = format!("npm-{}", uuid::Uuid::new_v4().simple());
    let digest = format!("{:x}", sha2::Sha256::digest(value.as_bytes()));
    // The step fails unless the mounted file holds exactly the value (its hash, not
    // the value, is in the Dockerfile), and records only what it saw.
    let dockerfile = format!(
        "FROM scratch\n\
         COPY busybox /bin/busybox\n\
         RUN --mount=type=secret,id=NPM_TOKEN [\"/bin/busybox\",\"sh\",\"-c\",\
         \"/bin/busybox sha256sum /run/secrets/NPM_TOKEN | /bin/busybox grep -q ^{digest} \
         && /bin/busybox echo matched > /secret-check \
         && /bin/busybox wc -c < /run/secrets/NPM_TOKEN > /secret-length\"]\n"
    );
    let busybox = std::fs::read("/usr/bin/busybox").unwrap();
    let context = support::context(&dockerfile, &[("busybox", &busybox, 0o755)]);
    let request = BuildRequest {
        secrets: BuildSecrets::new([("NPM_TOKEN".to_owned(), value.clone())].into()),
        ..build_request(&tag, &[])
    };
    let mut lines = Vec::new();
    let mut on_line = |line: String| lines.push(line);
    docker
        .build_image(&request, stream(context), &mut on_line)
        .await
        .unwrap_or_else(|e| panic!("build failed: {e}\n{lines:#?}"));

    assert!(lines.iter().all(|l| !l.contains(&value)), "{lines:#?}");
    let history = bollard().image_history(&tag).await.unwrap();
    assert!(
        history
            .iter()
            .any(|h| h.created_by.contains("/secret-check")),
        "{history:#?}"
    );
    assert!(
        history.iter().all(|h| !h.created_by.contains(&value)),
        "{history:#?}"
    );
    let (files, raw) = saved_image(&tag).await;
    assert_eq!(
        files.get("secret-check").map(Vec::as_slice),
        Some(&b"matched\n"[..]),
        "{:?}",
        files.keys()
    );
    assert_eq!(
        String::from_utf8_lossy(&files["secret-length"]).trim(),
        value.len().to_string()
    );
    assert!(
        files.keys().all(|path| !path.contains("secrets/NPM_TOKEN")),
        "{:?}",
        files.keys()
    );
    assert!(!contains(&raw, &value), "the value is in the saved image");
}

#[tokio::test]
async fn a_secret_the_build_was_not_given_fails_it_naming_the_id() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let tag = format!("{}:v1", unique("secret"));
    cleanup.image(&tag);
    let dockerfile = "FROM scratch\n\
         COPY busybox /bin/busybox\n\
         RUN --mount=type=secret,id=OTHER_TOKEN,required=true [\"/bin/busybox\",\"true\"]\n";
    let busybox = std::fs::read("/usr/bin/busybox").unwrap();
    let context = support::context(dockerfile, &[("busybox", &busybox, 0o755)]);
    let request = BuildRequest {
        secrets: BuildSecrets::new([("NPM_TOKEN".to_owned(), "x".to_owned())].into()),
        ..build_request(&tag, &[])
    };
    let e = docker
        .build_image(&request, stream(context), &mut |_| {})
        .await
        .expect_err("the build needs a secret it was not given");
    assert!(
        matches!(&e, BuildError::Failed { message } if message.contains("OTHER_TOKEN")),
        "{e:?}"
    );
}

#[tokio::test]
async fn the_legacy_builder_refuses_build_secrets() {
    let docker = docker().await;
    let tag = format!("{}:v1", unique("secret"));
    let request = BuildRequest {
        builder: Builder::Legacy,
        secrets: BuildSecrets::new([("NPM_TOKEN".to_owned(), "x".to_owned())].into()),
        ..build_request(&tag, &[])
    };
    let e = docker
        .build_image(&request, stream(web_context(WEB_DOCKERFILE)), &mut |_| {})
        .await
        .expect_err("secrets need BuildKit");
    assert!(
        matches!(&e, BuildError::Failed { message } if message.contains("need BuildKit")),
        "{e:?}"
    );
    assert!(!docker.image_exists(&tag).await.unwrap());
}
