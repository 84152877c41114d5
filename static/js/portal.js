// AI Studio Partner Portal: small progressive enhancements. Every page works without this file.
//  - <form data-confirm="Question?">: ask before submitting (also on a submit button's data-confirm).
//  - <button data-copy="#selector"> / <button data-copy-text="…">: copy to the clipboard.
//  - <button data-print>: print the page.
// Buttons that need JavaScript are rendered with `hidden` and revealed here.

const live = document.createElement("div");
live.className = "visually-hidden";
live.setAttribute("role", "status");
live.setAttribute("aria-live", "polite");
document.body.append(live);

function announce(text) {
  live.textContent = "";
  // A fresh text node after a tick makes screen readers repeat identical messages.
  window.setTimeout(() => { live.textContent = text; }, 50);
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const question = event.submitter?.dataset.confirm || form.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

function textToCopy(button) {
  if (button.dataset.copyText !== undefined) return button.dataset.copyText;
  const target = document.querySelector(button.dataset.copy);
  if (!target) return "";
  if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return target.value;
  const items = target.querySelectorAll("li");
  if (items.length) return Array.from(items, (li) => li.textContent.trim()).join("\n");
  return target.textContent.trim();
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No async clipboard (plain http on a LAN address): select and fall back to execCommand.
    const target = button.dataset.copy ? document.querySelector(button.dataset.copy) : null;
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch { ok = false; }
    area.remove();
    if (!ok && target && typeof target.select === "function") target.select();
    button.focus();
    return ok;
  }
}

for (const button of document.querySelectorAll("[data-copy], [data-copy-text]")) {
  const label = button.textContent;
  button.hidden = false;
  button.addEventListener("click", async () => {
    const ok = await copy(textToCopy(button), button);
    const done = button.dataset.copiedLabel || "Copied";
    if (ok) {
      button.textContent = `${done} ✓`;
      announce(done);
      window.setTimeout(() => { button.textContent = label; }, 2500);
    }
  });
}

for (const button of document.querySelectorAll("[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
