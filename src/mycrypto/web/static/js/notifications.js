// In-app notifications of price alerts that fired (docs/alerts.md, docs/frontend.md "Alerts"):
// a toast, an unread badge on the header's "Notifications" button and a list of the latest firings.
//
// Firings arrive on the private `alerts` stream while the socket is live; only while it is not, the
// alert history (GET /api/v1/trade/alerts/history) is polled. Each time the stream comes (back) up the
// history is read once, so a firing during a disconnect is still shown - exactly once (by history id).
import { get } from "./api.js";
import { format } from "./decimal.js";
import { h, replace, shortTime } from "./dom.js";
import * as live from "./live.js";
import { announce } from "./ui.js";

const KEEP = 20;
const POLL_MS = 10000;
const TOAST_MS = 10000;

const items = [];          // newest first
const seen = new Set();    // history ids already shown (or present before we started)
const listeners = new Set();
let unread = 0;
let primed = false;
let stop = null;
let button = null;
let panel = null;
let list = null;
let count = null;

// The alerts page refreshes its tables when something fires.
export function onFiring(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function toastRegion() {
  let region = document.getElementById("toasts");
  if (!region) {
    region = h("div", { id: "toasts", class: "toasts" });
    document.body.append(region);
  }
  return region;
}

function text(e) {
  const price = e.price ? ` at ${format(e.price)}` : "";
  return `Alert: ${e.description || e.symbol}${price}.${e.note ? ` ${e.note}` : ""}`;
}

function toast(e) {
  const close = h("button", { type: "button", class: "btn-small", "aria-label": "Dismiss notification" }, "Dismiss");
  const el = h("div", { class: "toast", dataset: { historyId: String(e.id) } },
    h("p", {}, h("strong", {}, "Alert triggered "), text(e).replace(/^Alert: /, "")),
    h("div", { class: "actions" }, h("a", { href: "/app/alerts" }, "View alerts"), close));
  const remove = () => el.remove();
  close.addEventListener("click", remove);
  // A toast the pointer or keyboard is on stays until it is left (people read at their own pace).
  let timer = setTimeout(remove, TOAST_MS);
  el.addEventListener("mouseenter", () => clearTimeout(timer));
  el.addEventListener("focusin", () => clearTimeout(timer));
  el.addEventListener("mouseleave", () => { timer = setTimeout(remove, TOAST_MS); });
  toastRegion().append(el);
}

function normalise(d) {
  // The stream's data is the firing event (docs/alerts.md "Delivery"); the history item has the same
  // fields with `id` for `history_id`.
  const e = d && d.event ? d.event : d;
  if (!e) return null;
  return { ...e, id: e.history_id ?? e.id };
}

function fired(raw, { quiet = false } = {}) {
  const e = normalise(raw);
  if (!e || e.id === undefined || e.id === null || seen.has(e.id)) return;
  seen.add(e.id);
  items.unshift(e);
  items.length = Math.min(items.length, KEEP);
  if (quiet) return;
  unread += 1;
  toast(e);
  announce(text(e), { assertive: true });
  renderButton();
  renderList();
  for (const fn of listeners) {
    try { fn(e); } catch { /* the page's problem */ }
  }
}

async function catchUp() {
  const page = await get("/api/v1/trade/alerts/history?limit=20");
  const fresh = page.items.slice().reverse();
  // The first read only records what happened before this visit: old firings are history, not news.
  for (const e of fresh) fired(e, { quiet: !primed });
  primed = true;
}

function renderButton() {
  if (!button) return;
  count.textContent = unread ? String(unread) : "";
  count.hidden = unread === 0;
  button.setAttribute("aria-label", unread ? `Notifications, ${unread} unread` : "Notifications");
}

function renderList() {
  if (!list) return;
  replace(list, items.length
    ? items.map((e) => h("li", {}, e.time ? shortTime(e.time) : null, " ", text(e).replace(/^Alert: /, "")))
    : h("li", { class: "muted" }, "No alert has fired during this visit."));
}

function setOpen(open) {
  panel.hidden = !open;
  button.setAttribute("aria-expanded", open ? "true" : "false");
  if (open) {
    unread = 0;
    renderButton();
    renderList();
  }
}

// The header's button and its drop-down list (a disclosure: Escape closes it, focus returns).
export function headerButton() {
  if (!button) {
    count = h("span", { class: "count-badge", "aria-hidden": "true", hidden: true });
    button = h("button", { type: "button", class: "btn-small notif-button", id: "notifications-button",
      "aria-expanded": "false", "aria-controls": "notifications-panel" }, "Notifications", count);
    list = h("ul", { class: "notif-list" });
    panel = h("div", { class: "notif-panel", id: "notifications-panel", hidden: true },
      h("p", { class: "notif-title" }, "Alerts that fired"), list,
      h("p", {}, h("a", { href: "/app/alerts" }, "All alerts and their history")));
    button.addEventListener("click", () => setOpen(panel.hidden));
    panel.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") { setOpen(false); button.focus(); }
    });
    panel.addEventListener("click", (ev) => { if (ev.target.closest("a")) setOpen(false); });
    renderButton();
    renderList();
  }
  return h("div", { class: "notif-wrap" }, button, panel);
}

// Signed in: listen for firings (stream, or polling while the stream is down).
export function start() {
  if (stop) return;
  stop = live.liveOrPoll("alerts", { refresh: catchUp, apply: (d) => fired(d), ms: POLL_MS });
}

export function stopAll() {
  if (stop) { stop(); stop = null; }
  items.length = 0;
  seen.clear();
  unread = 0;
  primed = false;
  renderButton();
  renderList();
  if (panel) setOpen(false);
}
