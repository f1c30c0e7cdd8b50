// Slipway dashboard: buttons call the JSON API, logs follow its SSE streams, and the
// live part of an app page is fetched again as server-rendered HTML. No build step.
"use strict";

(() => {
  const page = document.getElementById("app");
  if (!page) return;
  const app = page.dataset.app;
  const api = `/api/v1/apps/${encodeURIComponent(app)}`;
  const live = document.getElementById("live");
  const notice = document.getElementById("notice");
  const log = document.getElementById("log");
  const logTitle = document.getElementById("log-title");
  const REFRESH_MS = 1500;
  const MAX_LOG_LINES = 2000;

  function say(text, isError) {
    notice.textContent = text;
    notice.classList.toggle("error", Boolean(isError));
  }

  async function refresh() {
    try {
      const response = await fetch(`/apps/${encodeURIComponent(app)}/live`);
      // Signed out meanwhile (token revoked, cookie expired): go to the sign-in page.
      if (response.redirected) {
        window.location.assign(response.url);
        return;
      }
      if (response.ok) live.innerHTML = await response.text();
    } catch (_) {
      // The server is restarting or the network blipped: the next tick tries again.
    }
  }
  setInterval(refresh, REFRESH_MS);

  let stream = null;
  function appendLine(text) {
    log.append(text + "\n");
    // Keep the page light on chatty apps: drop the oldest lines.
    while (log.childNodes.length > MAX_LOG_LINES) log.removeChild(log.firstChild);
    log.scrollTop = log.scrollHeight;
  }
  function follow(url, title, format) {
    if (stream) stream.close();
    log.textContent = "";
    logTitle.textContent = title;
    stream = new EventSource(url);
    stream.addEventListener("line", (event) => {
      try {
        appendLine(format(JSON.parse(event.data)));
      } catch (_) {
        appendLine(event.data);
      }
    });
    stream.addEventListener("end", () => {
      stream.close();
      appendLine("-- end of log --");
      refresh();
    });
    stream.addEventListener("error", () => {
      // EventSource reconnects by itself (resuming after the last id) while open.
      if (stream.readyState === EventSource.CLOSED) appendLine("-- stream closed --");
    });
  }
  function followBuild(id) {
    follow(`/api/v1/deployments/${id}/logs?follow=true`, `Build log of ${id}`,
      (l) => `${l.stream.padEnd(7)} ${l.line}`);
  }
  function followRuntime() {
    follow(`${api}/logs?follow=true&tail=200`, "Runtime logs",
      (l) => `${l.process}.${l.container.split("-").slice(-2, -1)[0] || ""} ${l.line}`);
  }

  async function post(path, body, label) {
    say(`${label}…`);
    let response;
    try {
      response = await fetch(path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (err) {
      say(`${label} failed: ${err}`, true);
      return;
    }
    let data = {};
    try {
      data = await response.json();
    } catch (_) {
      // Not JSON: the status line says enough.
    }
    if (!response.ok) {
      const message = data.error && data.error.message;
      say(`${label} failed: ${message || `HTTP ${response.status}`}`, true);
      return;
    }
    say(`${label}: deployment ${data.id} is ${data.status}`);
    if (data.id) followBuild(data.id);
    refresh();
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const id = button.dataset.id;
    switch (button.dataset.action) {
      case "redeploy":
        post(`${api}/deployments`, {}, "Redeploy");
        break;
      case "rollback":
        post(`${api}/rollback`, {}, "Roll back");
        break;
      case "rollback-to":
        post(`${api}/rollback`, { deployment_id: id }, "Roll back");
        break;
      case "cancel":
        post(`/api/v1/deployments/${id}/cancel`, {}, "Cancel");
        break;
      case "build-log":
        followBuild(id);
        break;
      case "runtime-logs":
        followRuntime();
        break;
    }
  });

  // Start with the newest deployment's log: what someone opening the page wants to see.
  const newest = document.querySelector("#timeline .deployment");
  if (newest) followBuild(newest.dataset.id);
})();
