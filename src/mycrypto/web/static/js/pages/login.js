// Sign in: email + password, then (only when the account has 2FA) a second step asking for the code.
import { ApiError } from "../api.js";
import { field, h } from "../dom.js";
import { announce, pageTitle, statusLine } from "../ui.js";

// Only app-internal paths are accepted as ?next= (no open redirect to another site).
export function safeNext(value) {
  if (!value || !value.startsWith("/") || value.startsWith("//") || value.includes("\\")) return "/app/markets";
  if (value.startsWith("/app/login") || value.startsWith("/app/register")) return "/app/markets";
  return value;
}

export function render({ main, query, session, navigate }) {
  const status = statusLine();
  const email = field({ label: "Email", name: "email", type: "email", required: true,
    attrs: { autocomplete: "username", maxlength: 320 } });
  const password = field({ label: "Password", name: "password", type: "password", required: true,
    attrs: { autocomplete: "current-password", maxlength: 1024 } });
  const code = field({ label: "Two-factor code", name: "totp_code", hint: "The 6-digit code from your authenticator app, or one of your recovery codes.",
    attrs: { autocomplete: "one-time-code", inputmode: "text", maxlength: 32, spellcheck: "false" } });
  code.wrap.hidden = true;
  const submit = h("button", { type: "submit", class: "btn-primary" }, "Sign in");
  const form = h("form", { novalidate: true, "aria-labelledby": "login-title" },
    email.wrap, password.wrap, code.wrap, h("div", { class: "actions" }, submit), status.el);
  const notices = [];
  if (query.get("expired")) notices.push(h("p", { class: "notice warn" }, "Your session ended. Please sign in again."));
  if (query.get("verified")) notices.push(h("p", { class: "notice" }, "Your email address is confirmed. Sign in to continue."));
  if (query.get("reset")) notices.push(h("p", { class: "notice" }, "Your password was changed. Sign in with the new one."));
  const title = pageTitle("Sign in");
  title.id = "login-title";
  main.append(h("div", { class: "narrow" }, title, ...notices, h("section", { class: "panel" }, form),
    h("p", {}, h("a", { href: "/app/forgot-password" }, "Forgot your password?")),
    h("p", {}, "New here? ", h("a", { href: "/app/register" }, "Create an account"))));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    email.error(null);
    password.error(null);
    code.error(null);
    if (!email.input.value.trim()) { email.error("Enter your email address."); email.input.focus(); return; }
    if (!password.input.value) { password.error("Enter your password."); password.input.focus(); return; }
    if (!code.wrap.hidden && !code.input.value.trim()) { code.error("Enter the code from your authenticator app."); code.input.focus(); return; }
    submit.disabled = true;
    status.info("Signing in…");
    try {
      await session.login(email.input.value.trim(), password.input.value, code.wrap.hidden ? null : code.input.value.trim());
      status.ok("Signed in.");
      announce("Signed in.");
      navigate(safeNext(query.get("next")), { replace: true });
    } catch (exc) {
      if (exc instanceof ApiError && exc.code === "totp_required") {
        code.wrap.hidden = false;
        status.info("This account uses two-factor authentication: enter the code from your app.");
        code.input.focus();
      } else if (exc instanceof ApiError && exc.code === "invalid_totp") {
        code.wrap.hidden = false;
        code.error(exc.message);
        status.error(exc);
        code.input.focus();
      } else {
        status.error(exc);
      }
    } finally {
      submit.disabled = false;
    }
  });
  email.input.focus();
}
