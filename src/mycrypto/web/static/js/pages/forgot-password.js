// Forgot password: ask for the email; the answer is the same whether or not the account exists.
import { post } from "../api.js";
import { field, h } from "../dom.js";
import { pageTitle, statusLine } from "../ui.js";

export function render({ main, session }) {
  const status = statusLine();
  const email = field({ label: "Email", name: "email", type: "email", required: true, attrs: { autocomplete: "email", maxlength: 320 } });
  const submit = h("button", { type: "submit", class: "btn-primary" }, "Send reset link");
  const form = h("form", { novalidate: true }, email.wrap, h("div", { class: "actions" }, submit), status.el);
  const cfg = session.state.config;
  main.append(h("div", { class: "narrow" }, pageTitle("Forgot password"),
    h("p", { class: "muted" }, "Enter your email address and we will send a link to choose a new password."),
    h("section", { class: "panel", "aria-label": "Reset request" }, form),
    cfg.mailbox_url ? h("p", { class: "notice" }, "Development: read the email in the ", h("a", { href: cfg.mailbox_url }, "dev mailbox"), ".") : null,
    h("p", {}, h("a", { href: "/app/login" }, "Back to sign in"))));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    email.error(null);
    const address = email.input.value.trim();
    if (!address.includes("@")) { email.error("Enter your email address."); email.input.focus(); return; }
    submit.disabled = true;
    try {
      const r = await post("/api/v1/auth/forgot-password", { email: address }, { retry: false });
      status.ok(r.message);
    } catch (exc) {
      status.error(exc);
    } finally {
      submit.disabled = false;
    }
  });
  email.input.focus();
}
