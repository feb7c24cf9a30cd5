// Account and security: profile, password, 2FA (enrol with secret + URI + QR, recovery codes, turn
// off), API keys (create / list / revoke), signed-in sessions (revoke) and the security log (re-read
// when the private `security` stream reports a new sign-in, 2FA or key change).
import { ApiError, del, get, post } from "../api.js";
import { field, h, replace, table, time } from "../dom.js";
import * as live from "../live.js";
import { announce, copyButton, pageTitle, section, statusBadge, statusLine } from "../ui.js";

export async function render({ main, session, navigate }) {
  main.append(pageTitle("Account and security"));
  const user = await session.loadUser();
  if (!user) { navigate("/app/login?next=/app/account", { replace: true }); return null; }

  // ---------------------------------------------------------------- profile
  main.append(section("Profile", h("dl", { class: "kv" },
    h("dt", {}, "Email"), h("dd", {}, user.email),
    h("dt", {}, "Email confirmed"), h("dd", {}, user.email_verified ? "Yes" : "No — check your inbox"),
    h("dt", {}, "Role"), h("dd", {}, user.role),
    h("dt", {}, "Two-factor authentication"), h("dd", { id: "totp-state" }, user.totp_enabled ? "On" : "Off"))));

  const grid = h("div", { class: "grid grid-2" });
  main.append(grid);

  // ---------------------------------------------------------------- password
  const cur = field({ label: "Current password", name: "current_password", type: "password", required: true, attrs: { autocomplete: "current-password" } });
  const next = field({ label: "New password", name: "new_password", type: "password", required: true, hint: "At least 12 characters.", attrs: { autocomplete: "new-password" } });
  const pwStatus = statusLine();
  const pwForm = h("form", { novalidate: true, "aria-label": "Change password" }, cur.wrap, next.wrap,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Change password")), pwStatus.el);
  pwForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    cur.error(null); next.error(null);
    if (!cur.input.value) { cur.error("Enter your current password."); cur.input.focus(); return; }
    if ([...next.input.value].length < 12) { next.error("Use at least 12 characters."); next.input.focus(); return; }
    try {
      await post("/api/v1/auth/password", { current_password: cur.input.value, new_password: next.input.value });
      cur.input.value = ""; next.input.value = "";
      pwStatus.ok("Password changed.");
      announce("Password changed.");
      loadSessions();
    } catch (exc) {
      if (exc.code === "wrong_password") cur.error(exc.message);
      else if (exc.code && exc.code.startsWith("password_")) next.error(exc.message);
      pwStatus.error(exc);
    }
  });
  grid.append(section("Password", pwForm));

  // ---------------------------------------------------------------- 2FA
  const tfaBody = h("div");
  const tfaStatus = statusLine();
  grid.append(section("Two-factor authentication", tfaBody, tfaStatus.el));

  function codeField(label = "Code from your authenticator app") {
    return field({ label, name: "code", required: true, hint: "6 digits (or, where accepted, a recovery code).",
      attrs: { autocomplete: "one-time-code", inputmode: "numeric", maxlength: 32, spellcheck: "false" } });
  }

  function showRecoveryCodes(codes) {
    const text = codes.join("\n");
    replace(tfaBody,
      h("p", { class: "notice warn" }, "Save these recovery codes now: each works once if you lose your phone. They are not shown again."),
      h("ol", { class: "codes", id: "recovery-codes" }, codes.map((c) => h("li", {}, c))),
      h("div", { class: "actions" }, copyButton(text, "Copy codes"),
        h("button", { type: "button", onclick: () => renderTfa() }, "I saved them")));
  }

  function renderTfa() {
    const enabled = session.state.user.totp_enabled;
    document.getElementById("totp-state").textContent = enabled ? "On" : "Off";
    if (!enabled) {
      const start = h("button", { type: "button", class: "btn-primary" }, "Set up two-factor authentication");
      start.addEventListener("click", enroll);
      replace(tfaBody, h("p", {}, "Protect sign-in and withdrawals with a code from an authenticator app (TOTP)."), h("div", { class: "actions" }, start));
      return;
    }
    const offCode = codeField();
    const offForm = h("form", { novalidate: true, "aria-label": "Turn off two-factor authentication" }, offCode.wrap,
      h("div", { class: "actions" }, h("button", { type: "submit", class: "btn-danger" }, "Turn off 2FA")));
    offForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!offCode.input.value.trim()) { offCode.error("Enter a code."); offCode.input.focus(); return; }
      try {
        await post("/api/v1/auth/2fa/disable", { code: offCode.input.value.trim() });
        await session.loadUser();
        tfaStatus.ok("Two-factor authentication is off.");
        announce("Two-factor authentication is off.");
        renderTfa();
      } catch (exc) { offCode.error(exc.message); tfaStatus.error(exc); }
    });
    const rcCode = codeField();
    const rcForm = h("form", { novalidate: true, "aria-label": "New recovery codes" }, rcCode.wrap,
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Generate new recovery codes")));
    rcForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!rcCode.input.value.trim()) { rcCode.error("Enter a code."); rcCode.input.focus(); return; }
      try {
        const r = await post("/api/v1/auth/2fa/recovery-codes", { code: rcCode.input.value.trim() });
        tfaStatus.ok("New recovery codes created; the old ones no longer work.");
        showRecoveryCodes(r.recovery_codes);
      } catch (exc) { rcCode.error(exc.message); tfaStatus.error(exc); }
    });
    replace(tfaBody, h("p", {}, "Two-factor authentication is ", h("strong", {}, "on"), "."),
      h("h3", {}, "New recovery codes"), rcForm, h("h3", {}, "Turn off"), offForm);
  }

  async function enroll() {
    tfaStatus.info("Creating a secret…");
    try {
      const e = await post("/api/v1/auth/2fa/enroll");
      const qr = h("div", { class: "qr-holder" });
      const code = codeField();
      const form = h("form", { novalidate: true, "aria-label": "Confirm two-factor authentication" }, code.wrap,
        h("div", { class: "actions" }, h("button", { type: "submit", class: "btn-primary" }, "Turn on 2FA")));
      replace(tfaBody,
        h("ol", {},
          h("li", {}, "Scan the QR code with your authenticator app, or enter the secret by hand."),
          h("li", {}, "Type the 6-digit code it shows to finish.")),
        qr,
        h("p", {}, "Secret key:"), h("p", { class: "secret-box", id: "totp-secret" }, e.secret),
        h("div", { class: "actions" }, copyButton(e.secret, "Copy secret")),
        h("details", {}, h("summary", {}, "Setup URI (otpauth)"), h("p", { class: "secret-box", id: "totp-uri" }, e.otpauth_uri)),
        form);
      tfaStatus.clear();
      code.input.focus();
      post("/web/qr", { text: e.otpauth_uri }).then((r) => {
        qr.append(h("img", { class: "qr", src: r.data_uri, alt: "QR code of the two-factor setup URI (the same secret as shown below)" }));
      }).catch(() => qr.append(h("p", { class: "muted" }, "The QR code is unavailable; enter the secret by hand.")));
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        code.error(null);
        if (!/^\d{6}$/.test(code.input.value.trim())) { code.error("Enter the 6-digit code from your app."); code.input.focus(); return; }
        try {
          const r = await post("/api/v1/auth/2fa/confirm", { code: code.input.value.trim() });
          await session.loadUser();
          tfaStatus.ok("Two-factor authentication is on.");
          announce("Two-factor authentication is on. Save your recovery codes.");
          document.getElementById("totp-state").textContent = "On";
          showRecoveryCodes(r.recovery_codes);
        } catch (exc) { code.error(exc.message); tfaStatus.error(exc); code.input.focus(); }
      });
    } catch (exc) { tfaStatus.error(exc); }
  }
  renderTfa();

  // ---------------------------------------------------------------- API keys
  const keysHolder = h("div");
  const keyStatus = statusLine();
  const keyLabel = field({ label: "Label", name: "label", attrs: { maxlength: 64, autocomplete: "off" } });
  const perms = h("fieldset", {}, h("legend", {}, "Permissions"),
    ...["read", "trade", "withdraw"].map((p) => h("label", { class: "choice" },
      h("input", { type: "checkbox", name: "perm", value: p, checked: p === "read" }), p)));
  const ips = field({ label: "IP allow-list", name: "ip_allowlist", hint: "One IP or CIDR network per line. Required for the withdraw permission.",
    control: h("textarea", { rows: 2, spellcheck: "false" }) });
  const keyCode = field({ label: "Two-factor code", name: "key_totp", hint: "Required while 2FA is on.",
    attrs: { autocomplete: "one-time-code", inputmode: "numeric", maxlength: 32 } });
  const created = h("div", { "aria-live": "polite" });
  const keyForm = h("form", { novalidate: true, "aria-label": "Create an API key" }, keyLabel.wrap, perms, ips.wrap, keyCode.wrap,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create API key")), keyStatus.el);
  keyForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const permissions = [...perms.querySelectorAll("input:checked")].map((i) => i.value);
    if (!permissions.length) { keyStatus.error("Choose at least one permission."); return; }
    const body = { label: keyLabel.input.value.trim(), permissions,
      ip_allowlist: ips.input.value.split(/\s+/).map((s) => s.trim()).filter(Boolean) };
    if (keyCode.input.value.trim()) body.totp_code = keyCode.input.value.trim();
    try {
      const k = await post("/api/v1/auth/api-keys", body);
      keyStatus.ok(`API key "${k.label || k.api_key.slice(0, 8)}" created.`);
      replace(created, h("div", { class: "notice warn" },
        h("p", {}, "Copy the secret now: it is shown only once."),
        h("dl", { class: "kv" }, h("dt", {}, "API key"), h("dd", { id: "new-api-key" }, k.api_key),
          h("dt", {}, "Secret"), h("dd", { id: "new-api-secret" }, k.secret)),
        h("div", { class: "actions" }, copyButton(k.secret, "Copy secret"))));
      keyCode.input.value = "";
      loadKeys();
    } catch (exc) { keyStatus.error(exc); }
  });
  async function loadKeys() {
    const keys = await get("/api/v1/auth/api-keys");
    replace(keysHolder, table({
      caption: "My API keys", captionHidden: true,
      columns: [
        { label: "Label", render: (k) => k.label || "—" },
        { label: "Key", render: (k) => h("span", { class: "mono" }, `${k.api_key.slice(0, 10)}…`) },
        { label: "Permissions", render: (k) => k.permissions.join(", ") },
        { label: "Created", render: (k) => time(k.created_at) },
        { label: "Last used", render: (k) => time(k.last_used_at) },
        { label: "State", render: (k) => statusBadge(k.revoked_at ? "revoked" : "active") },
        { label: "Action", render: (k) => (k.revoked_at ? "—" : revokeKey(k)) },
      ],
      rows: keys, empty: "No API keys.",
    }));
  }
  function revokeKey(k) {
    const b = h("button", { type: "button", class: "btn-small btn-danger", "aria-label": `Revoke API key ${k.label || k.api_key.slice(0, 10)}` }, "Revoke");
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        await del(`/api/v1/auth/api-keys/${k.id}`);
        keyStatus.ok("API key revoked.");
        announce("API key revoked.");
        await loadKeys();
      } catch (exc) { b.disabled = false; keyStatus.error(exc); }
    });
    return b;
  }
  main.append(section("API keys", keyForm, created, h("h3", {}, "Your keys"), keysHolder));

  // ---------------------------------------------------------------- sessions
  const sessionsHolder = h("div");
  const sessStatus = statusLine();
  const others = h("button", { type: "button", class: "btn-danger" }, "Sign out all other sessions");
  others.addEventListener("click", async () => {
    try {
      const r = await post("/api/v1/auth/sessions/revoke-all", { keep_current: true });
      sessStatus.ok(`Signed out ${r.revoked_tokens} other session token(s).`);
      loadSessions();
    } catch (exc) { sessStatus.error(exc); }
  });
  async function loadSessions() {
    try {
      const rows = await get("/api/v1/auth/sessions");
      replace(sessionsHolder, table({
        caption: "Signed-in sessions", captionHidden: true,
        columns: [
          { label: "Device", render: (s) => h("span", {}, s.user_agent || "unknown", s.current ? h("strong", {}, " (this session)") : null) },
          { label: "IP", render: (s) => s.ip || "—" },
          { label: "Signed in", render: (s) => time(s.created_at) },
          { label: "Last active", render: (s) => time(s.last_used_at) },
          { label: "Action", render: (s) => (s.current ? "—" : revokeSession(s)) },
        ],
        rows, empty: "No sessions.",
      }));
    } catch (exc) { sessStatus.error(exc); }
  }
  function revokeSession(s) {
    const b = h("button", { type: "button", class: "btn-small btn-danger", "aria-label": `Sign out the session from ${s.ip || "unknown IP"} started ${new Date(s.created_at).toLocaleString()}` }, "Sign out");
    b.addEventListener("click", async () => {
      try { await del(`/api/v1/auth/sessions/${encodeURIComponent(s.id)}`); sessStatus.ok("Session signed out."); loadSessions(); }
      catch (exc) { sessStatus.error(exc); }
    });
    return b;
  }
  main.append(section("Sessions", sessionsHolder, h("div", { class: "actions" }, others), sessStatus.el));

  // ---------------------------------------------------------------- security events
  const eventsHolder = h("div");
  main.append(section("Security events", eventsHolder));
  async function loadEvents() {
    const rows = await get("/api/v1/auth/security-events?limit=25");
    replace(eventsHolder, table({
      caption: "Recent security events, newest first", captionHidden: true,
      columns: [
        { label: "Time", render: (e) => time(e.created_at) },
        { label: "Event", render: (e) => e.event.replace(/_/g, " ") },
        { label: "IP", render: (e) => e.ip || "—" },
        { label: "Device", render: (e) => e.user_agent || "—" },
      ],
      rows, empty: "No events.",
    }));
  }
  await Promise.all([loadKeys(), loadSessions(), loadEvents()].map((p) => p.catch((exc) => {
    if (!(exc instanceof ApiError)) throw exc;
  })));
  // A sign-in elsewhere shows up in the log and the sessions list as it happens.
  return live.subscribe("security", {
    data: () => { Promise.all([loadEvents(), loadSessions()]).catch(() => {}); },
  });
}
