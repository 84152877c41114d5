// Footage: the Uppy upload panel (tus, resumable) and pages that follow ingest live.
import { connectProject } from "./live.js";

// Forms that only hold options (the upload kind and shot code): Enter must not submit them. A script
// does it, not an inline handler, which the Content-Security-Policy refuses.
for (const form of document.querySelectorAll("form[data-no-submit]")) {
  form.addEventListener("submit", (event) => event.preventDefault());
}

const section = document.querySelector("[data-live-project]");
const projectId = section?.dataset.liveProject;

// --- the asset table on the project page: swapped in fresh when something changes ----------
const list = document.querySelector("[data-asset-list]");
let refreshTimer = null;
async function refreshList() {
  if (!list) return;
  const url = document.querySelector("[data-asset-list-url]")?.dataset.assetListUrl;
  if (!url) return;
  // the page and the kind filter the table shows now (the project page's own query string)
  const response = await fetch(url + window.location.search, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
  if (!response.ok) return;
  list.innerHTML = await response.text();
  const count = document.querySelector("[data-asset-count]");
  const total = list.querySelector("[data-asset-total]")?.dataset.assetTotal;
  if (count && total !== undefined) count.textContent = total;
}
function scheduleRefresh() {
  window.clearTimeout(refreshTimer);
  refreshTimer = window.setTimeout(refreshList, 150); // several events in a burst: one fetch
}

// --- the asset page: reload when the shown version changes state ------------------------------
const head = document.querySelector("[data-asset-id][data-status-url]");
async function checkAsset() {
  if (!head) return;
  const response = await fetch(head.dataset.statusUrl, { credentials: "same-origin" });
  if (!response.ok) return;
  const state = await response.json();
  const shown = head.dataset.versionStatusNow;
  const wanted = new URLSearchParams(window.location.search).get("v");
  const version = wanted ? state.versions.find((v) => String(v.number) === wanted) : state.versions[0];
  if (version && version.status !== shown) window.location.reload();
}

if (projectId) {
  connectProject(projectId, {
    onEvent(event) {
      if (!event.type?.startsWith("asset.")) return;
      scheduleRefresh();
      if (head && String(event.asset) === head.dataset.assetId) checkAsset();
    },
    onResync() { scheduleRefresh(); checkAsset(); },
  });
}

// --- Uppy --------------------------------------------------------------------------------------
const target = document.getElementById("uploader");
if (target) {
  const { Uppy, Dashboard, Tus } = await import("../vendor/uppy/uppy.min.mjs");
  // Uppy's own words in the page's language: its French locale ships with it (vendor/uppy/locales).
  const french = document.documentElement.lang?.startsWith("fr");
  const locale = french ? (await import("../vendor/uppy/locales/fr_FR.mjs")).default : undefined;
  const kind = document.querySelector("[data-upload-kind]");
  const shot = document.querySelector("[data-upload-shot]");
  const uppy = new Uppy({
    id: `portal-project-${projectId}`,
    autoProceed: false,
    ...(locale ? { locale } : {}),
    restrictions: { maxFileSize: Number(target.dataset.maxSize) || null },
    onBeforeFileAdded: (file) => {
      file.meta = { ...file.meta, kind: kind?.value || "footage", shot_code: shot?.value || "" };
      return file;
    },
  })
    .use(Dashboard, {
      inline: true,
      target,
      height: 340,
      width: "100%",
      showProgressDetails: true,
      proudlyDisplayPoweredByUppy: false,
      note: french ? "Plusieurs fichiers, reprise après coupure" : "Several files at once; uploads resume after a drop",
    })
    .use(Tus, {
      endpoint: target.dataset.endpoint,
      chunkSize: Number(target.dataset.chunkSize) || 16 * 1024 * 1024,
      headers: { "X-CSRFToken": target.dataset.csrf },
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      removeFingerprintOnSuccess: true,
      allowedMetaFields: ["name", "type", "kind", "shot_code"],
    });
  // Resuming after a reload or a crash: pick the same files again and tus finds their uploads on
  // the server (by fingerprint, kept in localStorage) and sends only what is missing.
  uppy.on("upload-success", scheduleRefresh);
  uppy.on("upload-error", scheduleRefresh);
  // For tests and the curious: the instance is reachable from the console.
  window.portalUppy = uppy;
}
