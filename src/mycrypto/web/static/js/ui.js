// Shared UI pieces: screen-reader announcements, per-form status lines, error text, polling, tabs.
import { ApiError } from "./api.js";
import { h } from "./dom.js";

// Polite announcements (order placed, trade executed) go to the page-wide live region; errors that
// need attention go to the assertive one. Both exist in index.html before any update, as live
// regions must, so screen readers pick the changes up.
export function announce(message, { assertive = false } = {}) {
  const region = document.getElementById(assertive ? "alert-announcer" : "announcer");
  if (!region) return;
  region.textContent = "";
  // A new text node a tick later makes repeated identical messages be read again.
  setTimeout(() => { region.textContent = message; }, 30);
}

export function errorText(exc) {
  if (exc instanceof ApiError) {
    const field = exc.details && exc.details.field ? ` (${exc.details.field})` : "";
    return `${exc.message}${field}`;
  }
  if (exc && exc.message) return exc.message;
  return "Something went wrong.";
}

// A status line under a form: role=status (polite) for progress and success, role=alert for errors.
export function statusLine() {
  const el = h("div", { class: "status-line", role: "status", "aria-live": "polite" });
  return {
    el,
    info(text) { el.className = "status-line info"; el.textContent = text; },
    ok(text) { el.className = "status-line ok"; el.textContent = text; },
    error(exc) {
      el.className = "status-line error";
      el.textContent = "";
      const text = typeof exc === "string" ? exc : errorText(exc);
      el.append(h("span", { class: "status-icon", "aria-hidden": "true" }, "⚠ "), `Error: ${text}`);
      if (exc instanceof ApiError && exc.code) el.append(h("span", { class: "error-code" }, ` [${exc.code}]`));
    },
    clear() { el.className = "status-line"; el.textContent = ""; },
  };
}

// Runs `fn` now and every `ms` while the tab is visible; returns a stop function. Errors are passed
// to `onError` (the next tick tries again), never thrown into the void.
export function poll(fn, ms, onError = () => {}) {
  let timer = null;
  let stopped = false;
  let running = false;
  const tick = async () => {
    if (stopped) return;
    if (!document.hidden && !running) {
      running = true;
      try {
        await fn();
      } catch (exc) {
        if (!(exc && exc.name === "AbortError")) onError(exc);
      } finally {
        running = false;
      }
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  const onVisible = () => { if (!document.hidden && !stopped) { clearTimeout(timer); tick(); } };
  document.addEventListener("visibilitychange", onVisible);
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener("visibilitychange", onVisible);
  };
}

// WAI-ARIA tabs: arrow keys move between tabs, Home/End jump, the panel follows the selection.
// tabs: [{id, label, render(panel)}]. Returns {el, select(id)}.
export function tabs(name, items, onSelect = () => {}) {
  const list = h("div", { role: "tablist", "aria-label": name, class: "tablist" });
  const panels = h("div", { class: "tabpanels" });
  const buttons = [];
  const panelEls = [];
  items.forEach((item, i) => {
    const tabId = `tab-${name.replace(/\W+/g, "-").toLowerCase()}-${item.id}`;
    const panelId = `${tabId}-panel`;
    const btn = h("button", {
      type: "button", role: "tab", id: tabId, "aria-controls": panelId, "aria-selected": "false",
      tabindex: "-1", class: "tab",
    }, item.label);
    const panel = h("div", { role: "tabpanel", id: panelId, "aria-labelledby": tabId, tabindex: "0", hidden: true });
    btn.addEventListener("click", () => select(item.id));
    btn.addEventListener("keydown", (ev) => {
      let next = null;
      if (ev.key === "ArrowRight") next = (i + 1) % items.length;
      else if (ev.key === "ArrowLeft") next = (i - 1 + items.length) % items.length;
      else if (ev.key === "Home") next = 0;
      else if (ev.key === "End") next = items.length - 1;
      if (next !== null) {
        ev.preventDefault();
        select(items[next].id);
        buttons[next].focus();
      }
    });
    buttons.push(btn);
    panelEls.push(panel);
    list.append(btn);
    panels.append(panel);
  });
  function select(id) {
    items.forEach((item, i) => {
      const on = item.id === id;
      buttons[i].setAttribute("aria-selected", on ? "true" : "false");
      buttons[i].tabIndex = on ? 0 : -1;
      panelEls[i].hidden = !on;
    });
    onSelect(id);
  }
  items.forEach((item, i) => item.render(panelEls[i]));
  select(items[0].id);
  return { el: h("div", { class: "tabs" }, list, panels), select };
}

// Buy/sell are never told by colour alone: the word is always there, the colour only repeats it.
export function sideBadge(side) {
  const buy = side === "buy";
  return h("span", { class: buy ? "side side-buy" : "side side-sell" }, buy ? "Buy" : "Sell");
}

export function statusBadge(status) {
  return h("span", { class: `badge badge-${String(status).replace(/[^a-z_]/g, "")}` }, String(status).replace(/_/g, " "));
}

export function copyButton(text, label = "Copy") {
  const btn = h("button", { type: "button", class: "btn-small" }, label);
  btn.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      announce("Copied to the clipboard.");
      btn.textContent = "Copied";
      setTimeout(() => { btn.textContent = label; }, 1500);
    } catch {
      announce("Copying is not allowed here; select the text and copy it by hand.", { assertive: true });
    }
  });
  return btn;
}

export function section(title, ...children) {
  const id = `h-${title.replace(/\W+/g, "-").toLowerCase()}`;
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

export function pageTitle(text) {
  return h("h1", { tabindex: "-1", class: "page-title" }, text);
}
