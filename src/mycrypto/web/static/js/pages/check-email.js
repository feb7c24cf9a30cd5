// After sign-up: "check your inbox", a resend button and, in development, the dev mailbox link.
import { post } from "../api.js";
import { h } from "../dom.js";
import { pageTitle, statusLine } from "../ui.js";

export function render({ main, query, session }) {
  const email = query.get("email") || "";
  const status = statusLine();
  const resend = h("button", { type: "button" }, "Send the link again");
  resend.addEventListener("click", async () => {
    if (!email) { status.error("Sign up again to get a new link."); return; }
    resend.disabled = true;
    try {
      const r = await post("/api/v1/auth/resend-verification", { email }, { retry: false });
      status.ok(r.message);
    } catch (exc) {
      status.error(exc);
    } finally {
      resend.disabled = false;
    }
  });
  const cfg = session.state.config;
  main.append(h("div", { class: "narrow" }, pageTitle("Check your email"),
    h("section", { class: "panel", "aria-label": "Next step" },
      h("p", {}, "We sent a confirmation link to ", email ? h("strong", {}, email) : "your email address",
        ". Open it to confirm the address, then sign in."),
      h("p", { class: "muted" }, "The link is valid for 48 hours. Nothing arrived? Check the spam folder or send it again."),
      cfg.mailbox_url ? h("p", { class: "notice" }, "Development: emails are not sent; read them in the ",
        h("a", { href: cfg.mailbox_url, id: "dev-mailbox-link" }, "dev mailbox"), ".") : null,
      h("div", { class: "actions" }, resend, h("a", { href: "/app/login", class: "btn" }, "Go to sign in")),
      status.el)));
}
