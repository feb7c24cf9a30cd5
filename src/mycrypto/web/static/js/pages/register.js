// Sign up: email + password (the auth service enforces the policy; we check length and the repeat).
import { post } from "../api.js";
import { field, h } from "../dom.js";
import { pageTitle, statusLine } from "../ui.js";

export function render({ main, session, navigate }) {
  if (session.state.config.registration_enabled === false) {
    main.append(pageTitle("Create an account"), h("p", { class: "notice warn" }, "Registration is currently closed."));
    return;
  }
  const status = statusLine();
  const email = field({ label: "Email", name: "email", type: "email", required: true,
    attrs: { autocomplete: "email", maxlength: 320 } });
  const password = field({ label: "Password", name: "password", type: "password", required: true,
    hint: "At least 12 characters. A few unrelated words make a strong, memorable password.",
    attrs: { autocomplete: "new-password", minlength: 12, maxlength: 256 } });
  const confirm = field({ label: "Repeat the password", name: "password_confirm", type: "password", required: true,
    attrs: { autocomplete: "new-password", maxlength: 256 } });
  const submit = h("button", { type: "submit", class: "btn-primary" }, "Create account");
  const form = h("form", { novalidate: true }, email.wrap, password.wrap, confirm.wrap,
    h("div", { class: "actions" }, submit), status.el);
  main.append(h("div", { class: "narrow" }, pageTitle("Create an account"), h("section", { class: "panel", "aria-label": "Sign-up form" }, form),
    h("p", {}, "Already registered? ", h("a", { href: "/app/login" }, "Sign in"))));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    [email, password, confirm].forEach((f) => f.error(null));
    const address = email.input.value.trim();
    let bad = null;
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(address)) { email.error("Enter an email address like name@example.com."); bad = bad || email; }
    if ([...password.input.value].length < 12) { password.error("Use at least 12 characters."); bad = bad || password; }
    if (confirm.input.value !== password.input.value) { confirm.error("The two passwords differ."); bad = bad || confirm; }
    if (bad) { bad.input.focus(); status.error("Please correct the highlighted fields."); return; }
    submit.disabled = true;
    status.info("Creating your account…");
    try {
      await post("/api/v1/auth/register", { email: address, password: password.input.value }, { retry: false });
      navigate(`/app/check-email?email=${encodeURIComponent(address)}`);
    } catch (exc) {
      if (exc.code && exc.code.startsWith("password_")) { password.error(exc.message); password.input.focus(); }
      else if (exc.code && exc.code.startsWith("email_")) { email.error(exc.message); email.input.focus(); }
      status.error(exc);
    } finally {
      submit.disabled = false;
    }
  });
  email.input.focus();
}
