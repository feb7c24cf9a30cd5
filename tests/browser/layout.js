// In-page layout audit used by the viewport tests (evaluated by Playwright; never shipped).
// Returns a list of problems a person would see at this window size:
//  - the page scrolls sideways;
//  - an element's box sticks out of its container (the panel/section/form/main/header it sits in);
//  - content is cut off by an element that hides its overflow;
//  - a scrolling box scrolls sideways where it must not (`wideTablesMayScroll` allows the
//    `.table-wrap` pattern, wide tables scrolling inside their panel, on phones and tablets);
//  - two pieces of text overlap each other;
//  - text drawn on a canvas overlaps other text on it or is cut off at its edge (the labels come from
//    canvas_labels.js, an init script that records every fillText).
({ wideTablesMayScroll }) => {
  const problems = [];
  const TOL = 1; // px: sub-pixel rounding is not a fault
  const describe = (el) => {
    const cls = [...el.classList].slice(0, 2).map((c) => "." + c).join("");
    const label = (el.getAttribute("aria-label") || el.textContent || "").replace(/\s+/g, " ").trim().slice(0, 30);
    return `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${cls}${label ? ` "${label}"` : ""}`;
  };
  const hiddenByDesign = (el) => Boolean(el.closest(".visually-hidden, [hidden], .skip-link, option, select, script, style, template, head"));
  const shown = (el) => {
    if (hiddenByDesign(el)) return false;
    // false inside a closed <details> too (its content keeps boxes there but is never painted)
    if (el.checkVisibility && !el.checkVisibility({ visibilityProperty: true })) return false;
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    return s.display !== "none" && s.visibility !== "hidden" && r.width > 0 && r.height > 0;
  };
  const scrolls = (s) => s === "auto" || s === "scroll";
  const clips = (s) => s === "hidden" || s === "clip";

  // 1. Sideways scrolling of the whole page.
  if (document.documentElement.scrollWidth > window.innerWidth + TOL) {
    problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth}px content in a ${window.innerWidth}px window`);
  }

  const elements = [...document.body.querySelectorAll("*")].filter(shown);
  const stickingOut = new Set(); // reported once: the outermost box that sticks out, not everything inside it
  const CONTAINERS = ".panel, main, header, footer, section, form, fieldset, dialog, nav, td, th";
  for (const el of elements) {
    const s = getComputedStyle(el);
    const tag = el.tagName;
    // 2. Boxes that stick out of their container (unless a scrolling box in between shows them by scrolling).
    const container = el.parentElement && el.parentElement.closest(CONTAINERS);
    if (container && s.position !== "fixed") {
      let scroller = el.parentElement;
      while (scroller && scroller !== container && !scrolls(getComputedStyle(scroller).overflowX)) scroller = scroller.parentElement;
      if (scroller === container || !scroller) {
        const r = el.getBoundingClientRect();
        const c = container.getBoundingClientRect();
        const out = [r.left < c.left - TOL && `${Math.round(c.left - r.left)}px left`,
          r.right > c.right + TOL && `${Math.round(r.right - c.right)}px right`,
          r.bottom > c.bottom + TOL && `${Math.round(r.bottom - c.bottom)}px below`].filter(Boolean);
        if (out.length) {
          if (!stickingOut.has(el.parentElement)) problems.push(`${describe(el)} sticks out of ${describe(container)} by ${out.join(", ")}`);
          stickingOut.add(el);
        }
      }
    }
    // 3. Content cut off, and 4. boxes scrolling sideways.
    if (["INPUT", "TEXTAREA", "SELECT", "CANVAS", "IMG", "svg"].includes(tag) || el.clientWidth === 0) continue;
    const wider = el.scrollWidth - el.clientWidth;
    const taller = el.scrollHeight - el.clientHeight;
    if ((clips(s.overflowX) && wider > TOL) || (clips(s.overflowY) && taller > TOL)) {
      problems.push(`${describe(el)} cuts off its content (${el.scrollWidth}x${el.scrollHeight} in ${el.clientWidth}x${el.clientHeight})`);
    } else if (scrolls(s.overflowX) && wider > TOL && !(wideTablesMayScroll && el.matches(".table-wrap"))) {
      problems.push(`${describe(el)} scrolls sideways (${el.scrollWidth}px content in ${el.clientWidth}px)`);
    }
  }

  // 5. Text on text: every line box of every visible text node, compared with every other one.
  const boxes = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!node.textContent.trim() || !parent || !shown(parent)) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) {
      if (r.width > 0.5 && r.height > 0.5) boxes.push({ r, node, text: node.textContent.trim().slice(0, 30) });
    }
  }
  boxes.sort((a, b) => a.r.top - b.r.top);
  for (let i = 0; i < boxes.length; i++) {
    const a = boxes[i];
    for (let j = i + 1; j < boxes.length && boxes[j].r.top < a.r.bottom - TOL; j++) {
      const b = boxes[j];
      if (a.node === b.node) continue;
      const w = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
      const h = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
      if (w > TOL && h > TOL) problems.push(`text "${a.text}" overlaps text "${b.text}"`);
    }
  }

  // 6. Canvas text: labels overlapping each other or cut off at the canvas' edge.
  for (const canvas of document.querySelectorAll("canvas")) {
    if (!shown(canvas)) continue;
    const labels = window.__canvasLabels ? window.__canvasLabels(canvas) : [];
    const name = describe(canvas);
    for (const [i, a] of labels.entries()) {
      if (a.left < -TOL || a.top < -TOL || a.right > canvas.clientWidth + TOL || a.bottom > canvas.clientHeight + TOL) {
        problems.push(`${name}: label "${a.text}" is cut off at the edge (${Math.round(a.left)}..${Math.round(a.right)} of ${canvas.clientWidth}px)`);
      }
      for (const b of labels.slice(i + 1)) {
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > 0 && h > 0) problems.push(`${name}: label "${a.text}" overlaps label "${b.text}"`);
      }
    }
  }
  return problems;
}
