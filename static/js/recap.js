// The recap run page: the moments as a timeline of thumbnails, the narration with the subtitle lines
// each sentence cites, the player with the verified sentences as captions, and the reviewer's editor
// (remove, add, reorder moments; edit or drop sentences) that renders the edit as a new run without
// analysing the episodes again.

const root = document.querySelector("[data-recap]");
const dataNode = document.getElementById("recap-data");
const stringsNode = document.getElementById("recap-strings");
const STRINGS = stringsNode ? JSON.parse(stringsNode.textContent) : {};

// The page's translations, with {name} placeholders filled in; English when a string is missing.
function t(key, fallback, values = {}) {
  const text = STRINGS[key] || fallback;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

function clock(seconds) {
  const total = Math.max(0, seconds);
  const m = Math.floor(total / 60);
  const s = total - m * 60;
  return `${String(m).padStart(2, "0")}:${s.toFixed(3).padStart(6, "0")}`;
}

function vttTime(seconds) {
  const total = Math.max(0, seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total - h * 3600 - m * 60;
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${s.toFixed(3).padStart(6, "0")}`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function csrfToken() {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  return cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : "";
}

if (root && dataNode) {
  const data = JSON.parse(dataNode.textContent);
  const canEdit = root.dataset.canEdit === "1";
  const canSign = root.dataset.canSign === "1";
  const video = root.querySelector("[data-recap-video]");
  const key = (m) => `${m.episode}:${m.start.toFixed(3)}:${m.end.toFixed(3)}`;
  const TRIM_STEP = 0.5;
  const MIN_MOMENT = 1.0;
  const original = {
    moments: data.moments.map((m) => ({ ...m })),
    sentences: data.sentences.map((s) => ({ ...s })),
  };
  let moments = original.moments.map((m) => ({ ...m }));
  let sentences = original.sentences.map((s) => ({ ...s }));
  let offered = data.suggestions.map((m) => ({ ...m }));
  const originalKeys = new Set(original.moments.map(key));

  function thumb(m) {
    const box = el("div", { class: "recap-thumb", "aria-hidden": "true" });
    const sheet = data.thumbnails;
    if (sheet && m.thumb !== null && m.thumb !== undefined && m.thumb < sheet.count) {
      const col = m.thumb % sheet.columns;
      const row = Math.floor(m.thumb / sheet.columns);
      box.style.backgroundImage = `url("${sheet.url}")`;
      box.style.backgroundSize = `${sheet.columns * 100}% ${sheet.rows * 100}%`;
      const x = sheet.columns > 1 ? (col / (sheet.columns - 1)) * 100 : 0;
      const y = sheet.rows > 1 ? (row / (sheet.rows - 1)) * 100 : 0;
      box.style.backgroundPosition = `${x}% ${y}%`;
    }
    return box;
  }

  function momentCard(m, index, mode) {
    const where = `EP${String(m.episode).padStart(2, "0")}`;
    const lines = m.lines.map((l) => `${l.id}: ${l.text}`).join("\n");
    const card = el("li", {
      class: "recap-moment" + (mode === "timeline" && !originalKeys.has(key(m)) ? " is-added" : ""),
      "data-moment": key(m),
      style: mode === "timeline" ? `flex-grow:${Math.max(1, m.duration)}` : null,
    });
    const picture = el("button", {
      type: "button",
      class: "recap-thumb-button",
      title: lines || m.episode_name,
      "aria-label": `${where} ${m.timecode}`,
      onclick: () => {
        if (video && m.recap_start !== null && m.recap_start !== undefined && originalKeys.has(key(m))) {
          video.currentTime = m.recap_start;
          video.play().catch(() => {});
        }
      },
    }, thumb(m));
    card.append(picture);
    card.append(
      el("p", { class: "recap-moment-head" },
        el("strong", { text: where }), " ",
        el("span", { class: "mono small", text: m.timecode })),
      el("p", { class: "recap-moment-meta small" },
        el("span", { text: `${m.duration.toFixed(1)} s` }), " · ",
        el("span", { class: "recap-score", text: t("score", "score {score}", { score: (m.score ?? 0).toFixed(2) }) })),
      el("p", { class: "recap-why small muted", text: m.reasons.join("; ") }),
    );
    if (m.lines.length) {
      card.append(el("p", { class: "recap-lines small", text: m.lines.map((l) => `“${l.text}”`).join(" ") }));
    }
    if (canEdit) {
      const row = el("div", { class: "recap-moment-actions" });
      if (mode === "timeline") {
        row.append(
          el("button", { type: "button", class: "secondary outline small", "data-move-earlier": "", "aria-label": t("earlier", "Move {what} earlier", { what: `${where} ${m.timecode}` }),
            disabled: index === 0, onclick: () => move(index, -1), text: "◀" }),
          el("button", { type: "button", class: "secondary outline small", "data-move-later": "", "aria-label": t("later", "Move {what} later", { what: `${where} ${m.timecode}` }),
            disabled: index === moments.length - 1, onclick: () => move(index, 1), text: "▶" }),
          el("button", { type: "button", class: "danger outline small", "data-remove-moment": "",
            "aria-label": t("remove", "Remove {what}", { what: `${where} ${m.timecode}` }), disabled: moments.length === 1, onclick: () => remove(index), text: "✕" }),
        );
        card.append(row, trimRow(m, index, where));
        return card;
      } else {
        row.append(el("button", { type: "button", class: "small", "data-add-moment": "",
          "aria-label": t("add", "Add {what}", { what: `${where} ${m.timecode}` }), onclick: () => add(index), text: t("add_short", "+ Add") }));
      }
      card.append(row);
    }
    return card;
  }

  // Trimming: each edge moves by TRIM_STEP seconds, the moment never shorter than MIN_MOMENT nor past
  // the episode's usable end. The server checks the same again and re-reads the lines inside.
  function trimRow(m, index, where) {
    const what = `${where} ${m.timecode}`;
    const button = (label, aria, edge, delta, attr) => el("button", {
      type: "button", class: "secondary outline small", [attr]: "", "aria-label": aria,
      disabled: !canTrim(m, edge, delta), onclick: () => trim(index, edge, delta), text: label });
    return el("div", { class: "recap-moment-actions recap-trim", role: "group", "aria-label": t("trim", "Trim {what}", { what }) },
      el("span", { class: "recap-trim-edge" },
        el("span", { class: "small muted", text: t("in", "In") }),
        button("−", t("start_earlier", "Start {what} {step} s earlier", { what, step: TRIM_STEP }), "start", -TRIM_STEP, "data-start-earlier"),
        button("+", t("start_later", "Start {what} {step} s later", { what, step: TRIM_STEP }), "start", TRIM_STEP, "data-start-later")),
      el("span", { class: "recap-trim-edge" },
        el("span", { class: "small muted", text: t("out", "Out") }),
        button("−", t("end_earlier", "End {what} {step} s earlier", { what, step: TRIM_STEP }), "end", -TRIM_STEP, "data-end-earlier"),
        button("+", t("end_later", "End {what} {step} s later", { what, step: TRIM_STEP }), "end", TRIM_STEP, "data-end-later")),
    );
  }

  function trimmed(m, edge, delta) {
    const start = edge === "start" ? Math.max(0, m.start + delta) : m.start;
    const limit = m.limit ?? Infinity;
    const end = edge === "end" ? Math.min(limit, m.end + delta) : m.end;
    return { start: Math.round(start * 1000) / 1000, end: Math.round(end * 1000) / 1000 };
  }

  function canTrim(m, edge, delta) {
    const next = trimmed(m, edge, delta);
    const moved = next.start !== m.start || next.end !== m.end;
    return moved && next.end - next.start >= MIN_MOMENT - 1e-9;
  }

  function trim(index, edge, delta) {
    const m = moments[index];
    if (!canTrim(m, edge, delta)) return;
    const next = trimmed(m, edge, delta);
    const source = m.source || { start: m.start, end: m.end, lines: m.lines, reasons: m.reasons };
    const untouched = next.start === source.start && next.end === source.end;
    moments[index] = {
      ...m, ...next, source,
      duration: next.end - next.start,
      timecode: `${clock(next.start)}–${clock(next.end)}`,
      // The lines inside were for the old edges; the new run re-reads them.
      lines: untouched ? source.lines : [],
      reasons: untouched ? source.reasons : [t("trimmed", "trimmed from {from}", { from: `${clock(source.start)}–${clock(source.end)}` })],
    };
    render();
    const card = root.querySelectorAll("[data-recap-moments] > li")[index];
    const again = card && card.querySelector(`[data-${edge}-${delta < 0 ? "earlier" : "later"}]`);
    if (again && !again.disabled) again.focus();
  }

  function citationPopover(s) {
    const pop = el("div", { class: "recap-citations", role: "tooltip" });
    if (!s.citations.length) pop.append(el("p", { class: "small", text: t("no_citation", "No subtitle line cited.") }));
    for (const c of s.citations) {
      pop.append(el("p", { class: "small", "data-citation": c.id },
        el("span", { class: "mono", text: `EP${String(c.episode).padStart(2, "0")} ${c.clock} · ${c.id}` }), " ",
        c.speaker ? el("strong", { text: `${c.speaker}: ` }) : null,
        el("q", { text: c.text })));
    }
    return pop;
  }

  // The claims the verifier could not establish or found contradicted, each with its reason.
  function claimList(s) {
    const failed = (s.claims || []).filter((c) => c.verdict !== "supported");
    if (!failed.length) return null;
    return el("ul", { class: "recap-claims", "data-claims": "" }, ...failed.map((c) =>
      el("li", { class: `claim-${c.verdict}` },
        el("span", { class: "badge verdict-" + c.verdict, text: STRINGS[`verdict_${c.verdict}`] || c.verdict }), " ",
        el("span", { text: c.text }), c.reason ? el("span", { class: "muted", text: ` — ${c.reason}` }) : null)));
  }

  function showGate(gate) {
    const node = root.querySelector("[data-recap-gate]");
    if (!node || !gate) return;
    node.textContent = gate.approvable ? t("gate_ok", "Every unverified sentence is signed off: the recap can be approved.") : gate.message;
    node.classList.toggle("notice-warning", !gate.approvable);
    node.classList.toggle("notice-ok", gate.approvable);
  }

  async function signOff(s, button) {
    const errors = root.querySelector("[data-recap-sign-errors]");
    if (errors) errors.hidden = true;
    button.disabled = true;
    try {
      const response = await fetch(data.signoff_url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ sentence: s.id, text_sha256: s.text_sha256 }),
      });
      const answer = await response.json().catch(() => ({}));
      if (response.status === 201) {
        const fresh = Object.fromEntries(answer.sentences.map((x) => [x.id, x.signoff]));
        for (const list of [original.sentences, sentences]) for (const x of list) if (x.id in fresh && !x.pending) x.signoff = fresh[x.id];
        showGate(answer.gate);
        render();
        return;
      }
      const text = answer.detail || Object.values(answer).flat().join(" ") || t("server_status", "The server answered {status}.", { status: response.status });
      if (errors) { errors.replaceChildren(el("p", { text })); errors.hidden = false; }
      button.disabled = false;
    } catch (error) {
      if (errors) { errors.replaceChildren(el("p", { text: t("unreachable", "Could not reach the server: {error}", { error: error.message }) })); errors.hidden = false; }
      button.disabled = false;
    }
  }

  function sentenceItem(s, index) {
    const changed = Boolean(s.pending) || s.origin === "edited";
    const judged = !s.pending && s.verdict !== "verified";
    const item = el("li", {
      class: `recap-sentence verdict-${s.verdict}` + (changed ? " is-edited" : "") + (judged ? " is-judged" : ""),
      tabindex: "0",
      "data-sentence": String(index),
      "data-sentence-id": s.id,
      "data-verdict": s.verdict,
    });
    const head = el("p", {},
      el("span", { class: `badge verdict-${s.verdict}`, text: changed && s.pending ? t("to_verify", "to verify") : (STRINGS[`verdict_${s.verdict}`] || s.verdict) }), " ",
      el("span", { class: "recap-sentence-text", text: s.text }));
    item.append(head);
    if (!s.pending) {
      const claims = claimList(s);
      if (claims) item.append(claims);
    }
    if (s.problems && s.problems.length && !s.pending) item.append(el("p", { class: "small recap-problems", text: s.problems.join("; ") }));
    if (s.verdict === "contradicted" && !s.pending) item.append(el("p", { class: "small recap-problems", text: t("held_back", "held back: never shipped") }));
    if (s.signoff && !s.pending) {
      item.append(el("p", { class: "recap-signed", "data-signed": "",
        text: t("signed_by", "Signed off by {who}, {when}", { who: s.signoff.by, when: new Date(s.signoff.at).toLocaleString() }) }));
    }
    item.append(citationPopover(s));
    if (canEdit || canSign) {
      const row = el("div", { class: "recap-sentence-actions" });
      if (canSign && s.verdict === "unverified" && !s.signoff && !s.pending) {
        const sign = el("button", { type: "button", class: "small", "data-sign-off": "", "aria-label": t("sign_off_label", "Sign off this sentence"),
          text: t("sign_off", "Sign off") });
        sign.addEventListener("click", () => signOff(s, sign));
        row.append(sign);
      }
      item.append(row);
    }
    if (canEdit) {
      const row = item.querySelector(".recap-sentence-actions");
      row.append(
        el("button", { type: "button", class: "secondary outline small", "data-edit-sentence": "",
          onclick: () => editSentence(index, item), text: t("edit", "Edit") }),
        el("button", { type: "button", class: "danger outline small", "aria-label": t("remove_sentence", "Remove this sentence"),
          onclick: () => { sentences.splice(index, 1); render(); }, text: "✕" }),
      );
      item.append(row);
    }
    return item;
  }

  function editSentence(index, item) {
    const s = sentences[index];
    const area = el("textarea", { rows: "2", maxlength: "500", "aria-label": t("sentence_text", "Sentence text"), "data-sentence-input": "" });
    area.value = s.text;
    const save = el("button", { type: "button", class: "small", "data-save-sentence": "", text: t("keep", "Keep"),
      onclick: () => {
        const text = area.value.replace(/\s+/g, " ").trim();
        if (!text) { area.setAttribute("aria-invalid", "true"); return; }
        if (text !== s.text) sentences[index] = { ...s, text, origin: "edited", pending: true, problems: [] };
        render();
      } });
    const cancel = el("button", { type: "button", class: "secondary outline small", text: t("cancel", "Cancel"), onclick: () => render() });
    item.replaceChildren(area, el("div", { class: "recap-sentence-actions" }, save, cancel), citationPopover(s));
    area.focus();
  }

  function move(index, delta) {
    const other = index + delta;
    [moments[index], moments[other]] = [moments[other], moments[index]];
    render();
  }

  function remove(index) {
    const [gone] = moments.splice(index, 1);
    if (!offered.some((o) => key(o) === key(gone))) offered.push(gone);
    offered.sort((a, b) => a.episode - b.episode || a.start - b.start);
    render();
  }

  function add(index) {
    const [m] = offered.splice(index, 1);
    // In story order among the moments, unless the reviewer moves it afterwards.
    let at = moments.findIndex((x) => x.episode > m.episode || (x.episode === m.episode && x.start > m.start));
    if (at < 0) at = moments.length;
    moments.splice(at, 0, m);
    render();
  }

  function changed() {
    const a = moments.map(key).join("|") !== original.moments.map(key).join("|");
    const b = sentences.map((s) => s.text).join("|") !== original.sentences.map((s) => s.text).join("|");
    return a || b;
  }

  function length() {
    const total = moments.reduce((sum, m) => sum + m.duration, 0) - Math.max(0, moments.length - 1) * (data.crossfade || 0);
    return Math.max(0, total);
  }

  function captions() {
    if (!video) return;
    const cues = original.sentences.filter((s) => s.shipped && s.recap_start !== null && s.recap_end !== null);
    if (!cues.length) return;
    const text = "WEBVTT\n\n" + cues.map((s, i) => `${i + 1}\n${vttTime(s.recap_start)} --> ${vttTime(s.recap_end)}\n${s.text}\n`).join("\n");
    const track = el("track", { kind: "captions", label: t("narration", "Narration"), srclang: document.documentElement.lang || "en", default: true,
      src: URL.createObjectURL(new Blob([text], { type: "text/vtt" })) });
    video.append(track);
  }

  function render() {
    const list = root.querySelector("[data-recap-moments]");
    list.replaceChildren(...moments.map((m, i) => momentCard(m, i, "timeline")));
    root.querySelector("[data-moment-count]").textContent = String(moments.length);
    const said = root.querySelector("[data-recap-sentences]");
    said.replaceChildren(...sentences.map((s, i) => sentenceItem(s, i)));
    root.querySelector("[data-sentence-count]").textContent = String(sentences.length);
    if (!canEdit) return;
    const offer = root.querySelector("[data-recap-suggestions]");
    offer.replaceChildren(...offered.map((m, i) => momentCard(m, i, "offered")));
    root.querySelector("[data-suggestion-count]").textContent = String(offered.length);
    const dirty = changed();
    root.querySelector("[data-recap-render]").disabled = !dirty;
    root.querySelector("[data-recap-reset]").disabled = !dirty;
    root.querySelector("[data-recap-summary]").textContent = dirty
      ? t("summary", "Edited: {moments} moments, {sentences} sentences, about {seconds} s (target {target} s). Rendering again reuses the analysis.",
        { moments: moments.length, sentences: sentences.length, seconds: length().toFixed(1), target: data.target })
      : "";
  }

  async function submit(button) {
    const errors = root.querySelector("[data-recap-errors]");
    errors.hidden = true;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    const body = {
      moments: moments.map((m) => ({ episode: m.episode, start: m.start, end: m.end })),
      sentences: sentences.map((s) => ({ text: s.text, cues: s.citations.map((c) => c.id) })),
    };
    try {
      const response = await fetch(data.rerender_url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(body),
      });
      const answer = await response.json().catch(() => ({}));
      if (response.status === 201 && answer.links && answer.links.page) {
        window.location.assign(answer.links.page);
        return;
      }
      const messages = [];
      const walk = (value, where) => {
        if (typeof value === "string") messages.push(where ? `${where}: ${value}` : value);
        else if (Array.isArray(value)) value.forEach((v) => walk(v, where));
        else if (value && typeof value === "object") Object.entries(value).forEach(([k, v]) => walk(v, k === "detail" ? where : k));
      };
      walk(answer, "");
      errors.replaceChildren(...(messages.length ? messages : [t("server_status", "The server answered {status}.", { status: response.status })]).map((m) => el("p", { text: m })));
      errors.hidden = false;
    } catch (error) {
      errors.replaceChildren(el("p", { text: t("unreachable", "Could not reach the server: {error}", { error: error.message }) }));
      errors.hidden = false;
    } finally {
      button.removeAttribute("aria-busy");
      button.disabled = !changed();
    }
  }

  if (canEdit) {
    root.querySelector("[data-recap-render]").addEventListener("click", (event) => submit(event.currentTarget));
    root.querySelector("[data-recap-reset]").addEventListener("click", () => {
      moments = original.moments.map((m) => ({ ...m }));
      sentences = original.sentences.map((s) => ({ ...s }));
      offered = data.suggestions.map((m) => ({ ...m }));
      render();
    });
  }
  captions();
  render();
}
