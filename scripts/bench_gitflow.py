"""The git-flow half of scripts/bench-deploy.sh: `git push` -> serving against the same
work done by hand, and a test-gated deploy against an ungated one, alternating in one run."""

import argparse
import os
import statistics
import subprocess
import time
import urllib.parse

from bench_deploy import (TIMEOUT, api, floor_round, git_commit, make_repo, p95, row, sh,
                          timed_release, wait_body)

GATE_SPEC = '[test]\ncommand = ["/bin/busybox", "true"]\n'


def push_round(base, app, repo, marker):
    """A commit pushed to Slipway until its release serves `marker`; the push itself
    returns once the deployment is running (it streams the deployment)."""
    git_commit(repo, marker)
    start = time.monotonic()
    pushed = subprocess.run(["git", "push", "-q", "slipway", "main"], cwd=repo,
                            capture_output=True, text=True)
    if pushed.returncode != 0:
        raise SystemExit(f"git push failed: {pushed.stderr}")
    latest = api(base, "GET", f"/api/v1/apps/{app}/deployments?limit=1")["deployments"][0]
    d = api(base, "GET", f"/api/v1/deployments/{latest['id']}")
    if d["status"] != "running":
        raise SystemExit(f"pushed deployment {d['id']} is {d['status']}: {d.get('reason')}")
    c = d["containers"][0]
    wait_body(f"http://{c['ip']}:{c['port']}/", marker, start + TIMEOUT)
    return time.monotonic() - start


def gated_round(base, app, repo_marker):
    """A redeploy of the current commit by an app whose spec has `[test]`: the total,
    and the test container's own run time as the run recorded it."""
    total, _, _ = timed_release(
        base, lambda: api(base, "POST", f"/api/v1/apps/{app}/deployments", {}), repo_marker)
    dep = api(base, "GET", f"/api/v1/apps/{app}/deployments?limit=1")["deployments"][0]["id"]
    runs = api(base, "GET", f"/api/v1/apps/{app}/test-runs?limit=5")["test_runs"]
    run = next(r for r in runs if r.get("deployment_id") == dep)
    return total, run["duration_ms"] / 1000


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--api", required=True)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--network", required=True)
    p.add_argument("--work", required=True)
    a = p.parse_args()
    token = os.environ["SLIPWAY_ADMIN_TOKEN"]
    base = urllib.parse.urlparse(a.api)

    # git push -> serving, against git clone + BuildKit build + docker run by hand.
    repo = make_repo(a.work, "push-repo")
    app = f"push-{os.getpid()}"
    api(a.api, "POST", "/api/v1/apps", {"name": app, "port": 80})
    sh("git", "remote", "add", "slipway", f"http://bench:{token}@{base.netloc}/git/{app}.git", cwd=repo)
    print(f"==> warming up (first push of {app})")
    push_round(a.api, app, repo, "push-warmup")
    pushes, floors = [], []
    for i in range(a.rounds):
        pushes.append(push_round(a.api, app, repo, f"push-{i}"))
        floors.append(floor_round(repo, a.network, a.work, f"push-floor-{i}", f"push-floor-{i}")[0])
        print(f"push {i + 1}/{a.rounds}: git push {pushes[-1] * 1000:.0f} ms, by hand {floors[-1] * 1000:.0f} ms")

    # The same commit released by an app with [test] and one without, alternating:
    # both reuse the image, so the difference is the gate.
    repo2 = make_repo(a.work, "gate-repo")
    with open(os.path.join(repo2, "slipway-gated.toml"), "w") as f:
        f.write(GATE_SPEC)
    git_commit(repo2, "gate-marker")
    gated_app, plain_app = f"gated-{os.getpid()}", f"plain-{os.getpid()}"
    for name, spec in ((gated_app, "slipway-gated.toml"), (plain_app, "slipway.toml")):
        created = api(a.api, "POST", "/api/v1/apps",
                      {"name": name, "repo_url": f"file://{repo2}", "port": 80, "spec_path": spec})
        first = created["deployment"]["id"]
        deadline = time.monotonic() + TIMEOUT
        while api(a.api, "GET", f"/api/v1/deployments/{first}")["status"] != "running":
            if time.monotonic() > deadline:
                raise SystemExit(f"first deployment of {name} never ran")
            time.sleep(0.1)
    gated, plain, test_runs = [], [], []
    for i in range(a.rounds):
        order = [True, False] if i % 2 == 0 else [False, True]
        for gate in order:
            if gate:
                total, run = gated_round(a.api, gated_app, "gate-marker")
                gated.append(total)
                test_runs.append(run)
            else:
                total, _, _ = timed_release(
                    a.api, lambda: api(a.api, "POST", f"/api/v1/apps/{plain_app}/deployments", {}),
                    "gate-marker")
                plain.append(total)
        print(f"gate {i + 1}/{a.rounds}: gated {gated[-1] * 1000:.0f} ms, ungated {plain[-1] * 1000:.0f} ms, "
              f"test container {test_runs[-1] * 1000:.0f} ms")

    print(f"\n{'git flow (ms, ' + str(a.rounds) + ' rounds)':<32}{'median':>10}{'p95':>10}")
    row("git push->serving", pushes)
    row("by hand (floor)", floors)
    print(f"ratio push/floor (medians): {statistics.median(pushes) / statistics.median(floors):.2f}")
    row("test-gated redeploy", gated)
    row("ungated redeploy", plain)
    row("  test container run (recorded)", test_runs)
    overhead = [g - p - t for g, p, t in zip(gated, plain, test_runs)]
    print(f"gate overhead beyond the test container (median of per-round differences): "
          f"{statistics.median(overhead) * 1000:.0f} ms (p95 {p95(overhead) * 1000:.0f} ms)")
    for name in (app, gated_app, plain_app):
        api(a.api, "DELETE", f"/api/v1/apps/{name}")


if __name__ == "__main__":
    main()
