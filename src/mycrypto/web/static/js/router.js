// Client-side routing with the History API. The server answers index.html for every /app/... path,
// so deep links and reloads work. Each page module exports `render(ctx)` which may return a cleanup
// function (stop polling, abort requests) called when the user leaves the page.

const routes = [];
let current = { cleanup: null, token: 0 };
let onRender = () => {};
let onShown = () => {};

export function route(pattern, options) {
  const names = [];
  const regex = new RegExp(`^${pattern.replace(/:([a-z]+)/g, (_, n) => { names.push(n); return "([^/]+)"; })}/?$`);
  routes.push({ regex, names, ...options });
}

export function match(pathname) {
  for (const r of routes) {
    const m = r.regex.exec(pathname);
    if (m) {
      const params = {};
      r.names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
      return { route: r, params };
    }
  }
  return null;
}

export function setRenderer(fn) {
  onRender = fn;
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState({}, "", path);
  else history.pushState({}, "", path);
  return render({ focus: true });
}

export async function render({ focus = false } = {}) {
  if (typeof current.cleanup === "function") {
    try { current.cleanup(); } catch { /* a page's cleanup must not block navigation */ }
  }
  current.cleanup = null;
  current.token += 1;
  const token = current.token;
  const url = new URL(location.href);
  onShown(url.pathname + url.search);
  const found = match(url.pathname);
  const cleanup = await onRender(found, url, { focus, isCurrent: () => token === current.token });
  if (token === current.token) current.cleanup = cleanup;
  else if (typeof cleanup === "function") cleanup();
}

// Same-origin links into the app are handled here (no full reload); modified clicks, downloads,
// targets and links outside /app (API files, the dev mailbox) are left to the browser.
export function interceptLinks() {
  document.addEventListener("click", (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = ev.target.closest("a[href]");
    if (!a || a.target || a.hasAttribute("download")) return;
    const url = new URL(a.href, location.href);
    // In-page anchors (the skip link) are the browser's job: it moves focus to the target.
    if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
    if (url.origin !== location.origin || !(url.pathname === "/" || url.pathname.startsWith("/app"))) return;
    ev.preventDefault();
    if (url.pathname + url.search !== location.pathname + location.search) navigate(url.pathname + url.search + url.hash);
  });
  // A fragment change (the skip link) fires popstate too; only a new path or query re-renders.
  let shown = location.pathname + location.search;
  window.addEventListener("popstate", () => {
    const now = location.pathname + location.search;
    if (now === shown) return;
    shown = now;
    render({ focus: true });
  });
  onShown = (path) => { shown = path; };
}
