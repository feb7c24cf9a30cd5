// The web app's entry point: the header, the routes and the page frame. See docs/frontend.md.
import { h, replace } from "./dom.js";
import { interceptLinks, navigate, render, route, setRenderer } from "./router.js";
import * as live from "./live.js";
import * as notifications from "./notifications.js";
import * as session from "./session.js";
import { announce } from "./ui.js";

const PAGES = {
  markets: () => import("./pages/markets.js"),
  trade: () => import("./pages/trade.js"),
  wallet: () => import("./pages/wallet.js"),
  alerts: () => import("./pages/alerts.js"),
  account: () => import("./pages/account.js"),
  admin: () => import("./pages/admin.js"),
  login: () => import("./pages/login.js"),
  register: () => import("./pages/register.js"),
  checkEmail: () => import("./pages/check-email.js"),
  verifyEmail: () => import("./pages/verify-email.js"),
  forgot: () => import("./pages/forgot-password.js"),
  reset: () => import("./pages/reset-password.js"),
  notFound: () => import("./pages/not-found.js"),
};

route("/", { page: "markets", title: "Markets" });
route("/app", { page: "markets", title: "Markets" });
route("/app/markets", { page: "markets", title: "Markets" });
route("/app/trade", { page: "trade", title: "Trade" });
route("/app/trade/:symbol", { page: "trade", title: "Trade" });
route("/app/wallet", { page: "wallet", title: "Wallet", auth: true });
route("/app/alerts", { page: "alerts", title: "Price alerts", auth: true });
route("/app/account", { page: "account", title: "Account and security", auth: true });
route("/app/admin", { page: "admin", title: "Administration", auth: true, admin: true });
route("/app/login", { page: "login", title: "Sign in", guest: true });
route("/app/register", { page: "register", title: "Create an account", guest: true });
route("/app/check-email", { page: "checkEmail", title: "Check your email" });
route("/app/verify-email", { page: "verifyEmail", title: "Confirm your email" });
route("/app/forgot-password", { page: "forgot", title: "Forgot password" });
route("/app/reset-password", { page: "reset", title: "Choose a new password" });

const main = document.getElementById("main");
const navList = document.getElementById("nav-list");
const userArea = document.getElementById("user-area");

function navLink(href, text, active) {
  return h("li", {}, h("a", { href, "aria-current": active ? "page" : null }, text));
}

function renderHeader() {
  const path = location.pathname;
  const user = session.state.user;
  const links = [
    navLink("/app/markets", "Markets", path === "/" || path === "/app" || path.startsWith("/app/markets")),
    navLink("/app/trade", "Trade", path.startsWith("/app/trade")),
  ];
  if (user) {
    links.push(navLink("/app/wallet", "Wallet", path.startsWith("/app/wallet")));
    links.push(navLink("/app/alerts", "Alerts", path.startsWith("/app/alerts")));
    links.push(navLink("/app/account", "Account", path.startsWith("/app/account")));
    if (session.isAdmin()) links.push(navLink("/app/admin", "Admin", path.startsWith("/app/admin")));
  }
  replace(navList, links);
  if (user) {
    const out = h("button", { type: "button", class: "btn-link", id: "sign-out" }, "Sign out");
    out.addEventListener("click", async () => {
      await session.logout();
      announce("You are signed out.");
      navigate("/app/login");
    });
    replace(userArea, notifications.headerButton(),
      h("span", { class: "user-email" }, h("span", { class: "visually-hidden" }, "Signed in as "), user.email), out);
  } else {
    replace(userArea,
      h("a", { href: `/app/login`, class: "btn-link" }, "Sign in"),
      h("a", { href: "/app/register", class: "btn btn-primary" }, "Sign up"));
  }
  const banner = document.getElementById("env-banner");
  const cfg = session.state.config;
  const parts = [];
  if (cfg.dev_tools) {
    parts.push(`Development environment (${cfg.env}): test funds only. `);
    if (cfg.mailbox_url) parts.push(h("a", { href: cfg.mailbox_url }, "Open the dev mailbox"), ". ");
  }
  if (user && !user.email_verified) parts.push("Your email address is not confirmed yet: check your inbox.");
  if (banner) {
    banner.hidden = parts.length === 0;
    replace(banner, parts);
  }
}

async function renderPage(found, url, { focus, isCurrent }) {
  renderHeader();
  let spec = found ? found.route : { page: "notFound", title: "Page not found" };
  const params = found ? found.params : {};
  const user = session.state.user;
  if (spec.auth && !user) {
    const next = encodeURIComponent(url.pathname + url.search);
    history.replaceState({}, "", `/app/login?next=${next}`);
    renderHeader();
    spec = { page: "login", title: "Sign in" };
  } else if (spec.guest && user) {
    history.replaceState({}, "", "/app/markets");
    renderHeader();
    spec = { page: "markets", title: "Markets" };
  } else if (spec.admin && !session.isAdmin()) {
    spec = { page: "notFound", title: "Administrators only", forbidden: true };
  }
  document.title = `${spec.title} - MyCrypto`;
  replace(main, h("p", { class: "loading", role: "status" }, "Loading…"));
  let mod;
  try {
    mod = await PAGES[spec.page]();
  } catch (exc) {
    replace(main, h("h1", { tabindex: "-1" }, "The page failed to load"), h("p", {}, String(exc)));
    return null;
  }
  if (!isCurrent()) return null;
  replace(main);
  const ctx = {
    main, params, query: new URLSearchParams(url.search), session, navigate, spec,
    setTitle(text) { document.title = `${text} - MyCrypto`; },
  };
  const cleanup = await mod.render(ctx);
  if (focus && isCurrent()) {
    const heading = main.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: false });
    }
    announce(`${document.title.replace(/ - MyCrypto$/, "")} page`);
  }
  return cleanup;
}

// The stream connection's state, visible to everyone using a live screen (docs/frontend.md).
const CONNECTION_TEXT = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", resyncing: "Resyncing…" };
function showConnection(state) {
  const el = document.getElementById("conn-state");
  if (!el) return;
  const text = CONNECTION_TEXT[state];
  el.hidden = !text;
  el.dataset.state = state;
  if (text && el.textContent !== text) el.textContent = text;
}

// Private streams and alert notifications follow the signed-in user; the socket is re-opened on a
// change because the server authenticates it at the handshake (by the session cookie).
let streamUser = null;
function followUser() {
  const id = session.state.user ? session.state.user.id ?? session.state.user.email : null;
  if (id === streamUser) return;
  streamUser = id;
  live.restart();
  if (id !== null) notifications.start(); else notifications.stopAll();
}

async function start() {
  setRenderer(renderPage);
  interceptLinks();
  live.onState(showConnection);
  session.onChange(() => { renderHeader(); followUser(); });
  window.addEventListener("mc:signed-out", () => {
    const wasSignedIn = Boolean(session.state.user);
    session.signedOut();
    if (wasSignedIn) {
      announce("Your session ended. Please sign in again.", { assertive: true });
      const here = location.pathname + location.search;
      if (!here.startsWith("/app/login")) navigate(`/app/login?next=${encodeURIComponent(here)}&expired=1`, { replace: true });
    }
  });
  await Promise.all([session.loadConfig(), session.loadUser().catch(() => null)]);
  live.enable(session.state.config.live);
  followUser();
  await render({ focus: false });
  document.documentElement.dataset.ready = "true";
}

start();
