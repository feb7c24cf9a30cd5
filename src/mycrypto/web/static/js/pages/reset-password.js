// Choose a new password with the emailed token (/app/reset-password?token=...).
import { post } from "../api.js";
import { field, h } from "../dom.js";
import { pageTitle, statusLine } from "../ui.js";

export function render({ main, query, session, navigate }) {
  const token = query.get("token") || "";
  const status = statusLine();
  const password = field({ label: "New password", name: "new_password", type: "password", required: true,
    hint: "At least 12 characters. Setting it signs you out everywhere.", attrs: { autocomplete: "new-password", maxlength: 256 } });
  const confirm = field({ label: "Repeat the new password", name: "confirm", type: "password", required: true,
    attrs: { autocomplete: "new-password", maxlength: 256 } });
  const submit = h("button", { type: "submit", class: "btn-primary" }, "Set password");
  const form = h("form", { novalidate: true }, password.wrap, confirm.wrap, h("div", { class: "actions" }, submit), status.el);
  main.append(h("div", { class: "narrow" }, pageTitle("Choose a new password"), h("section", { class: "panel", "aria-label": "Password reset form" }, form)));
  if (!token) status.error("This link has no token. Open the link from the email again.");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    password.error(null);
    confirm.error(null);
    if ([...password.input.value].length < 12) { password.error("Use at least 12 characters."); password.input.focus(); return; }
    if (password.input.value !== confirm.input.value) { confirm.error("The two passwords differ."); confirm.input.focus(); return; }
    submit.disabled = true;
    try {
      await post("/api/v1/auth/reset-password", { token, new_password: password.input.value }, { retry: false });
      session.signedOut();
      navigate("/app/login?reset=1", { replace: true });
    } catch (exc) {
      if (exc.code && exc.code.startsWith("password_")) password.error(exc.message);
      status.error(exc);
    } finally {
      submit.disabled = false;
    }
  });
}
