// Building DOM nodes without innerHTML: every text goes in as a text node, so data from the API or
// the user can never become markup (and no inline handlers: the CSP forbids them anyway).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    } else if (key === "text") {
      el.textContent = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "value" && "value" in el) {
      el.value = value;
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

let counter = 0;
export function uid(prefix = "id") {
  counter += 1;
  return `${prefix}-${counter}`;
}

// A labelled form field: <div class=field><label for=..>..</label><input id=..><p id=hint></p><p id=err></p></div>.
// Returns {wrap, input, error(msg)} - error() sets aria-invalid and the message the input points at.
export function field({ label, name, type = "text", hint, required = false, attrs = {}, control }) {
  const id = uid(name || "f");
  const hintId = hint ? `${id}-hint` : null;
  const errId = `${id}-error`;
  const input = control || h("input", { type, name, id, required, ...attrs });
  input.id = id;
  if (name) input.name = name;
  if (required) input.required = true;
  const described = [hintId, errId].filter(Boolean).join(" ");
  input.setAttribute("aria-describedby", described);
  const hintEl = hint ? h("p", { class: "hint", id: hintId }, hint) : null;
  const errEl = h("p", { class: "field-error", id: errId, hidden: true });
  const wrap = h("div", { class: "field" }, h("label", { for: id }, label), input, hintEl, errEl);
  return {
    wrap, input, hintEl,
    error(message) {
      if (message) {
        errEl.textContent = message;
        errEl.hidden = false;
        input.setAttribute("aria-invalid", "true");
      } else {
        errEl.textContent = "";
        errEl.hidden = true;
        input.removeAttribute("aria-invalid");
      }
    },
  };
}

export function select({ label, name, options, value, hint, attrs = {} }) {
  const control = h("select", { name, ...attrs },
    options.map((o) => {
      const [v, text] = Array.isArray(o) ? o : [o, o];
      return h("option", { value: v, selected: v === value }, text);
    }));
  return field({ label, name, hint, control });
}

export function button(text, onClick, attrs = {}) {
  return h("button", { type: "button", onclick: onClick, ...attrs }, text);
}

export function table({ caption, columns, rows, empty = "Nothing yet.", captionHidden = false }) {
  const head = h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label))));
  const body = h("tbody", {});
  if (!rows.length) {
    body.append(h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, empty)));
  }
  for (const row of rows) {
    body.append(h("tr", {}, columns.map((c, i) => {
      const cell = c.render ? c.render(row) : row[c.key];
      const tag = i === 0 && c.rowHeader ? "th" : "td";
      return h(tag, { class: c.num ? "num" : c.cls || null, scope: tag === "th" ? "row" : null }, cell);
    })));
  }
  const tableEl = h("table", {}, h("caption", { class: captionHidden ? "visually-hidden" : null }, caption), head, body);
  const wrap = h("div", { class: "table-wrap", dataset: { caption } }, tableEl);
  scrollWatch.observe(wrap);
  scrollWatch.observe(tableEl);
  return wrap;
}

// A table wider than its panel scrolls sideways (phones): keyboard users must be able to scroll it
// too, so such a wrapper becomes a focusable, named region - and stops being one when it fits again.
const scrollWatch = new ResizeObserver((entries) => {
  for (const entry of entries) {
    const wrap = entry.target.classList.contains("table-wrap") ? entry.target : entry.target.parentElement;
    if (!wrap || !wrap.classList.contains("table-wrap")) continue;
    if (wrap.scrollWidth > wrap.clientWidth + 1) {
      wrap.setAttribute("tabindex", "0");
      wrap.setAttribute("role", "region");
      wrap.setAttribute("aria-label", `${wrap.dataset.caption} (scrolls sideways)`);
    } else if (wrap.hasAttribute("tabindex")) {
      wrap.removeAttribute("tabindex");
      wrap.removeAttribute("role");
      wrap.removeAttribute("aria-label");
    }
  }
});

export function time(ms) {
  if (ms === null || ms === undefined) return "—";
  const date = typeof ms === "number" ? new Date(ms) : new Date(ms);
  if (Number.isNaN(date.getTime())) return String(ms);
  return h("time", { datetime: date.toISOString() }, date.toLocaleString());
}

export function shortTime(ms) {
  const date = new Date(ms);
  return h("time", { datetime: date.toISOString() }, date.toLocaleTimeString());
}
