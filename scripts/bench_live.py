"""Latency from a deployment's status change to a WebSocket client (part of
scripts/bench-deploy.sh): a client subscribes to an app, the app is deployed ROUNDS
times, and each `status` message's arrival is compared with the time the database
recorded that status (`events[].at` of GET /api/v1/deployments/{id}, the same clock)."""

import argparse
import base64
import json
import os
import socket
import statistics
import struct
import time
import urllib.parse

from bench_deploy import TIMEOUT, api, git_commit, make_repo, p95


class WebSocket:
    """Just enough of RFC 6455 for a benchmark client: text frames, masked sends."""

    def __init__(self, base, token):
        u = urllib.parse.urlparse(base)
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            f"GET /api/v1/ws HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise SystemExit(f"WebSocket upgrade refused: {head.decode(errors='replace')}")

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise SystemExit("the server closed the WebSocket")
            buf += chunk
        return buf

    def send(self, message):
        payload = json.dumps(message).encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        n = len(payload)
        header += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def recv(self):
        """The next text message as JSON, and the wall-clock time it arrived."""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(n)
            at = time.time()
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise SystemExit(f"the server closed the WebSocket: {payload[2:].decode(errors='replace')}")
            if opcode == 0x1:
                return json.loads(payload), at


def parse_time(s):
    """RFC 3339 with any number of fractional digits, as Unix seconds."""
    from datetime import datetime
    date, _, frac = s.rstrip("Z").partition(".")
    whole = datetime.fromisoformat(date + "+00:00").timestamp()
    return whole + (float("0." + frac) if frac else 0.0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--api", required=True)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--work", required=True)
    a = p.parse_args()
    token = os.environ["SLIPWAY_ADMIN_TOKEN"]

    repo = make_repo(os.path.join(a.work, "live"))
    app = f"live-{os.getpid()}"
    ws = WebSocket(a.api, token)
    ws.send({"id": "sub", "type": "subscribe", "app": app})
    ws.recv()  # an error (no such app yet) is fine: subscribe again once it exists
    created = api(a.api, "POST", "/api/v1/apps", {"name": app, "repo_url": f"file://{repo}", "port": 80})
    current = created["deployment"]["id"]
    ws.send({"id": "sub", "type": "subscribe", "app": app})
    arrivals = {}  # (deployment, status) -> arrival time
    finished = 0
    ids = []
    deadline = time.monotonic() + TIMEOUT * (a.rounds + 1)
    # The app's first deployment, then ROUNDS more, one after the other.
    while finished <= a.rounds:
        if time.monotonic() > deadline:
            raise SystemExit("deployments did not finish in time")
        message, at = ws.recv()
        if message["type"] == "status":
            arrivals[(message["deployment_id"], message["status"])] = at
            if message["deployment_id"] not in ids:
                ids.append(message["deployment_id"])
        elif message["type"] == "result" and message["deployment_id"] == current:
            # (A release that goes live ends the one before it: that result is not ours.)
            finished += 1
            status = message["deployment"]["status"]
            if status != "running":
                raise SystemExit(f"deployment {status}: {message['deployment'].get('reason')}")
            if finished <= a.rounds:
                git_commit(repo, f"live-round-{finished}")
                current = api(a.api, "POST", f"/api/v1/apps/{app}/deployments", {})["id"]
    latencies = []
    for dep in ids:
        d = api(a.api, "GET", f"/api/v1/deployments/{dep}")
        for e in d["events"]:
            got = arrivals.pop((dep, e["status"]), None)
            if got is not None:
                latencies.append(got - parse_time(e["at"]))
    print(f"\n{'(ms, ' + str(len(latencies)) + ' status changes)':<28}{'median':>10}{'p95':>10}")
    print(f"{'status change -> WebSocket':<28}{statistics.median(latencies) * 1000:>10.1f}"
          f"{p95(latencies) * 1000:>10.1f}")
    api(a.api, "DELETE", f"/api/v1/apps/{app}")


if __name__ == "__main__":
    main()
