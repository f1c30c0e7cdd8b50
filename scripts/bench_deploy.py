"""The measuring half of scripts/bench-deploy.sh (which starts Slipway and Postgres)."""

import argparse
import http.client
import io
import json
import os
import socket
import shutil
import statistics
import subprocess
import tarfile
import time
import urllib.error
import urllib.request

POLL = 0.01
TIMEOUT = 180


def api(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + os.environ["SLIPWAY_ADMIN_TOKEN"])
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def wait_body(url, marker, deadline):
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if marker in resp.read().decode(errors="replace"):
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(POLL)
    raise SystemExit(f"{url} never served {marker!r}")


def sh(*cmd, cwd=None):
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


# BuildKit's cache outlives a run and is keyed by content: without this, a page made in
# an earlier run (markers repeat) would be a cache hit, not a fresh build.
RUN_NONCE = os.urandom(8).hex()


def git_commit(repo, marker):
    with open(os.path.join(repo, "www", "index.html"), "w") as f:
        f.write(f"<h1>{marker}</h1>\n<!-- {RUN_NONCE} -->\n")
    sh("git", "add", "-A", cwd=repo)
    sh("git", "-c", "user.name=bench", "-c", "user.email=bench@slipway.invalid", "commit", "-qm", marker, cwd=repo)


WEB_DOCKERFILE = ('FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\n'
                  'CMD ["/bin/busybox","httpd","-f","-p","80","-h","/www"]\n')

# Two stages with no dependency on each other, each with a RUN that takes a while and
# depends on the commit's page (so neither is cached), and a last stage taking from both:
# BuildKit runs the first two at once.
PARALLEL_DOCKERFILE = """FROM scratch AS left
COPY busybox /bin/busybox
COPY www /www
RUN ["/bin/busybox","sh","-c","/bin/busybox sleep 0.3; /bin/busybox md5sum /www/index.html > /left"]
FROM scratch AS right
COPY busybox /bin/busybox
COPY www /www
RUN ["/bin/busybox","sh","-c","/bin/busybox sleep 0.3; /bin/busybox md5sum /www/index.html > /right"]
FROM scratch
COPY --from=left /bin/busybox /bin/busybox
COPY --from=left /www /www
COPY --from=left /left /www/left
COPY --from=right /right /www/right
CMD ["/bin/busybox","httpd","-f","-p","80","-h","/www"]
"""

# The page is made by a RUN whose cache mount holds what is slow to get (standing in
# for downloaded dependencies): a commit that only changes the page reruns the step,
# which finds its cache mount warm. One id for every run, so runs do not pile up mounts.
CACHE_MOUNT_DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
COPY www /src
RUN --mount=type=cache,id=slipway-bench-deps,target=/cache ["/bin/busybox","sh","-c","\
[ -f /cache/deps ] || { /bin/busybox sleep 2; /bin/busybox dd if=/dev/zero of=/cache/deps bs=1M count=20 2>/dev/null; }; \
/bin/busybox mkdir -p /site && /bin/busybox cp /src/index.html /site/index.html && /bin/busybox wc -c /cache/deps > /site/deps"]
CMD ["/bin/busybox","httpd","-f","-p","80","-h","/site"]
"""


def make_repo(work, name="repo", dockerfile=WEB_DOCKERFILE):
    repo = os.path.join(work, name)
    os.makedirs(os.path.join(repo, "www"))
    shutil.copy("/usr/bin/busybox", os.path.join(repo, "busybox"))
    with open(os.path.join(repo, "Dockerfile"), "w") as f:
        f.write(dockerfile)
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    git_commit(repo, "initial")
    return repo


def create_app(a, app, repo):
    """Creates the app and waits for its first deployment (a build) to serve."""
    created = api(a.api, "POST", "/api/v1/apps", {"name": app, "repo_url": f"file://{repo}", "port": 80})
    first = created["deployment"]["id"]
    deadline = time.monotonic() + TIMEOUT
    while True:
        d = api(a.api, "GET", f"/api/v1/deployments/{first}")
        if d["status"] == "running":
            return
        if d["status"] in ("failed", "cancelled", "superseded") or time.monotonic() > deadline:
            raise SystemExit(f"first deployment of {app} {d['status']}: {d.get('reason')}")
        time.sleep(0.1)


def alternate(a, app, repo, label):
    """`a.rounds` fresh commits, each deployed by Slipway and then by hand."""
    totals, floors, floor_builds, pickups, phases = [], [], [], [], {}
    for i in range(a.rounds):
        total, ph, pickup = slipway_round(a.api, app, repo, f"slipway-{label}-{i}")
        floor, floor_build = floor_round(repo, a.network, a.work, f"{label}-{i}", f"floor-{label}-{i}")
        totals.append(total)
        floors.append(floor)
        floor_builds.append(floor_build)
        pickups.append(pickup)
        for k, v in ph.items():
            phases.setdefault(k, []).append(v)
        print(f"{label} {i + 1}/{a.rounds}: slipway {total * 1000:.0f} ms, by hand {floor * 1000:.0f} ms")
    return totals, floors, floor_builds, pickups, phases


def slipway_round(base, app, repo, marker):
    git_commit(repo, marker)
    return timed_release(base, lambda: api(base, "POST", f"/api/v1/apps/{app}/deployments", {}), marker)


def timed_release(base, post, marker):
    """POST (through `post`) until the new release's own container serves `marker`."""
    start = time.monotonic()
    deadline = start + TIMEOUT
    dep = post()
    while True:
        d = api(base, "GET", f"/api/v1/deployments/{dep['id']}")
        if d["status"] == "running":
            break
        if d["status"] in ("failed", "cancelled", "superseded"):
            raise SystemExit(f"deployment {d['id']} {d['status']} in {d.get('phase')}: {d.get('reason')}")
        if time.monotonic() > deadline:
            raise SystemExit(f"deployment {d['id']} still {d['status']}")
        time.sleep(POLL)
    c = d["containers"][0]
    wait_body(f"http://{c['ip']}:{c['port']}/", marker, deadline)
    total = time.monotonic() - start
    phases = {p["phase"]: p["duration_ms"] / 1000 for p in d["phases"] if p["duration_ms"] is not None}
    return total, phases, d["pickup_ms"] / 1000


class DockerSocket(http.client.HTTPConnection):
    """The Docker Engine API over its unix socket (DOCKER_HOST=unix://… or the default)."""

    def __init__(self):
        super().__init__("localhost", timeout=TIMEOUT)
        host = os.environ.get("DOCKER_HOST", "")
        self.path = host[len("unix://"):] if host.startswith("unix://") else "/var/run/docker.sock"

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def buildkit_build(context_dir, tag):
    """The best builder this daemon offers: BuildKit through the Engine API (`version=2`,
    what `docker buildx build` would use), the working tree as a tar context."""
    body = io.BytesIO()
    # GNU headers: the daemon does not take a PAX-headed body for a tar context.
    with tarfile.open(fileobj=body, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for entry in sorted(os.listdir(context_dir)):
            if entry != ".git":
                tar.add(os.path.join(context_dir, entry), arcname=entry)
    conn = DockerSocket()
    conn.request("POST", f"/build?version=2&t={tag}", body=body.getvalue(),
                 headers={"Content-Type": "application/x-tar"})
    resp = conn.getresponse()
    out = resp.read().decode(errors="replace")
    conn.close()
    if resp.status != 200 or '"errorDetail"' in out:
        raise SystemExit(f"BuildKit build by hand failed ({resp.status}): {out[-500:]}")


def floor_round(repo, network, work, i, marker):
    """git clone + a BuildKit build through the Engine API + docker run + first 200;
    returns the total and the build alone."""
    git_commit(repo, marker)
    clone = os.path.join(work, f"floor-{i}")
    name = f"bench-floor-{os.getpid()}-{i}"
    start = time.monotonic()
    sh("git", "clone", "-q", "--depth", "1", f"file://{repo}", clone)
    built = time.monotonic()
    buildkit_build(clone, f"{name}:latest")
    build = time.monotonic() - built
    sh("docker", "run", "-d", "--name", name, "--network", network, f"{name}:latest")
    ip = sh("docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name)
    wait_body(f"http://{ip}:80/", marker, start + TIMEOUT)
    total = time.monotonic() - start
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    subprocess.run(["docker", "rmi", f"{name}:latest"], capture_output=True)
    shutil.rmtree(clone, ignore_errors=True)
    return total, build


def floor_run_round(image, network, i, marker_page):
    """The floor of a release without a build: `docker run` of an existing image, first 200."""
    name = f"bench-run-{os.getpid()}-{i}"
    start = time.monotonic()
    sh("docker", "run", "-d", "--name", name, "--network", network, image)
    ip = sh("docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name)
    wait_body(f"http://{ip}:80/", marker_page, start + TIMEOUT)
    total = time.monotonic() - start
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    return total


def row(label, xs):
    print(f"{label:<32}{statistics.median(xs) * 1000:>10.0f}{p95(xs) * 1000:>10.0f}")


def report(title, rounds, totals, floors, floor_builds, pickups, phases):
    print(f"\n{title}:\n{'(ms, ' + str(rounds) + ' rounds)':<32}{'median':>10}{'p95':>10}")
    row("slipway POST->serving", totals)
    for k in ("clone", "build", "release"):
        if k in phases:
            row(f"  phase {k}", phases[k])
    row("  pickup (pending->cloning)", pickups)
    row("by hand (floor)", floors)
    row("  BuildKit build by hand", floor_builds)
    print(f"ratio slipway/floor (medians): {statistics.median(totals) / statistics.median(floors):.2f}")
    if "build" in phases:
        print(f"ratio build phase/build by hand (medians): "
              f"{statistics.median(phases['build']) / statistics.median(floor_builds):.2f}")


def p95(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--api", required=True)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--network", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--api-pid", type=int, required=True)
    p.add_argument("--worker-pid", type=int, required=True)
    a = p.parse_args()

    repo = make_repo(a.work)
    app = f"bench-{os.getpid()}"
    print(f"==> warming up (first deploy of {app}, one build by hand)")
    create_app(a, app, repo)
    floor_round(repo, a.network, a.work, "warmup", "warmup-floor")
    report("fresh commit", a.rounds, *alternate(a, app, repo, "round"))

    # Releases without a build: the same commit again (its image exists), and rollbacks
    # (image and config of the previous release), each beside `docker run` by hand.
    # Each floor round committed its own page, so HEAD was never deployed by Slipway:
    # deploy it once (a build), then every redeploy of it reuses that image.
    last_slipway = f"slipway-round-{a.rounds - 1}"
    head_marker = f"floor-round-{a.rounds - 1}"
    timed_release(a.api, lambda: api(a.api, "POST", f"/api/v1/apps/{app}/deployments", {}), head_marker)
    floor_image = f"bench-run-image-{os.getpid()}:latest"
    buildkit_build(repo, floor_image)
    cached, rollbacks, run_floors = [], [], []
    markers = [head_marker, last_slipway]
    for i in range(a.rounds):
        total, _, _ = timed_release(
            a.api, lambda: api(a.api, "POST", f"/api/v1/apps/{app}/deployments", {}), head_marker)
        cached.append(total)
        run_floors.append(floor_run_round(floor_image, a.network, f"c{i}", "<h1>"))
        print(f"cached redeploy {i + 1}/{a.rounds}: slipway {total * 1000:.0f} ms, docker run {run_floors[-1] * 1000:.0f} ms")
    # The first rollback names the release of the last Slipway round; each later one
    # takes the default (the release before the current), flipping between the two.
    release_of = {}
    for d in api(a.api, "GET", f"/api/v1/apps/{app}/deployments")["deployments"]:
        release_of.setdefault((d.get("commit_message") or "").strip(), d["id"])
    target = release_of.get(markers[1])
    expect = markers[1]
    for i in range(a.rounds):
        body = {"deployment_id": target} if i == 0 and target else {}
        total, _, _ = timed_release(
            a.api, lambda b=body: api(a.api, "POST", f"/api/v1/apps/{app}/rollback", b), expect)
        rollbacks.append(total)
        run_floors.append(floor_run_round(floor_image, a.network, f"r{i}", "<h1>"))
        print(f"rollback {i + 1}/{a.rounds}: slipway {total * 1000:.0f} ms, docker run {run_floors[-1] * 1000:.0f} ms")
        expect = markers[0] if expect == markers[1] else markers[1]
    subprocess.run(["docker", "rmi", floor_image], capture_output=True)
    print(f"\n{'(ms, ' + str(a.rounds) + ' rounds)':<32}{'median':>10}{'p95':>10}")
    row("cached redeploy POST->serving", cached)
    if rollbacks:
        row("rollback POST->serving", rollbacks)
    row("docker run by hand (floor)", run_floors)
    floor = statistics.median(run_floors)
    print(f"ratio cached/floor (medians): {statistics.median(cached) / floor:.2f}")
    if rollbacks:
        print(f"ratio rollback/floor (medians): {statistics.median(rollbacks) / floor:.2f}")

    # A three-stage Dockerfile whose first two stages build at once, and a rebuild that
    # only changes the file a RUN step with a warm cache mount reads.
    scenarios = [
        ("parallel", "three stages, two in parallel", PARALLEL_DOCKERFILE),
        ("cachemount", "rebuild with a warm cache mount", CACHE_MOUNT_DOCKERFILE),
    ]
    for label, title, dockerfile in scenarios:
        scenario_repo = make_repo(a.work, f"repo-{label}", dockerfile)
        scenario_app = f"{app}-{label}"
        print(f"\n==> {title}: warming up (first deploy of {scenario_app}, one build by hand)")
        create_app(a, scenario_app, scenario_repo)
        floor_round(scenario_repo, a.network, a.work, f"{label}-warmup", f"warmup-{label}")
        report(title, a.rounds, *alternate(a, scenario_app, scenario_repo, label))
        api(a.api, "DELETE", f"/api/v1/apps/{scenario_app}")

    api(a.api, "DELETE", f"/api/v1/apps/{app}")
    time.sleep(5)
    print(f"idle RSS: slipway-api {rss_mb(a.api_pid):.1f} MB, slipway-worker {rss_mb(a.worker_pid):.1f} MB")


if __name__ == "__main__":
    main()
