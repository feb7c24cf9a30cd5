// Administration (role admin only; the API enforces it too): withdrawal approvals, market halts.
import { get, post, query } from "../api.js";
import { format } from "../decimal.js";
import { field, h, replace, table, time } from "../dom.js";
import { announce, pageTitle, poll, section, statusBadge, statusLine } from "../ui.js";

const W_STATUSES = [["requested", "Waiting for approval"], ["approved", "Approved"], ["broadcast", "Broadcast"],
  ["confirmed", "Confirmed"], ["rejected", "Rejected"], ["failed", "Failed"], ["cancelled", "Cancelled"], ["", "All"]];

export async function render({ main }) {
  main.append(pageTitle("Administration"));
  const stops = [];

  // ---------------------------------------------------------------- withdrawals
  const filter = field({ label: "Show withdrawals", name: "status", control: h("select", {}, W_STATUSES.map(([v, t]) => h("option", { value: v }, t))) });
  const wHolder = h("div");
  const wStatus = statusLine();
  filter.input.addEventListener("change", () => loadWithdrawals());
  main.append(section("Withdrawals", filter.wrap, wHolder, wStatus.el));

  async function loadWithdrawals() {
    const page = await get(`/api/v1/wallet/admin/withdrawals${query({ status: filter.input.value, limit: 100 })}`);
    const active = document.activeElement;
    const focusKey = active && wHolder.contains(active) ? active.dataset.key : null;
    replace(wHolder, table({
      caption: "Withdrawals", captionHidden: true,
      columns: [
        { label: "ID", render: (w) => `#${w.id}` },
        { label: "Requested", render: (w) => time(w.requested_at) },
        { label: "User", render: (w) => w.email || `user ${w.user_id}` },
        { label: "Asset", render: (w) => w.asset },
        { label: "Amount", num: true, render: (w) => format(w.amount) },
        { label: "Address", render: (w) => h("span", { class: "mono" }, w.address) },
        { label: "Status", render: (w) => statusBadge(w.status) },
        { label: "Actions", render: (w) => (w.status === "requested" ? actions(w) : w.status === "approved" ? rejectOnly(w) : "—") },
      ],
      rows: page.items, empty: "No withdrawals with this status.",
    }));
    if (focusKey) wHolder.querySelector(`[data-key="${CSS.escape(focusKey)}"]`)?.focus();
  }

  function approveButton(w) {
    const b = h("button", { type: "button", class: "btn-small btn-primary", dataset: { key: `approve-${w.id}` },
      "aria-label": `Approve withdrawal #${w.id} of ${format(w.amount)} ${w.asset}` }, "Approve");
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        await post(`/api/v1/wallet/admin/withdrawals/${w.id}/approve`);
        wStatus.ok(`Withdrawal #${w.id} approved.`);
        announce(`Withdrawal #${w.id} approved.`);
        await loadWithdrawals();
      } catch (exc) { b.disabled = false; wStatus.error(exc); }
    });
    return b;
  }
  function rejectForm(w) {
    const reason = h("input", { type: "text", maxlength: 500, "aria-label": `Reason for rejecting withdrawal #${w.id}`, placeholder: "Reason", class: "reason-input" });
    const b = h("button", { type: "submit", class: "btn-small btn-danger", dataset: { key: `reject-${w.id}` } }, "Reject");
    const form = h("form", { class: "actions", novalidate: true, "aria-label": `Reject withdrawal #${w.id}` }, reason, b);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!reason.value.trim()) { wStatus.error("Give a reason to reject the withdrawal."); reason.focus(); return; }
      b.disabled = true;
      try {
        await post(`/api/v1/wallet/admin/withdrawals/${w.id}/reject`, { reason: reason.value.trim() });
        wStatus.ok(`Withdrawal #${w.id} rejected; the user's funds are released.`);
        announce(`Withdrawal #${w.id} rejected.`);
        await loadWithdrawals();
      } catch (exc) { b.disabled = false; wStatus.error(exc); }
    });
    return form;
  }
  const actions = (w) => h("div", { class: "actions" }, approveButton(w), rejectForm(w));
  const rejectOnly = (w) => rejectForm(w);

  // ---------------------------------------------------------------- markets
  const mHolder = h("div");
  const mStatus = statusLine();
  main.append(section("Markets", h("p", { class: "hint" }, "Halting a market refuses new orders; cancels still work."), mHolder, mStatus.el));
  async function loadMarkets() {
    const markets = await get("/api/v1/trade/markets");
    replace(mHolder, table({
      caption: "Markets", captionHidden: true,
      columns: [
        { label: "Market", rowHeader: true, render: (m) => m.symbol },
        { label: "Status", render: (m) => statusBadge(m.status) },
        { label: "Action", render: (m) => haltForm(m) },
      ],
      rows: markets,
    }));
  }
  function haltForm(m) {
    const halting = m.status !== "halted";
    const reason = h("input", { type: "text", maxlength: 200, placeholder: "Reason (optional)", "aria-label": `Reason to ${halting ? "halt" : "resume"} ${m.symbol}` });
    const b = h("button", { type: "submit", class: halting ? "btn-small btn-danger" : "btn-small btn-primary" }, halting ? `Halt ${m.symbol}` : `Resume ${m.symbol}`);
    const form = h("form", { class: "actions", novalidate: true, "aria-label": `${halting ? "Halt" : "Resume"} ${m.symbol}` }, reason, b);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      b.disabled = true;
      try {
        const body = reason.value.trim() ? { reason: reason.value.trim() } : undefined;
        const out = await post(`/api/v1/trade/admin/markets/${m.symbol}/${halting ? "halt" : "resume"}`, body);
        const text = `${out.symbol} is now ${out.status}.`;
        mStatus.ok(text);
        announce(text);
        await loadMarkets();
      } catch (exc) { b.disabled = false; mStatus.error(exc); }
    });
    return form;
  }

  stops.push(poll(loadWithdrawals, 5000, (exc) => wStatus.error(exc)));
  await loadMarkets().catch((exc) => mStatus.error(exc));
  return () => stops.forEach((s) => s());
}
