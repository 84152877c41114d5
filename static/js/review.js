// The review room: a frame-accurate player on the proxy, notes and drawings on frames, machine
// findings apart from people's notes, compare (side by side / wipe), the producer's approval, and
// live refresh from the project websocket.
//
// Frame arithmetic is timecode.js's (the same as studio_tools/media/timecode.py). To show frame n
// the player seeks to frameStart(n) + half a frame, so float rounding in currentTime can never land
// on the frame before. Every piece of user text is put in the page with textContent.
import { connectProject } from "./live.js";
import { frameAt, frameStart, framesToTimecode, parseRate, timecodeToFrames } from "./timecode.js";

const root = document.querySelector("[data-review]");
if (root) start(root);

function start(root) {
  const $ = (selector) => root.querySelector(selector);
  const $$ = (selector) => Array.from(root.querySelectorAll(selector));
  const cfg = root.dataset;

  // --- words ---------------------------------------------------------------------------------
  const words = {};
  for (const node of $$("[data-i18n] [data-key]")) words[node.dataset.key] = node.textContent.trim();
  const t = (key, vars = {}) =>
    Object.entries(vars).reduce((text, [name, value]) => text.replaceAll(`{${name}}`, String(value)), words[key] ?? key);
  const lang = document.documentElement.lang || undefined;
  const when = (iso) => {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "" : date.toLocaleString(lang, { dateStyle: "short", timeStyle: "short" });
  };

  const announcer = document.createElement("div");
  announcer.className = "visually-hidden";
  announcer.setAttribute("role", "status");
  announcer.setAttribute("aria-live", "polite");
  root.append(announcer);
  const announce = (text) => {
    announcer.textContent = "";
    window.setTimeout(() => { announcer.textContent = text; }, 50);
  };

  // --- frames and time ---------------------------------------------------------------------------
  // A start timecode says how the source counts: ';' drop-frame, ':' non-drop (a GoPro's 29.97 is
  // non-drop); without one, 29.97 and 59.94 count drop-frame. The exports count the same way.
  const startTc = /^\d{1,2}:\d{2}:\d{2}([:;.,])\d{2,3}$/.exec((cfg.startTimecode || "").trim());
  const rate = parseRate(cfg.frameRate || "24/1", startTc ? startTc[1] !== ":" : null);
  const frameSeconds = rate.den / rate.num;
  let startFrames = 0;
  try {
    if (cfg.startTimecode) startFrames = timecodeToFrames(cfg.startTimecode, rate);
  } catch {
    startFrames = 0; // an unreadable start timecode: count from 00:00:00:00 like the exports do
  }
  const isStill = cfg.mediaKind === "still";
  const media = $("[data-media]");
  const video = media instanceof HTMLVideoElement ? media : null;
  let frameCount = Number(cfg.frameCount) || null;
  const canComment = cfg.canComment === "true";
  const canApprove = cfg.canApprove === "true";

  const lastFrame = () => {
    if (frameCount) return frameCount - 1;
    if (video && Number.isFinite(video.duration)) return Math.max(0, frameAt(video.duration, rate) - 1);
    return 0;
  };
  const clampFrame = (n) => Math.min(Math.max(0, Math.round(Number(n) || 0)), lastFrame());
  const timeOf = (n, r = rate) => frameStart(n, r) + r.den / r.num / 2; // the middle of frame n
  const tcOf = (n) => framesToTimecode(startFrames + n, rate);

  let current = 0;
  let inPoint = null;
  let outPoint = null;
  let activeNote = null;

  // --- elements ------------------------------------------------------------------------------------
  const stage = $("[data-stage]");
  const mediaBox = $("[data-media-box]");
  const canvas = $("[data-draw-layer]");
  const frameOut = $("[data-frame-number]");
  const frameLastOut = $("[data-frame-last]");
  const tcOut = $("[data-timecode]");
  const scrubber = $("[data-scrubber]");
  const speedSelect = $("[data-speed]");
  const playButton = $("[data-cmd='play']");
  const muteButton = $("[data-cmd='mute']");
  const loopBox = $("[data-loop]");
  const rangeText = $("[data-range-text]");
  const rangeMark = $("[data-range-mark]");
  const shuttleOut = $("[data-shuttle]");
  const pageError = $("[data-page-error]");

  if (isStill) root.classList.add("is-still");

  const aspect = Number(cfg.aspect);
  const setAspect = (value) => { if (value > 0) root.style.setProperty("--aspect", String(value)); };
  setAspect(aspect > 0 ? aspect : 16 / 9);

  function showPageError(text) {
    if (!pageError) return;
    pageError.textContent = text || "";
    pageError.hidden = !text;
  }

  // --- API ---------------------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }
  function csrfToken() {
    const input = document.querySelector("input[name='csrfmiddlewaretoken']");
    if (input?.value) return input.value;
    const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
    return cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : "";
  }
  async function errorText(response) {
    let body = null;
    try { body = await response.json(); } catch { body = null; }
    if (body && typeof body === "object") {
      if (typeof body.detail === "string" && body.detail) return body.detail;
      const parts = [];
      for (const [field, value] of Object.entries(body)) {
        if (field === "code") continue;
        const messages = [].concat(value).map((m) => (typeof m === "string" ? m : JSON.stringify(m)));
        parts.push(field === "non_field_errors" ? messages.join(" ") : `${field}: ${messages.join(" ")}`);
      }
      if (parts.length) return parts.join(" · ");
    }
    if (response.status === 403) return t("forbidden");
    if (response.status === 409) return t("conflict");
    return `${response.status} ${response.statusText}`.trim();
  }
  async function api(url, { method = "GET", body } = {}) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") {
      headers["X-CSRFToken"] = csrfToken();
      headers["Content-Type"] = "application/json";
    }
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(t("network"), 0);
    }
    if (!response.ok) throw new ApiError(await errorText(response), response.status);
    return response.status === 204 ? null : response.json();
  }

  // --- player ------------------------------------------------------------------------------------------
  function render() {
    const last = lastFrame();
    frameOut.textContent = String(current);
    frameLastOut.textContent = frameCount || (video && Number.isFinite(video.duration)) ? String(last) : "?";
    tcOut.textContent = tcOf(current);
    root.dataset.frame = String(current);
    if (scrubber) {
      scrubber.max = String(last);
      if (document.activeElement !== scrubber || !video?.paused) scrubber.value = String(current);
      scrubber.setAttribute("aria-valuetext", `${t("frame")} ${current}, ${tcOf(current)}`);
    }
    const playing = isPlaying();
    if (playButton) {
      playButton.setAttribute("aria-pressed", String(playing));
      playButton.setAttribute("aria-label", playing ? playButton.dataset.labelPause : playButton.dataset.labelPlay);
    }
    renderNoteWhere();
    markNotesOnFrame();
    redraw();
  }

  function renderRange() {
    const hasIn = inPoint !== null;
    const hasOut = outPoint !== null;
    if (hasIn && hasOut) rangeText.textContent = t("range", { start: `${inPoint} (${tcOf(inPoint)})`, end: `${outPoint} (${tcOf(outPoint)})` });
    else if (hasIn) rangeText.textContent = t("in_only", { start: `${inPoint} (${tcOf(inPoint)})` });
    else if (hasOut) rangeText.textContent = t("out_only", { end: `${outPoint} (${tcOf(outPoint)})` });
    else rangeText.textContent = t("no_range");
    const last = Math.max(1, lastFrame());
    if (rangeMark) {
      rangeMark.hidden = !(hasIn || hasOut);
      const lo = hasIn ? inPoint : 0;
      const hi = hasOut ? outPoint : last;
      rangeMark.style.left = `${(Math.min(lo, hi) / last) * 100}%`;
      rangeMark.style.width = `${(Math.abs(hi - lo) / last) * 100}%`;
    }
    const useRangeWrap = $("[data-use-range-wrap]");
    if (useRangeWrap) {
      useRangeWrap.hidden = !(hasIn && hasOut);
      if (useRangeWrap.hidden) $("[data-use-range]").checked = false;
    }
    renderNoteWhere();
  }

  const isPlaying = () => Boolean(video && !video.paused && !video.ended) || shuttle < 0;

  // Seeks asked for while one is still running are coalesced: only the latest is sent, when the
  // running one ends. Eight quick arrow presses cost two decodes, not eight, and a slow machine
  // never piles seeks on the media pipeline.
  let queuedSeek = null;
  let seekStartedAt = 0;

  function seekVideo(seconds) {
    if (video.seeking) {
      queuedSeek = seconds;
      return;
    }
    queuedSeek = null;
    seekStartedAt = performance.now();
    video.currentTime = seconds;
  }

  function seek(n, { keepShuttle = false } = {}) {
    n = clampFrame(n);
    if (!keepShuttle) stopShuttle();
    if (video && !video.paused) video.pause();
    current = n;
    if (video) {
      root.dataset.state = "seeking";
      seekVideo(timeOf(n));
    }
    syncCompare();
    render();
  }
  const step = (delta) => seek(current + delta);

  function loopRange() {
    const lo = inPoint ?? 0;
    const hi = outPoint ?? lastFrame();
    return lo <= hi ? [lo, hi] : [hi, lo];
  }

  function play(speed = Number(speedSelect?.value) || 1) {
    if (!video) return;
    stopReverse();
    shuttle = speed;
    video.playbackRate = speed;
    if (loopBox?.checked) {
      const [lo, hi] = loopRange();
      if (current < lo || current >= hi) {
        current = lo;
        video.currentTime = timeOf(lo);
      }
    } else if (current >= lastFrame()) {
      current = 0;
      video.currentTime = timeOf(0);
    }
    video.play().catch(() => {});
    playCompare();
    watchFrames();
    renderShuttle();
  }

  function pause() {
    stopShuttle();
    if (video && !video.paused) video.pause();
    else if (video && !video.seeking) root.dataset.state = "paused"; // after a backward shuttle
  }

  function togglePlay() {
    if (isPlaying()) pause();
    else play();
  }

  // Shuttle: L forward, J backward (browsers cannot play backwards: timed seeks), K stops.
  const SPEEDS = [0.25, 0.5, 1, 1.5, 2];
  let shuttle = 0; // >0 forward at that rate, <0 backward, 0 stopped
  let reverseTimer = null;
  let reverseClock = 0;

  function faster(speed) {
    return SPEEDS.find((s) => s > speed) ?? SPEEDS[SPEEDS.length - 1];
  }
  function shuttleForward() {
    if (!video) return;
    play(shuttle > 0 && !video.paused ? faster(shuttle) : 1);
    if (speedSelect) speedSelect.value = String(shuttle);
  }
  function shuttleBackward() {
    if (!video) return;
    const speed = shuttle < 0 ? faster(-shuttle) : 1;
    if (!video.paused) video.pause();
    shuttle = -speed;
    if (speedSelect) speedSelect.value = String(speed);
    pauseCompare();
    root.dataset.state = "playing";
    reverseClock = performance.now();
    window.clearInterval(reverseTimer);
    reverseTimer = window.setInterval(reverseTick, Math.max(15, (frameSeconds * 1000) / speed / 2));
    renderShuttle();
    render();
  }
  function reverseTick() {
    if (!video || video.seeking) return;
    const now = performance.now();
    const frames = Math.floor(((now - reverseClock) / 1000 / frameSeconds) * -shuttle);
    if (frames < 1) return;
    reverseClock += (frames * frameSeconds * 1000) / -shuttle;
    let target = current - frames;
    if (loopBox?.checked) {
      const [lo, hi] = loopRange();
      if (target < lo) target = hi;
    } else if (target <= 0) {
      seek(0);
      return;
    }
    seek(target, { keepShuttle: true });
  }
  function stopReverse() {
    window.clearInterval(reverseTimer);
    reverseTimer = null;
  }
  function stopShuttle() {
    stopReverse();
    shuttle = 0;
    renderShuttle();
  }
  function renderShuttle() {
    if (!shuttleOut) return;
    if (shuttle < 0) shuttleOut.textContent = t("shuttle_rev", { speed: -shuttle });
    else if (shuttle > 0 && shuttle !== 1) shuttleOut.textContent = t("shuttle_fwd", { speed: shuttle });
    else shuttleOut.textContent = "";
  }

  // While playing, follow the frames actually presented (requestVideoFrameCallback gives the
  // presented frame's own timestamp; elsewhere, currentTime on animation frames).
  let watching = false;
  let presentedKnown = false; // true while `current` comes from requestVideoFrameCallback
  function onPresented(mediaTime) {
    if (!video || video.paused) return;
    presentedKnown = mediaTime !== null;
    current = clampFrame(mediaTime === null ? frameAt(video.currentTime, rate) : Math.round(mediaTime / frameSeconds));
    if (loopBox?.checked) {
      const [lo, hi] = loopRange();
      if (current >= hi || current < lo) {
        current = lo;
        video.currentTime = timeOf(lo);
        syncCompare({ playing: true });
      }
    }
    driftCompare();
    render();
  }
  function watchFrames() {
    if (!video || watching) return;
    watching = true;
    if ("requestVideoFrameCallback" in video) {
      const tick = (_now, meta) => {
        if (video.paused) { watching = false; return; }
        onPresented(meta.mediaTime);
        video.requestVideoFrameCallback(tick);
      };
      video.requestVideoFrameCallback(tick);
    } else {
      const tick = () => {
        if (video.paused) { watching = false; return; }
        onPresented(null);
        window.requestAnimationFrame(tick);
      };
      window.requestAnimationFrame(tick);
    }
  }

  if (video) {
    video.addEventListener("loadedmetadata", () => {
      if (!frameCount && Number.isFinite(video.duration)) frameCount = Math.max(1, frameAt(video.duration, rate));
      if (!(aspect > 0) && video.videoWidth && video.videoHeight) setAspect(video.videoWidth / video.videoHeight);
      root.dataset.mediaReady = "true";
      const wanted = new URLSearchParams(window.location.search).get("frame");
      seek(wanted !== null && /^\d+$/.test(wanted) ? Number(wanted) : current);
      renderRange();
      renderTicks();
    });
    video.addEventListener("seeked", () => {
      if (queuedSeek !== null && !video.seeking) {
        seekVideo(queuedSeek); // the latest frame asked for while this seek ran
        return;
      }
      if (video.seeking || !video.paused) return;
      current = clampFrame(frameAt(video.currentTime, rate));
      if (shuttle >= 0) root.dataset.state = "paused";
      render();
    });
    // A watchdog for a seek whose "seeked" never came (seen with a loaded media pipeline): once the
    // element is no longer seeking, settle as "seeked" would; still seeking after 5 s, ask again.
    window.setInterval(() => {
      if (root.dataset.state !== "seeking" || !video.paused || shuttle < 0) return;
      if (!video.seeking) {
        if (queuedSeek !== null) seekVideo(queuedSeek);
        else video.dispatchEvent(new Event("seeked"));
      } else if (performance.now() - seekStartedAt > 5000) {
        seekStartedAt = performance.now();
        video.currentTime = queuedSeek ?? timeOf(current);
        queuedSeek = null;
      }
    }, 500);
    video.addEventListener("play", () => {
      queuedSeek = null;
      root.dataset.state = "playing";
      presentedKnown = false;
      watchFrames();
      render();
    });
    video.addEventListener("pause", () => {
      if (shuttle > 0) shuttle = 0;
      renderShuttle();
      if (shuttle < 0) return; // reverse shuttle drives the paused video itself
      // Settle on the frame that was on screen (the clock may already be into the next one), in
      // its middle, so stepping and drawing start from what the person saw.
      if (!presentedKnown) current = clampFrame(frameAt(video.currentTime, rate));
      if (!video.seeking) {
        root.dataset.state = "seeking";
        video.currentTime = timeOf(current);
      }
      pauseCompare();
      syncCompare();
      render();
    });
    video.addEventListener("ended", () => {
      if (loopBox?.checked) {
        const [lo] = loopRange();
        current = lo;
        video.currentTime = timeOf(lo);
        video.play().catch(() => {});
        syncCompare({ playing: true });
      } else {
        stopShuttle();
        current = lastFrame();
        render();
      }
    });
    video.addEventListener("ratechange", () => { if (compareVideo) compareVideo.playbackRate = video.playbackRate * compareRateFactor(); });
    video.addEventListener("volumechange", () => {
      muteButton?.setAttribute("aria-pressed", String(!video.muted));
    });
  } else {
    root.dataset.mediaReady = "true";
    root.dataset.state = "paused";
    if (!frameCount) frameCount = 1;
  }

  speedSelect?.addEventListener("change", () => {
    const speed = Number(speedSelect.value) || 1;
    if (shuttle < 0) { shuttle = -speed; renderShuttle(); return; }
    if (video) video.playbackRate = speed;
    if (shuttle > 0) shuttle = speed;
    renderShuttle();
  });
  scrubber?.addEventListener("input", () => seek(Number(scrubber.value)));

  function setIn() { inPoint = current; if (outPoint !== null && outPoint < inPoint) outPoint = null; renderRange(); }
  function setOut() { outPoint = current; if (inPoint !== null && inPoint > outPoint) inPoint = null; renderRange(); }
  function clearRange() { inPoint = outPoint = null; renderRange(); }
  function toggleMute() { if (video) video.muted = !video.muted; }

  const commands = {
    start: () => seek(0),
    end: () => seek(lastFrame()),
    back1: () => step(-1),
    back10: () => step(-10),
    fwd1: () => step(1),
    fwd10: () => step(10),
    play: togglePlay,
    mute: toggleMute,
    in: setIn,
    out: setOut,
    "clear-range": clearRange,
    "undo-shape": () => { pendingShapes.pop(); afterShapesChanged(); },
    "clear-shapes": () => { pendingShapes.length = 0; afterShapesChanged(); },
  };
  for (const button of $$("[data-cmd]")) {
    button.addEventListener("click", () => commands[button.dataset.cmd]?.());
    if (isStill && button.closest("[data-transport]") && button.dataset.cmd !== "mute") button.disabled = true;
  }

  $("[data-goto]")?.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("[data-goto-input]");
    if (input.value !== "") seek(Number(input.value));
  });

  // Keyboard: never while typing; keys a focused control uses itself stay with it.
  const TEXT_INPUTS = new Set(["text", "search", "email", "number", "password", "tel", "url", "date", "time", "color"]);
  function typing(target) {
    if (!(target instanceof Element)) return false;
    if (target.closest("textarea, select, [contenteditable]:not([contenteditable='false'])")) return true;
    return target instanceof HTMLInputElement && TEXT_INPUTS.has(target.type);
  }
  function ownsKey(target, key) {
    if (!(target instanceof Element)) return false;
    if (target instanceof HTMLInputElement && ["range", "radio"].includes(target.type)) {
      return key.startsWith("Arrow") || key === "Home" || key === "End" || key === " ";
    }
    if (target.closest("button, a[href], summary, input[type='checkbox'], [role='button']")) return key === " " || key === "Enter";
    return false;
  }
  let kHeld = false;
  document.addEventListener("keyup", (event) => { if (event.key === "k" || event.key === "K") kHeld = false; });
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (typing(target) || ownsKey(target, event.key)) return;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const handled = {
      ArrowLeft: () => step(event.shiftKey ? -10 : -1),
      ArrowRight: () => step(event.shiftKey ? 10 : 1),
      Home: () => seek(0),
      End: () => seek(lastFrame()),
      " ": togglePlay,
      k: () => { kHeld = true; pause(); },
      j: () => (kHeld ? step(-1) : shuttleBackward()),
      l: () => (kHeld ? step(1) : shuttleForward()),
      i: setIn,
      o: setOut,
      m: toggleMute,
    }[key];
    if (!handled || isStill) return;
    event.preventDefault();
    handled();
  });

  // --- compare -------------------------------------------------------------------------------------------
  const compareBox = $("[data-compare-box]");
  const compareVideo = $("[data-compare-media]");
  const compareStill = $("[data-compare-still]");
  const compareSelect = $("[data-compare-select]");
  const compareLabel = $("[data-compare-label]");
  const wipe = $("[data-wipe]");
  const wipeWrap = $("[data-wipe-wrap]");
  let compareMode = "off";
  let compareRate = rate;
  let compareIsStill = false;

  const compareRateFactor = () => compareRate.fps / rate.fps;
  const compareOn = () => compareMode !== "off" && !compareIsStill && compareVideo?.getAttribute("src");

  function loadCompare() {
    const option = compareSelect?.selectedOptions[0];
    if (!option) return;
    compareRate = parseRate(option.dataset.rate || cfg.frameRate);
    compareIsStill = option.dataset.kind === "still";
    compareLabel.textContent = `B · ${option.dataset.label}`;
    compareStill.hidden = !compareIsStill;
    compareVideo.hidden = compareIsStill;
    if (compareIsStill) {
      compareVideo.removeAttribute("src");
      compareVideo.load();
      if (compareStill.getAttribute("src") !== option.dataset.src) compareStill.src = option.dataset.src;
      compareStill.alt = option.dataset.label;
    } else if (compareVideo.getAttribute("src") !== option.dataset.src) {
      compareVideo.src = option.dataset.src;
      compareVideo.addEventListener("loadedmetadata", () => syncCompare(), { once: true });
    }
  }
  function setCompareMode(mode) {
    compareMode = mode;
    stage.dataset.compareMode = mode;
    compareBox.hidden = mode === "off";
    if (wipeWrap) wipeWrap.hidden = mode !== "wipe";
    $("[data-wipe-line]").hidden = mode !== "wipe";
    for (const label of $$("[data-side-label]")) label.hidden = mode === "off";
    if (mode !== "off") loadCompare();
    else if (compareVideo) compareVideo.pause();
    applyWipe();
    syncCompare({ playing: isPlaying() && shuttle > 0 });
    resizeCanvas();
  }
  function applyWipe() {
    stage.style.setProperty("--wipe", `${wipe ? Number(wipe.value) : 50}%`);
    wipe?.setAttribute("aria-valuetext", `${wipe?.value ?? 50}%`);
  }
  // Locked to the same frame number: seek B to the middle of the frame A shows.
  function syncCompare({ playing = false } = {}) {
    if (!compareOn()) return;
    const target = timeOf(current, compareRate);
    if (Math.abs(compareVideo.currentTime - target) > 1e-3) compareVideo.currentTime = target;
    compareVideo.playbackRate = (video?.playbackRate || 1) * compareRateFactor();
    if (playing) compareVideo.play().catch(() => {});
    else if (!compareVideo.paused) compareVideo.pause();
  }
  function playCompare() { if (compareOn()) syncCompare({ playing: true }); }
  function pauseCompare() { if (compareOn() && !compareVideo.paused) compareVideo.pause(); }
  function driftCompare() {
    if (!compareOn() || !video) return;
    const expected = video.currentTime * compareRateFactor();
    if (compareVideo.paused) compareVideo.play().catch(() => {});
    if (Math.abs(compareVideo.currentTime - expected) > 1.5 * (compareRate.den / compareRate.num)) compareVideo.currentTime = expected;
  }
  if (compareVideo) {
    compareVideo.addEventListener("seeked", () => root.dataset.compareFrame = String(frameAt(compareVideo.currentTime, compareRate)));
  }
  compareSelect?.addEventListener("change", () => { if (compareMode !== "off") { loadCompare(); syncCompare(); } });
  for (const radio of $$("input[name='compare-mode']")) radio.addEventListener("change", () => radio.checked && setCompareMode(radio.value));
  wipe?.addEventListener("input", applyWipe);

  // --- drawing -----------------------------------------------------------------------------------------------
  const ctx = canvas.getContext("2d");
  const pendingShapes = [];
  let drawing = null; // the shape under the pointer
  let tool = "";
  const colourInput = $("[data-draw-colour]");
  const labelText = $("[data-label-text]");
  const drawStatus = $("[data-draw-status]");
  const MAX_POINTS = 2000;

  function resizeCanvas() {
    const box = canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(box.width * ratio));
    const height = Math.max(1, Math.round(box.height * ratio));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    redraw();
  }
  new ResizeObserver(resizeCanvas).observe(canvas);

  function drawShape(shape, emphasis = false) {
    const w = canvas.width;
    const h = canvas.height;
    const points = (shape.points || []).map(([x, y]) => [x * w, y * h]);
    if (!points.length) return;
    const line = Math.max(2, w * 0.004) * (emphasis ? 1.4 : 1);
    ctx.save();
    ctx.strokeStyle = shape.color || "#ff3b30";
    ctx.fillStyle = shape.color || "#ff3b30";
    ctx.lineWidth = line;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.shadowColor = "rgba(0,0,0,.6)";
    ctx.shadowBlur = line;
    if (shape.type === "freehand") {
      ctx.beginPath();
      ctx.moveTo(...points[0]);
      for (const point of points.slice(1)) ctx.lineTo(...point);
      if (points.length === 1) ctx.lineTo(points[0][0] + 0.1, points[0][1]);
      ctx.stroke();
    } else if (shape.type === "rect" && points.length === 2) {
      const [[x1, y1], [x2, y2]] = points;
      ctx.strokeRect(Math.min(x1, x2), Math.min(y1, y2), Math.abs(x2 - x1), Math.abs(y2 - y1));
    } else if (shape.type === "arrow" && points.length === 2) {
      const [[x1, y1], [x2, y2]] = points;
      const angle = Math.atan2(y2 - y1, x2 - x1);
      const head = Math.max(10, w * 0.025);
      ctx.beginPath();
      ctx.moveTo(x1, y1);
      ctx.lineTo(x2, y2);
      ctx.stroke();
      ctx.beginPath();
      ctx.moveTo(x2, y2);
      ctx.lineTo(x2 - head * Math.cos(angle - Math.PI / 7), y2 - head * Math.sin(angle - Math.PI / 7));
      ctx.lineTo(x2 - head * Math.cos(angle + Math.PI / 7), y2 - head * Math.sin(angle + Math.PI / 7));
      ctx.closePath();
      ctx.fill();
    } else if (shape.type === "text") {
      const size = Math.max(14, w * 0.032);
      ctx.font = `600 ${size}px system-ui, sans-serif`;
      ctx.textBaseline = "top";
      ctx.shadowBlur = 0;
      ctx.lineWidth = Math.max(3, size / 6);
      ctx.strokeStyle = "rgba(0,0,0,.75)";
      ctx.strokeText(String(shape.text || ""), points[0][0], points[0][1]);
      ctx.fillText(String(shape.text || ""), points[0][0], points[0][1]);
    }
    ctx.restore();
  }

  const onFrame = (note) => current >= note.frame_start && current <= (note.frame_end ?? note.frame_start);

  function redraw() {
    if (!ctx) return;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    let shown = 0;
    for (const note of [...notes, ...findings]) {
      if (!note.shapes?.length || !onFrame(note)) continue;
      if (note.resolved && !showResolved?.checked) continue;
      for (const shape of note.shapes) drawShape(shape, note.id === activeNote);
      shown += note.shapes.length;
    }
    for (const shape of pendingShapes) drawShape(shape, true);
    if (drawing) drawShape(drawing, true);
    canvas.dataset.shapes = String(shown);
    canvas.dataset.pending = String(pendingShapes.length);
  }

  function pointOf(event) {
    const box = canvas.getBoundingClientRect();
    const clamp = (v) => Math.min(1, Math.max(0, v));
    return [clamp((event.clientX - box.left) / box.width), clamp((event.clientY - box.top) / box.height)];
  }
  function setTool(value) {
    tool = value;
    canvas.classList.toggle("drawing", Boolean(tool));
    const wrap = $("[data-label-text-wrap]");
    if (wrap) wrap.hidden = tool !== "text";
    if (tool) pause();
  }
  for (const radio of $$("input[name='draw-tool']")) radio.addEventListener("change", () => radio.checked && setTool(radio.value));

  canvas.addEventListener("pointerdown", (event) => {
    if (!tool || !canComment) return;
    event.preventDefault();
    pause();
    const point = pointOf(event);
    const color = colourInput?.value || "#ff3b30";
    if (tool === "text") {
      const text = labelText?.value.trim();
      if (!text) {
        drawStatus.textContent = t("need_label");
        labelText?.focus();
        return;
      }
      pendingShapes.push({ type: "text", points: [point], color, text: text.slice(0, 200) });
      labelText.value = "";
      afterShapesChanged();
      return;
    }
    canvas.setPointerCapture(event.pointerId);
    drawing = { type: tool, points: tool === "freehand" ? [point] : [point, point], color };
    redraw();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const point = pointOf(event);
    if (drawing.type === "freehand") {
      const [lx, ly] = drawing.points[drawing.points.length - 1];
      if (Math.hypot(point[0] - lx, point[1] - ly) > 0.003 && drawing.points.length < MAX_POINTS) drawing.points.push(point);
    } else {
      drawing.points[1] = point;
    }
    redraw();
  });
  const finishShape = () => {
    if (!drawing) return;
    const shape = drawing;
    drawing = null;
    const [a, b] = [shape.points[0], shape.points[shape.points.length - 1]];
    const size = Math.hypot(b[0] - a[0], b[1] - a[1]);
    if ((shape.type === "freehand" && shape.points.length >= 2) || (shape.type !== "freehand" && size > 0.005)) {
      shape.points = shape.points.map(([x, y]) => [Number(x.toFixed(5)), Number(y.toFixed(5))]);
      pendingShapes.push(shape);
    }
    afterShapesChanged();
  };
  canvas.addEventListener("pointerup", finishShape);
  canvas.addEventListener("pointercancel", () => { drawing = null; redraw(); });
  mediaBox.addEventListener("click", () => { if (!tool) togglePlay(); });

  function afterShapesChanged() {
    const count = $("[data-shape-count]");
    if (count) count.textContent = pendingShapes.length ? t("shapes", { n: pendingShapes.length }) : "";
    if (drawStatus) drawStatus.textContent = pendingShapes.length ? t("shapes", { n: pendingShapes.length }) : "";
    redraw();
  }

  // --- notes -------------------------------------------------------------------------------------------------
  let notes = [];
  let findings = [];
  const notesList = $("[data-notes-list]");
  const findingsList = $("[data-findings-list]");
  const showResolved = $("[data-show-resolved]");
  const replyDrafts = new Map();
  const openReplies = new Set();

  // el("li", {class: "x"}, "text", child): strings become text nodes, never markup.
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const authorName = (author) => (author ? author.name || author.email : t("unknown_author"));
  const frameLabel = (note) =>
    note.frame_end !== null && note.frame_end !== undefined && note.frame_end !== note.frame_start
      ? `${note.frame_start}–${note.frame_end}`
      : String(note.frame_start);

  async function noteAction(note, verb, errorNode) {
    try {
      await api(`${cfg.notesUrl}${note.id}/${verb}/`, { method: "POST" });
      showPageError("");
      await loadNotes();
    } catch (error) {
      if (errorNode) {
        errorNode.textContent = error.message;
        errorNode.hidden = false;
      } else {
        showPageError(error.message);
      }
    }
  }

  function jumpTo(note) {
    activeNote = note.id;
    seek(note.frame_start);
    for (const item of $$(".note.is-active")) item.classList.remove("is-active");
    root.querySelector(`#note-${note.id}`)?.classList.add("is-active");
  }

  function noteItem(note) {
    const machine = note.source === "machine";
    const error = el("p", { class: "form-error", role: "alert", hidden: true });
    const head = el(
      "div",
      { class: "note-head" },
      el(
        "button",
        { type: "button", class: "note-jump", "aria-label": `${t("jump", { frame: note.frame_start })}: ${note.timecode}`, onclick: () => jumpTo(note) },
        el("span", { class: "note-tc" }, note.timecode || tcOf(note.frame_start)),
        el("span", { class: "note-frame" }, `${t("frame")} ${frameLabel(note)}`),
      ),
      el("span", { class: "note-by" }, machine ? (note.tool_run ? t("run", { id: note.tool_run }) : "") : authorName(note.author)),
      el("time", { class: "note-when", datetime: note.created_at }, when(note.created_at)),
    );
    const badges = el("p", { class: "badges note-badges" });
    if (machine) {
      badges.append(el("span", { class: "badge badge-ai", title: t("machine") }, `⚙ ${t("machine")}`));
      if (note.finding_type) badges.append(el("span", { class: "badge badge-neutral" }, note.finding_type));
      if (typeof note.confidence === "number") {
        badges.append(el("span", { class: "badge badge-neutral" }, t("confidence", { pct: Math.round(note.confidence * 100) })));
      }
      badges.append(el("span", { class: `badge badge-finding-${note.finding_state || "open"}` }, t(note.finding_state || "open")));
    }
    if (note.resolved) badges.append(el("span", { class: "badge badge-accepted", title: note.resolved_by ? t("resolved_by", { who: note.resolved_by }) : null }, t("resolved")));
    if (note.shapes?.length) badges.append(el("span", { class: "badge badge-neutral" }, `✎ ${t("drawing")}`));

    const actions = el("div", { class: "button-row note-actions" });
    if (canComment && machine) {
      if (note.finding_state !== "accepted") {
        actions.append(el("button", { type: "button", class: "small", onclick: () => noteAction(note, "accept", error) }, t("accept")));
      }
      if (note.finding_state !== "dismissed") {
        actions.append(el("button", { type: "button", class: "small secondary outline", onclick: () => noteAction(note, "dismiss", error) }, t("dismiss")));
      }
    }
    if (canComment && !machine) {
      actions.append(
        el("button", { type: "button", class: "small secondary outline", onclick: () => noteAction(note, note.resolved ? "reopen" : "resolve", error) },
          note.resolved ? t("reopen") : t("resolve")),
      );
    }
    const replies = note.replies?.length
      ? el("ol", { class: "replies" }, note.replies.map((reply) =>
          el("li", { id: `note-${reply.id}` },
            el("span", { class: "note-by" }, authorName(reply.author)),
            el("time", { class: "note-when", datetime: reply.created_at }, when(reply.created_at)),
            el("p", { class: "note-text" }, reply.text))))
      : null;

    let replyForm = null;
    if (canComment) {
      const area = el("textarea", { rows: 2, maxlength: 5000, "aria-label": t("reply_label"), "data-reply-text": note.id });
      area.value = replyDrafts.get(note.id) || "";
      area.addEventListener("input", () => replyDrafts.set(note.id, area.value));
      replyForm = el("form", { class: "reply-form", hidden: !openReplies.has(note.id) }, area,
        el("button", { type: "submit", class: "small" }, t("send_reply")));
      replyForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const text = area.value.trim();
        if (!text) { error.textContent = t("need_text"); error.hidden = false; return; }
        const button = replyForm.querySelector("button");
        button.disabled = true;
        try {
          await api(cfg.notesUrl, { method: "POST", body: { parent: note.id, text } });
          replyDrafts.delete(note.id);
          openReplies.delete(note.id);
          await loadNotes();
        } catch (err) {
          error.textContent = err.message;
          error.hidden = false;
        } finally {
          button.disabled = false;
        }
      });
      actions.prepend(el("button", {
        type: "button",
        class: "small secondary outline",
        "aria-expanded": String(openReplies.has(note.id)),
        onclick: (event) => {
          const open = replyForm.hidden;
          replyForm.hidden = !open;
          event.currentTarget.setAttribute("aria-expanded", String(open));
          if (open) { openReplies.add(note.id); area.focus(); } else openReplies.delete(note.id);
        },
      }, t("reply")));
    }

    const item = el("li", {
      class: ["note", machine ? "note-machine" : "note-human", note.resolved ? "is-resolved" : "", note.id === activeNote ? "is-active" : ""].join(" ").trim(),
      id: `note-${note.id}`,
      "data-note-id": note.id,
      "data-frame": note.frame_start,
    }, head, badges.childElementCount ? badges : null, el("p", { class: "note-text" }, note.text), replies, actions, replyForm, error);
    // A click on the note itself (not on its buttons or forms) goes to its frame.
    item.addEventListener("click", (event) => {
      if (event.target instanceof Element && event.target.closest("button, a, form, textarea, input")) return;
      jumpTo(note);
    });
    return item;
  }

  function renderNotes() {
    const focused = document.activeElement?.dataset?.replyText;
    const visible = notes.filter((n) => showResolved?.checked !== false || !n.resolved);
    notesList.replaceChildren(...visible.map(noteItem));
    notesList.setAttribute("aria-busy", "false");
    $("[data-notes-count]").textContent = String(notes.length);
    $("[data-notes-empty]").hidden = visible.length > 0;
    findingsList.replaceChildren(...findings.map(noteItem));
    $("[data-findings-count]").textContent = String(findings.length);
    $("[data-findings-section]").hidden = findings.length === 0;
    if (focused) root.querySelector(`[data-reply-text="${CSS.escape(focused)}"]`)?.focus();
    renderTicks();
    markNotesOnFrame();
    redraw();
  }

  function markNotesOnFrame() {
    const byId = new Map([...notes, ...findings].map((n) => [String(n.id), n]));
    for (const item of $$(".note[data-note-id]")) {
      const note = byId.get(item.dataset.noteId);
      item.classList.toggle("on-frame", Boolean(note && onFrame(note)));
    }
  }

  function renderTicks() {
    const ticks = $("[data-note-ticks]");
    if (!ticks) return;
    const last = Math.max(1, lastFrame());
    ticks.replaceChildren(...[...notes, ...findings].map((note) =>
      el("span", { class: `tick${note.source === "machine" ? " tick-machine" : ""}`, style: `left:${(note.frame_start / last) * 100}%` })));
  }

  let notesSeq = 0;
  async function loadNotes() {
    const mine = ++notesSeq;
    const all = [];
    try {
      let url = cfg.notesUrl;
      while (url) {
        const page = await api(url);
        all.push(...(page.results || []));
        url = page.next || null;
      }
    } catch (error) {
      showPageError(error.message);
      return;
    }
    if (mine !== notesSeq) return; // a newer fetch is on its way
    notes = all.filter((n) => n.source !== "machine");
    findings = all.filter((n) => n.source === "machine");
    renderNotes();
    root.dataset.notesLoaded = String(Number(root.dataset.notesLoaded || 0) + 1);
    const hash = window.location.hash.match(/^#note-(\d+)$/);
    if (hash && !root.dataset.hashHandled) {
      root.dataset.hashHandled = "true";
      const target = root.querySelector(`#note-${hash[1]}`);
      target?.classList.add("is-active");
      target?.scrollIntoView({ block: "nearest" });
    }
  }
  showResolved?.addEventListener("change", renderNotes);

  // The add-note form: at the current frame, or on the in/out range; drawings go with it.
  const noteForm = $("[data-note-form]");
  function renderNoteWhere() {
    const where = $("[data-note-where]");
    if (!where) return;
    const useRange = $("[data-use-range]")?.checked && inPoint !== null && outPoint !== null;
    where.textContent = useRange
      ? t("on_range", { start: Math.min(inPoint, outPoint), end: Math.max(inPoint, outPoint), tc: tcOf(Math.min(inPoint, outPoint)) })
      : t("at_frame", { frame: current, tc: tcOf(current) });
  }
  $("[data-use-range]")?.addEventListener("change", renderNoteWhere);
  noteForm?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const textArea = $("[data-note-text]");
    const errorNode = $("[data-note-error]");
    const submit = $("[data-note-submit]");
    errorNode.hidden = true;
    errorNode.textContent = "";
    const text = textArea.value.trim();
    if (!text) {
      errorNode.textContent = t("need_text");
      errorNode.hidden = false;
      textArea.focus();
      return;
    }
    const body = { text, frame_start: current };
    if ($("[data-use-range]")?.checked && inPoint !== null && outPoint !== null) {
      body.frame_start = Math.min(inPoint, outPoint);
      body.frame_end = Math.max(inPoint, outPoint);
    }
    if (pendingShapes.length) body.shapes = pendingShapes.map((s) => ({ ...s }));
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    try {
      const note = await api(cfg.notesUrl, { method: "POST", body });
      textArea.value = "";
      pendingShapes.length = 0;
      afterShapesChanged();
      activeNote = note.id;
      announce(t("note_added", { frame: note.frame_start }));
      await loadNotes();
    } catch (error) {
      errorNode.textContent = error.message;
      errorNode.hidden = false;
    } finally {
      submit.disabled = false;
      submit.removeAttribute("aria-busy");
    }
  });

  // --- approval -----------------------------------------------------------------------------------------------
  const decisionForm = $("[data-decision-form]");
  const decisionList = $("[data-decision-list]");

  function renderApproval(state, released) {
    root.dataset.approval = state;
    root.dataset.released = String(released);
    for (const badge of $$("[data-approval-badge], [data-approval-state]")) {
      badge.className = `badge badge-approval badge-approval-${state}`;
      badge.textContent = t(state);
    }
    const download = $("[data-download]");
    if (download) download.hidden = !released;
    const gate = $("[data-gate-note]");
    if (gate) gate.hidden = released;
  }

  async function loadDecisions() {
    if (!decisionList) return;
    let data;
    try {
      data = await api(cfg.decisionsUrl);
    } catch (error) {
      showPageError(error.message);
      return;
    }
    const items = (data.results || []).map((d) =>
      el("li", {},
        el("span", { class: `badge badge-approval badge-approval-${d.verdict}` }, t(d.verdict)),
        " ",
        el("span", { class: "small" }, `${d.decided_by || "—"} · `, el("time", { datetime: d.created_at }, when(d.created_at))),
        d.sha256 !== cfg.sha256 ? el("span", { class: "small muted" }, ` (${t("earlier")})`) : null,
        d.note ? el("p", { class: "small" }, d.note) : null));
    decisionList.replaceChildren(...(items.length ? items : [el("li", { class: "muted small" }, t("no_decision"))]));
    renderApproval(data.state, Boolean(data.released));
    refreshCredentials(data.credentials ? data.credentials.status : "none");
  }

  // The credentials panel is rendered by the server (what the library read back): when their status
  // changes (approved, then signed), take the fresh panel from the page itself.
  async function refreshCredentials(status) {
    const panel = $("[data-credentials-panel]");
    if (!panel || panel.dataset.credentialsStatus === status) return;
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html").querySelector("[data-credentials-panel]");
      if (fresh) panel.replaceWith(fresh);
    } catch (error) {
      // the next live event, or a reload, shows them
    }
  }

  decisionForm?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const verdict = event.submitter?.value;
    const noteInput = $("[data-decision-note]");
    const errorNode = $("[data-decision-error]");
    errorNode.hidden = true;
    errorNode.textContent = "";
    const note = noteInput.value.trim();
    if (!verdict) return;
    if (verdict !== "approved" && !note) {
      errorNode.textContent = t("need_decision_note");
      errorNode.hidden = false;
      noteInput.focus();
      return;
    }
    const buttons = $$("[data-decision-form] button");
    for (const button of buttons) button.disabled = true;
    try {
      await api(cfg.decisionsUrl, { method: "POST", body: { verdict, note, sha256: cfg.sha256 } });
      noteInput.value = "";
      announce(t("decided", { verdict: t(verdict) }));
      await loadDecisions();
    } catch (error) {
      errorNode.textContent = error.message;
      errorNode.hidden = false;
    } finally {
      for (const button of buttons) button.disabled = false;
    }
  });
  if (!canApprove && decisionForm) decisionForm.remove();

  // --- viewer identity over generated media -------------------------------------------------------------------
  const marks = $$("[data-viewer-mark]");
  if (marks.length) {
    const corners = ["pos-a", "pos-b", "pos-c", "pos-d"];
    let turn = 0;
    const tick = () => {
      const now = new Date().toLocaleString(lang, { dateStyle: "short", timeStyle: "medium" });
      for (const out of $$("[data-viewer-time]")) out.textContent = now;
    };
    const move = () => {
      turn = (turn + 1) % corners.length;
      for (const mark of marks) {
        mark.classList.remove(...corners);
        mark.classList.add(corners[turn]);
      }
    };
    tick();
    move();
    window.setInterval(tick, 1000);
    window.setInterval(move, 20000);
  }

  // --- live ------------------------------------------------------------------------------------------------------
  const timers = {};
  const soon = (name, fn) => {
    window.clearTimeout(timers[name]);
    timers[name] = window.setTimeout(fn, 120);
  };
  connectProject(cfg.projectId, {
    onEvent(event) {
      if (String(event.version) !== cfg.versionId) return;
      if (event.type === "review.note") soon("notes", loadNotes);
      if (event.type === "review.decision" || event.type === "review.credentials") soon("decisions", loadDecisions);
    },
    onResync() {
      soon("notes", loadNotes);
      soon("decisions", loadDecisions);
    },
    onState(state) { root.dataset.live = state; },
  });

  renderRange();
  render();
  loadNotes();
  loadDecisions();
  // Metadata may have arrived before this module ran.
  if (video && video.readyState >= 1) video.dispatchEvent(new Event("loadedmetadata"));
}
