// In-page accessibility audit used by the browser tests (evaluated by Playwright; never shipped).
// Returns a list of problems: unnamed controls, images without alt, broken ARIA references,
// duplicate ids, heading-level jumps, missing landmarks, positive tabindex, low text contrast.
() => {
  const problems = [];
  const visible = (el) => {
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    return s.visibility !== "hidden" && s.display !== "none" && (r.width > 0 || r.height > 0) && !el.closest("[hidden]");
  };
  const text = (el) => (el ? (el.textContent || "").replace(/\s+/g, " ").trim() : "");
  const nameOf = (el) => {
    const by = el.getAttribute("aria-labelledby");
    if (by) return by.split(/\s+/).map((id) => text(document.getElementById(id))).join(" ").trim();
    const label = el.getAttribute("aria-label");
    if (label && label.trim()) return label.trim();
    if (el.labels && el.labels.length) return Array.from(el.labels).map(text).join(" ").trim();
    if (el.tagName === "BUTTON" || el.tagName === "A") {
      const t = text(el) || Array.from(el.querySelectorAll("img[alt]")).map((i) => i.alt).join(" ");
      if (t) return t;
    }
    if (el.tagName === "IMG") return el.getAttribute("alt") || "";
    return (el.getAttribute("title") || "").trim();
  };
  const describe = (el) => `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${el.name ? "[name=" + el.name + "]" : ""}`;

  // Landmarks.
  for (const [sel, what] of [["header.site-header, [role=banner]", "banner"], ["nav", "navigation"], ["main", "main"], ["footer, [role=contentinfo]", "contentinfo"]]) {
    if (!document.querySelector(sel)) problems.push(`missing landmark: ${what}`);
  }
  if (document.querySelectorAll("main").length !== 1) problems.push("there must be exactly one <main>");
  if (!document.documentElement.lang) problems.push("<html> has no lang");
  if (!document.title.trim()) problems.push("the document has no title");

  // Headings: one h1, no skipped levels.
  const headings = Array.from(document.querySelectorAll("h1,h2,h3,h4,h5,h6")).filter(visible);
  if (headings.filter((h) => h.tagName === "H1").length !== 1) problems.push(`expected one visible h1, found ${headings.filter((h) => h.tagName === "H1").length}`);
  let last = 0;
  for (const h of headings) {
    const level = Number(h.tagName[1]);
    if (last && level > last + 1) problems.push(`heading level jumps from h${last} to h${level}: "${text(h)}"`);
    last = level;
  }

  // Every interactive control has an accessible name.
  const controls = document.querySelectorAll("input:not([type=hidden]), select, textarea, button, a[href], [role=tab], [role=button]");
  for (const el of controls) {
    if (!visible(el) && !(el.type === "radio" || el.type === "checkbox")) continue;
    if (el.closest("[hidden]")) continue;
    if (!nameOf(el)) problems.push(`control without an accessible name: ${describe(el)}`);
  }
  for (const img of document.querySelectorAll("img")) if (!img.hasAttribute("alt")) problems.push(`img without alt: ${img.src}`);
  for (const el of document.querySelectorAll("[role=img]")) if (!nameOf(el)) problems.push(`role=img without a name: ${describe(el)}`);

  // ARIA references point at real ids; ids are unique; no positive tabindex.
  const ids = new Map();
  for (const el of document.querySelectorAll("[id]")) ids.set(el.id, (ids.get(el.id) || 0) + 1);
  for (const [id, n] of ids) if (n > 1) problems.push(`duplicate id: ${id}`);
  for (const attr of ["aria-labelledby", "aria-describedby", "aria-controls"]) {
    for (const el of document.querySelectorAll(`[${attr}]`)) {
      for (const id of el.getAttribute(attr).split(/\s+/).filter(Boolean)) {
        if (!document.getElementById(id)) problems.push(`${attr} of ${describe(el)} points at missing #${id}`);
      }
    }
  }
  for (const el of document.querySelectorAll("[tabindex]")) if (Number(el.getAttribute("tabindex")) > 0) problems.push(`positive tabindex: ${describe(el)}`);
  for (const table of document.querySelectorAll("table")) if (!table.querySelector("th")) problems.push("a table without header cells");

  // Buy/sell are written out, never colour only.
  for (const el of document.querySelectorAll(".side")) if (!/^(Buy|Sell)$/.test(text(el))) problems.push(`side badge without the word: "${text(el)}"`);

  // Text contrast (WCAG AA): 4.5:1, or 3:1 for large text.
  const parse = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null; const p = m[1].split(",").map((x) => parseFloat(x)); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
  const lum = ({ r, g, b }) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a >= 0.95) return c;
    }
    return { r: 13, g: 17, b: 23, a: 1 };
  };
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || seen.has(el) || !visible(el) || el.closest(".visually-hidden, canvas, option, .qr")) continue;
    seen.add(el);
    const s = getComputedStyle(el);
    const fg = parse(s.color);
    if (!fg || parseFloat(s.opacity) < 1) continue;
    const bg = background(el);
    const l1 = lum(fg); const l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) problems.push(`low contrast ${ratio.toFixed(2)}:1 for "${text(el).slice(0, 40)}"`);
  }
  return problems;
}
