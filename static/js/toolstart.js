// The "start a run" form, enhanced. The page works without this file (a plain multi-select and a
// JSON textarea); with it:
//  - [data-ordered-picker]: a multi-input slot becomes "available" and "chosen, in order" lists.
//    The chosen list holds the hidden inputs the form submits, in the order shown, because the
//    order is the tool's (episodes in story order, shots in cut order). The slot's max count is a
//    hard limit. The plain select is disabled, so it submits nothing.
//  - [data-polygon-field]: a polygon parameter (normalized [x, y] points) drawn over a frame of the
//    version chosen in another input slot. Its textarea stays the source of what is submitted.
// Every piece of user text is put in the page with textContent.

const form = document.querySelector("form[data-toolstart]");
if (form) start(form);

function start(form) {
  const words = {};
  for (const node of form.querySelectorAll("[data-i18n] [data-key]")) words[node.dataset.key] = node.textContent.trim();
  const t = (key, vars = {}) =>
    Object.entries(vars).reduce((text, [name, value]) => text.replaceAll(`{${name}}`, String(value)), words[key] ?? key);

  const announcer = document.createElement("div");
  announcer.className = "visually-hidden";
  announcer.setAttribute("role", "status");
  announcer.setAttribute("aria-live", "polite");
  form.append(announcer);
  const announce = (text) => {
    announcer.textContent = "";
    window.setTimeout(() => { announcer.textContent = text; }, 50);
  };

  for (const field of form.querySelectorAll("[data-ordered-picker]")) orderedPicker(field, { t, announce });
  for (const field of form.querySelectorAll("[data-polygon-field]")) polygonField(field, form, { t });
}

// --- ordered picker -------------------------------------------------------------------------------

function orderedPicker(field, { t, announce }) {
  const name = field.dataset.slot;
  const max = Number(field.dataset.max) || Infinity;
  const fallback = field.querySelector("select[data-picker-fallback]");
  const picker = field.querySelector("[data-picker]");
  const available = picker.querySelector("[data-picker-available]");
  const chosen = picker.querySelector("[data-picker-chosen]");
  const empty = picker.querySelector("[data-picker-empty]");
  const noneLeft = picker.querySelector("[data-picker-none-left]");
  const count = picker.querySelector("[data-picker-count]");
  const limit = picker.querySelector("[data-picker-limit]");
  const sourceOf = new Map(Array.from(available.children, (item) => [item.dataset.value, item]));
  for (const img of available.querySelectorAll("img.picker-thumb")) guardThumb(img);

  // What the server rendered as chosen (after a refused submit) is the starting order.
  const initial = Array.from(chosen.children, (item) => item.dataset.value).filter((value) => sourceOf.has(value));
  chosen.replaceChildren();

  fallback.disabled = true;
  fallback.hidden = true;
  field.querySelector(`label[for="${fallback.id}"]`)?.removeAttribute("for");
  picker.hidden = false;

  const labelOf = (item) => item.dataset.label;
  const items = () => Array.from(chosen.children);

  function button(cmd, text, label, className = "secondary outline small") {
    const b = document.createElement("button");
    b.type = "button";
    b.className = className;
    b.dataset.pickerCmd = cmd;
    b.textContent = text;
    b.setAttribute("aria-label", label);
    b.title = label;
    return b;
  }

  function makeChosen(value) {
    const source = sourceOf.get(value);
    const label = labelOf(source);
    const item = document.createElement("li");
    item.className = "picker-item";
    item.dataset.value = value;
    item.dataset.label = label;
    item.draggable = true;
    item.tabIndex = -1;
    const thumb = source.querySelector(".picker-thumb").cloneNode(true);
    if (thumb instanceof HTMLImageElement) {
      thumb.removeAttribute("loading");
      guardThumb(thumb);
    }
    const text = document.createElement("span");
    text.className = "picker-label";
    text.textContent = label;
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    const actions = document.createElement("span");
    actions.className = "picker-actions";
    actions.append(
      button("up", "↑", t("move_up", { label })),
      button("down", "↓", t("move_down", { label })),
      button("remove", "✕", t("remove", { label })),
    );
    item.append(thumb, text, actions, input);
    return item;
  }

  function refresh() {
    const list = items();
    list.forEach((item, index) => {
      item.querySelector('[data-picker-cmd="up"]').disabled = index === 0;
      item.querySelector('[data-picker-cmd="down"]').disabled = index === list.length - 1;
    });
    const full = list.length >= max;
    let left = 0;
    for (const source of sourceOf.values()) {
      const taken = list.some((item) => item.dataset.value === source.dataset.value);
      source.hidden = taken;
      if (!taken) left += 1;
      source.querySelector('[data-picker-cmd="add"]').disabled = full;
    }
    empty.hidden = list.length > 0;
    noneLeft.hidden = left > 0;
    limit.hidden = !full;
    count.textContent = Number.isFinite(max) ? t("count_max", { count: list.length, max }) : t("count", { count: list.length });
    // Anything that depends on the chosen inputs (a polygon's frame) follows.
    field.dispatchEvent(new CustomEvent("toolstart:inputs", { bubbles: true }));
  }

  function add(value, { focus = true } = {}) {
    if (items().length >= max || !sourceOf.has(value)) return;
    if (items().some((item) => item.dataset.value === value)) return;
    const source = sourceOf.get(value);
    // Keyboard focus stays in the available list, on the next version still there.
    const next = [...nextSiblings(source), ...previousSiblings(source)].find((item) => !item.hidden && item !== source);
    const item = makeChosen(value);
    chosen.append(item);
    refresh();
    if (focus) {
      const target = next?.querySelector("button:not([disabled])") || item.querySelector('[data-picker-cmd="remove"]');
      target.focus();
      const added = t("added", { label: labelOf(item), n: items().length, count: items().length });
      announce(limit.hidden ? added : `${added} ${limit.textContent.trim()}`);
    }
  }

  function move(item, delta, focusCmd) {
    const list = items();
    const index = list.indexOf(item);
    const to = index + delta;
    if (to < 0 || to >= list.length) return;
    if (delta < 0) chosen.insertBefore(item, list[to]);
    else chosen.insertBefore(item, list[to].nextSibling);
    refresh();
    const keep = item.querySelector(`[data-picker-cmd="${focusCmd}"]`);
    (keep && !keep.disabled ? keep : item.querySelector('[data-picker-cmd="remove"]')).focus();
    announce(t("moved", { label: labelOf(item), n: to + 1, count: list.length }));
  }

  function remove(item) {
    const list = items();
    const index = list.indexOf(item);
    const label = labelOf(item);
    item.remove();
    refresh();
    const neighbour = items()[Math.min(index, items().length - 1)];
    (neighbour?.querySelector('[data-picker-cmd="remove"]') || sourceOf.get(item.dataset.value).querySelector("button")).focus();
    announce(t("removed", { label }));
  }

  picker.addEventListener("click", (event) => {
    const b = event.target.closest("button[data-picker-cmd]");
    if (!b || b.disabled) return;
    const item = b.closest(".picker-item");
    const cmd = b.dataset.pickerCmd;
    if (cmd === "add") add(item.dataset.value);
    else if (cmd === "up") move(item, -1, "up");
    else if (cmd === "down") move(item, 1, "down");
    else if (cmd === "remove") remove(item);
  });

  chosen.addEventListener("keydown", (event) => {
    const item = event.target.closest(".picker-item");
    if (!item || !event.altKey) return;
    if (event.key === "ArrowUp" || event.key === "ArrowDown") {
      event.preventDefault();
      move(item, event.key === "ArrowUp" ? -1 : 1, event.key === "ArrowUp" ? "up" : "down");
    }
  });

  // Drag and drop, for the mouse; the buttons and keys do the same.
  let dragged = null;
  chosen.addEventListener("dragstart", (event) => {
    dragged = event.target.closest(".picker-item");
    if (!dragged) return;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.dataset.value);
    dragged.classList.add("dragging");
  });
  chosen.addEventListener("dragover", (event) => {
    if (!dragged) return;
    event.preventDefault();
    const over = event.target.closest(".picker-item");
    if (!over || over === dragged) return;
    const box = over.getBoundingClientRect();
    const after = event.clientY > box.top + box.height / 2;
    chosen.insertBefore(dragged, after ? over.nextSibling : over);
  });
  chosen.addEventListener("drop", (event) => event.preventDefault());
  chosen.addEventListener("dragend", () => {
    if (!dragged) return;
    dragged.classList.remove("dragging");
    const list = items();
    announce(t("moved", { label: labelOf(dragged), n: list.indexOf(dragged) + 1, count: list.length }));
    dragged = null;
    refresh();
  });

  for (const value of initial) add(value, { focus: false });
  refresh();
}

// A poster that does not load leaves the plain thumbnail box, not a broken-image icon.
function guardThumb(img) {
  img.addEventListener("error", () => {
    const box = document.createElement("span");
    box.className = "picker-thumb";
    box.setAttribute("aria-hidden", "true");
    img.replaceWith(box);
  });
}

function nextSiblings(node) {
  const out = [];
  for (let n = node.nextElementSibling; n; n = n.nextElementSibling) out.push(n);
  return out;
}

function previousSiblings(node) {
  const out = [];
  for (let n = node.previousElementSibling; n; n = n.previousElementSibling) out.push(n);
  return out;
}

// --- polygon on a frame ---------------------------------------------------------------------------

const DIGITS = 4; // 1/10000 of the frame: finer than a pixel of a 4K plate
const STEP = 0.005;
const BIG_STEP = 0.05;

function polygonField(field, form, { t }) {
  const editor = field.querySelector("[data-polygon-editor]");
  const stage = field.querySelector("[data-polygon-stage]");
  const frame = field.querySelector("[data-polygon-frame]");
  const noFrame = field.querySelector("[data-polygon-noframe]");
  const shape = field.querySelector("[data-polygon-shape]");
  const open = field.querySelector("[data-polygon-open]");
  const handles = field.querySelector("[data-polygon-handles]");
  const countOut = field.querySelector("[data-polygon-count]");
  const textarea = field.querySelector("[data-polygon-json]");
  const slotName = field.dataset.frameSlot;
  const maxPoints = Number(field.dataset.maxPoints) || Infinity;
  const noFrameText = noFrame.textContent;

  const round = (v) => Number(Math.min(1, Math.max(0, v)).toFixed(DIGITS));
  let points = parse(textarea.value) || [];

  function parse(text) {
    if (!text.trim()) return [];
    try {
      const value = JSON.parse(text);
      if (!Array.isArray(value)) return null;
      if (!value.every((p) => Array.isArray(p) && p.length === 2 && p.every((c) => typeof c === "number" && Number.isFinite(c)))) return null;
      return value.map(([x, y]) => [x, y]);
    } catch {
      return null;
    }
  }

  function write() {
    textarea.value = points.length ? JSON.stringify(points) : "";
    textarea.removeAttribute("aria-invalid");
  }

  function draw({ focus = null } = {}) {
    const text = points.map(([x, y]) => `${x},${y}`).join(" ");
    shape.setAttribute("points", points.length >= 3 ? text : "");
    open.setAttribute("points", points.length < 3 ? text : "");
    handles.replaceChildren(
      ...points.map(([x, y], index) => {
        const handle = document.createElement("button");
        handle.type = "button";
        handle.className = "polygon-point";
        handle.dataset.index = String(index);
        handle.style.left = `${Math.min(1, Math.max(0, x)) * 100}%`;
        handle.style.top = `${Math.min(1, Math.max(0, y)) * 100}%`;
        handle.setAttribute("aria-label", t("point", { n: index + 1, x, y }));
        return handle;
      }),
    );
    if (focus != null) handles.children[focus]?.focus();
    const n = points.length;
    if (n === 0) countOut.textContent = t("points_none");
    else if (n < 3) countOut.textContent = t("points_few", { count: n });
    else if (n >= maxPoints) countOut.textContent = t("points_max", { count: n });
    else countOut.textContent = t("points", { count: n });
  }

  const change = (options) => { write(); draw(options); };

  function at(event) {
    const box = stage.getBoundingClientRect();
    return [round((event.clientX - box.left) / box.width), round((event.clientY - box.top) / box.height)];
  }

  // Click (mouse, pen, touch) on the frame: a new point at the end.
  stage.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || event.target.closest(".polygon-point")) return;
    if (points.length >= maxPoints) return;
    event.preventDefault();
    points.push(at(event));
    change();
  });

  // Drag a point to move it.
  handles.addEventListener("pointerdown", (event) => {
    const handle = event.target.closest(".polygon-point");
    if (!handle || event.button !== 0) return;
    event.preventDefault();
    const index = Number(handle.dataset.index);
    handle.focus();
    handle.setPointerCapture(event.pointerId);
    const moveTo = (e) => {
      points[index] = at(e);
      handle.style.left = `${points[index][0] * 100}%`;
      handle.style.top = `${points[index][1] * 100}%`;
      const text = points.map(([x, y]) => `${x},${y}`).join(" ");
      shape.setAttribute("points", points.length >= 3 ? text : "");
      open.setAttribute("points", points.length < 3 ? text : "");
    };
    const end = (e) => {
      handle.removeEventListener("pointermove", moveTo);
      handle.removeEventListener("pointerup", end);
      handle.removeEventListener("pointercancel", end);
      if (e.type === "pointerup") moveTo(e);
      change({ focus: index });
    };
    handle.addEventListener("pointermove", moveTo);
    handle.addEventListener("pointerup", end);
    handle.addEventListener("pointercancel", end);
  });

  // Keys: arrows move the focused point, Delete removes it; Enter on the frame adds one in the middle.
  stage.addEventListener("keydown", (event) => {
    const handle = event.target.closest(".polygon-point");
    if (!handle) {
      if (event.target === stage && (event.key === "Enter" || event.key === " ") && points.length < maxPoints) {
        event.preventDefault();
        points.push([0.5, 0.5]);
        change({ focus: points.length - 1 });
      }
      return;
    }
    const index = Number(handle.dataset.index);
    const step = event.shiftKey ? BIG_STEP : STEP;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[event.key]) {
      event.preventDefault();
      const [dx, dy] = moves[event.key];
      points[index] = [round(points[index][0] + dx), round(points[index][1] + dy)];
      change({ focus: index });
    } else if (event.key === "Delete" || event.key === "Backspace") {
      event.preventDefault();
      points.splice(index, 1);
      change({ focus: points.length ? Math.min(index, points.length - 1) : null });
      if (!points.length) stage.focus();
    }
  });

  field.querySelector('[data-polygon-cmd="undo"]').addEventListener("click", () => { points.pop(); change(); });
  field.querySelector('[data-polygon-cmd="clear"]').addEventListener("click", () => { points = []; change(); });

  // Typed or pasted coordinates are drawn when they can be; what is typed is what is sent.
  textarea.addEventListener("input", () => {
    const typed = parse(textarea.value);
    if (typed) {
      points = typed;
      draw();
    } else {
      countOut.textContent = t("unreadable");
    }
  });

  // The frame: the poster of the version chosen in the frame slot, following the choice.
  function chosenVersion() {
    for (const element of form.querySelectorAll(`[name="${CSS.escape(slotName)}"]`)) {
      if (element.disabled) continue;
      if (element instanceof HTMLSelectElement) {
        const value = Array.from(element.selectedOptions).find((o) => o.value)?.value;
        if (value) return { value, select: element };
      } else if (element.value) {
        return { value: element.value, select: null };
      }
    }
    return null;
  }

  function posterOf(value) {
    const option = form.querySelector(`select[name="${CSS.escape(slotName)}"] option[value="${CSS.escape(value)}"]`);
    return option?.dataset.poster || "";
  }

  let shown = null;
  function updateFrame() {
    const chosen = chosenVersion();
    const url = chosen ? posterOf(chosen.value) : "";
    if (url === shown) return;
    shown = url;
    if (!url) {
      frame.hidden = true;
      frame.removeAttribute("src");
      stage.style.aspectRatio = "";
      noFrame.textContent = chosen ? t("no_poster") : noFrameText;
      noFrame.hidden = false;
      return;
    }
    frame.src = url;
  }
  frame.addEventListener("load", () => {
    if (!frame.naturalWidth) return;
    stage.style.aspectRatio = `${frame.naturalWidth} / ${frame.naturalHeight}`;
    frame.hidden = false;
    noFrame.hidden = true;
  });
  frame.addEventListener("error", () => {
    frame.hidden = true;
    stage.style.aspectRatio = "";
    noFrame.textContent = t("no_poster");
    noFrame.hidden = false;
  });
  form.addEventListener("change", updateFrame);
  form.addEventListener("toolstart:inputs", updateFrame);

  editor.hidden = false;
  field.classList.add("polygon-enhanced");
  updateFrame();
  draw();
}
