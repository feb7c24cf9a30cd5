// Confirms an email address from a link that points into the app (/app/verify-email?token=...).
// (The auth service's own link, /api/v1/auth/verify-email, renders its own page; both work.)
import { post } from "../api.js";
import { h } from "../dom.js";
import { pageTitle, statusLine } from "../ui.js";

export async function render({ main, query, session }) {
  const status = statusLine();
  main.append(h("div", { class: "narrow" }, pageTitle("Confirm your email"), h("section", { class: "panel", "aria-label": "Result" }, status.el)));
  const token = query.get("token");
  if (!token) { status.error("This link has no token. Open the link from the email again."); return; }
  status.info("Confirming…");
  try {
    const r = await post("/api/v1/auth/verify-email", { token }, { retry: false });
    status.ok(r.status === "already_verified" ? "Your email address was already confirmed." : "Your email address is confirmed.");
    await session.loadUser();
    main.querySelector(".panel").append(h("p", {}, session.state.user
      ? h("a", { href: "/app/wallet" }, "Continue to your wallet") : h("a", { href: "/app/login?verified=1" }, "Sign in")));
  } catch (exc) {
    status.error(exc);
  }
}
