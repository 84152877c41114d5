// Tool runs, live: progress bars, stage and time left move as the worker reports; the run list and
// the run page refetch their state when a run starts or ends, or when events may have been missed.
import { connectProject } from "./live.js";

const root = document.querySelector("[data-toolruns-project]");

function formatDuration(seconds) {
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h) return `${h} h ${String(m).padStart(2, "0")} min`;
  if (m) return `${m} min ${String(s).padStart(2, "0")} s`;
  return `${s} s`;
}

// Time left is extrapolated from the run's own pace; `elapsed` comes from the server, so a client
// clock that is off does not matter.
function etaFrom(event) {
  if (event.status !== "running" || !(event.progress > 0.02) || event.progress >= 1 || event.elapsed == null) return null;
  return (event.elapsed * (1 - event.progress)) / event.progress;
}

function applyProgress(scope, event, etaTemplate) {
  if (!scope) return;
  const block = scope.querySelector("[data-run-progress-block]");
  if (block) block.hidden = !(event.status === "queued" || event.status === "running");
  const bar = scope.querySelector("[data-run-progress]");
  if (bar && typeof event.progress === "number") {
    bar.value = event.progress;
    bar.textContent = `${Math.round(event.progress * 100)}%`;
  }
  const percent = scope.querySelector("[data-run-percent]");
  if (percent && typeof event.progress === "number") percent.textContent = `${Math.round(event.progress * 100)}%`;
  const stage = scope.querySelector("[data-run-stage]");
  if (stage && event.stage !== undefined) stage.textContent = event.stage || "";
  const message = scope.querySelector("[data-run-message]");
  if (message && event.message !== undefined) message.textContent = event.message || "";
  const eta = scope.querySelector("[data-run-eta]");
  if (eta) {
    const seconds = etaFrom(event);
    eta.dataset.etaSeconds = seconds == null ? "" : String(seconds);
    eta.dataset.etaAt = String(Date.now());
    eta.textContent = seconds == null ? "" : etaTemplate.replace("{time}", formatDuration(seconds));
  }
}

// Between events the time left counts down by itself.
function tickEtas(etaTemplate) {
  for (const eta of document.querySelectorAll("[data-run-eta]")) {
    const seconds = parseFloat(eta.dataset.etaSeconds);
    if (Number.isNaN(seconds)) continue;
    const at = Number(eta.dataset.etaAt || Date.now());
    if (!eta.dataset.etaAt) eta.dataset.etaAt = String(at);
    const left = seconds - (Date.now() - at) / 1000;
    eta.textContent = etaTemplate.replace("{time}", formatDuration(Math.max(left, 0)));
  }
}

if (root) {
  const projectId = root.dataset.toolrunsProject;
  const etaTemplate = root.dataset.etaTemplate || "about {time} left";
  const list = document.querySelector("[data-run-list]");
  const pageRunId = root.dataset.runId || null;
  const shownStatus = root.dataset.runStatusNow || null;

  let refreshTimer = null;
  async function refreshList() {
    if (!list?.dataset.runListUrl) return;
    const response = await fetch(list.dataset.runListUrl + window.location.search, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
    if (response.ok) list.innerHTML = await response.text();
  }
  function scheduleRefresh() {
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(refreshList, 150); // a burst of events: one fetch
  }

  // The run page: its facts (outputs, provenance, error) are server-rendered, so a change of status
  // reloads it; progress in between is applied in place.
  async function refreshRun() {
    const response = await fetch(root.dataset.apiUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const run = await response.json();
    if (run.status !== shownStatus) { window.location.reload(); return; }
    applyProgress(document, { ...run, elapsed: run.started_at ? (Date.now() - Date.parse(run.started_at)) / 1000 : null }, etaTemplate);
  }

  connectProject(projectId, {
    onEvent(event) {
      if (!event.type?.startsWith("toolrun.")) return;
      if (list) {
        const row = list.querySelector(`tr[data-run-id="${event.run}"]`);
        if (event.type === "toolrun.progress" && row) {
          applyProgress(row, event, etaTemplate);
        } else {
          scheduleRefresh();
        }
      }
      if (pageRunId && String(event.run) === pageRunId) {
        if (event.status !== shownStatus) window.location.reload();
        else applyProgress(document, event, etaTemplate);
      }
    },
    onResync() {
      if (list) scheduleRefresh();
      if (pageRunId) refreshRun();
    },
  });
  window.setInterval(() => tickEtas(etaTemplate), 1000);
}
