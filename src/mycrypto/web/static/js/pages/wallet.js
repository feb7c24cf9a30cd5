// Wallet: balances, deposit address (+ development helpers), withdrawals with 2FA, history + CSV.
// Balances and withdrawals follow the private `balances` and `transfers` streams while they are live
// (polled only while they are not). Deposits are credited by a `transfers` event too, but their
// detection and confirmations have no event: the deposit list is also read every 10 s.
import { api, get, newKey, post, query } from "../api.js";
import { add, compare, decimalsOf, format, isPlain, isZero } from "../decimal.js";
import { field, h, replace, table, time } from "../dom.js";
import * as live from "../live.js";
import { announce, copyButton, pageTitle, poll, section, statusBadge, statusLine } from "../ui.js";

const HISTORY_TYPES = [["", "All types"], ["deposit", "Deposits"], ["withdrawal", "Withdrawals"], ["trade", "Trades"],
  ["fee", "Fees"], ["faucet", "Faucet"], ["adjustment", "Adjustments"]];

function amountError(text, decimals, what = "amount") {
  if (!text) return `Enter the ${what}.`;
  if (!isPlain(text)) return "Use digits with an optional decimal point, like 0.5 (no commas, signs or exponents).";
  if (isZero(text)) return `The ${what} must be greater than zero.`;
  if (decimalsOf(text) > decimals) return `Use at most ${decimals} decimal places.`;
  return null;
}

function assetSelect(label, name, assets, value, extra = []) {
  return field({ label, name, control: h("select", {},
    [...extra, ...assets.map((a) => [a.asset, `${a.asset} — ${a.name}`])].map(([v, t]) => h("option", { value: v, selected: v === value }, t))) });
}

export async function render({ main, session }) {
  const cfg = session.state.config;
  const user = session.state.user;
  const { assets } = await get("/api/v1/wallet/assets");
  const byCode = Object.fromEntries(assets.map((a) => [a.asset, a]));
  const stops = [];
  main.append(pageTitle("Wallet"));
  if (!user.email_verified) main.append(h("p", { class: "notice warn" }, "Confirm your email address to deposit, trade and withdraw."));

  // ---------------------------------------------------------------- balances
  const balancesHolder = h("div");
  const balancesStatus = statusLine();
  main.append(section("Balances", balancesHolder, balancesStatus.el));
  let balances = {};
  function renderBalances() {
    const rows = assets.map((a) => balances[a.asset] || { asset: a.asset, available: "0", locked: "0", total: "0" });
    replace(balancesHolder, table({
      caption: "Balances by asset", captionHidden: true,
      columns: [
        { label: "Asset", rowHeader: true, render: (b) => h("span", {}, h("strong", {}, b.asset), " ", h("span", { class: "muted" }, byCode[b.asset]?.name || "")) },
        { label: "Available", num: true, render: (b) => format(b.available) },
        { label: "In orders / withdrawals", num: true, render: (b) => format(b.locked) },
        { label: "Total", num: true, render: (b) => format(b.total) },
      ],
      rows,
    }));
  }

  // ---------------------------------------------------------------- deposit
  const depositAsset = assetSelect("Asset to deposit", "deposit_asset", assets, assets[0]?.asset);
  const addressBox = h("div", { class: "deposit-address" });
  const depositStatus = statusLine();
  let currentAddress = null;
  async function showAddress() {
    const code = depositAsset.input.value;
    currentAddress = null;
    replace(addressBox, h("p", { class: "muted" }, "Loading address…"));
    try {
      const a = await get(`/api/v1/wallet/deposit-address/${encodeURIComponent(code)}`);
      currentAddress = a.address;
      const qr = h("div", { class: "qr-holder" });
      replace(addressBox,
        h("p", {}, `Send only ${a.asset} on the ${a.chain} network to this address:`),
        h("p", { class: "secret-box", id: "deposit-address", "aria-label": `${a.asset} deposit address` }, a.address),
        qr,
        h("div", { class: "actions" }, copyButton(a.address, "Copy address")),
        h("p", { class: "hint" }, `Credited after ${a.confirmations_required} confirmations.`));
      depositStatus.clear();
      // Server-rendered QR code (segno), so wallets can scan the address; the text above stays the reference.
      post("/web/qr", { text: a.address }).then((r) => {
        if (currentAddress === a.address) qr.append(h("img", { class: "qr", src: r.data_uri, alt: `QR code of your ${a.asset} deposit address` }));
      }).catch(() => qr.append(h("p", { class: "muted" }, "The QR code is unavailable; copy the address instead.")));
    } catch (exc) {
      replace(addressBox);
      depositStatus.error(exc);
    }
  }
  const depositPanel = section("Deposit", depositAsset.wrap, addressBox, depositStatus.el);
  // Assets on a real node (CHAIN_ETH_RPC_URL) get real coins only: no simulated deposits for them.
  const realChains = cfg.real_chains || [];
  const simulated = (code) => !realChains.includes(byCode[code]?.chain);
  let simSection = null;
  depositAsset.input.addEventListener("change", () => {
    showAddress();
    if (simSection) simSection.hidden = !simulated(depositAsset.input.value);
  });

  if (cfg.chain_simulator) {
    const simAmount = field({ label: "Amount", name: "sim_amount", hint: "Development only: the chain simulator sends this to your address and mines the blocks needed.",
      attrs: { inputmode: "decimal", autocomplete: "off" } });
    const simStatus = statusLine();
    const simButton = h("button", { type: "submit" }, "Simulate deposit");
    const simForm = h("form", { novalidate: true, "aria-label": "Simulate a deposit" }, simAmount.wrap, h("div", { class: "actions" }, simButton), simStatus.el);
    simForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const code = depositAsset.input.value;
      const err = amountError(simAmount.input.value.trim(), byCode[code].decimals);
      simAmount.error(err);
      if (err) { simAmount.input.focus(); return; }
      if (!currentAddress) await showAddress();
      if (!currentAddress) return;
      simButton.disabled = true;
      try {
        const r = await post("/web/dev/deposit", { asset: code, address: currentAddress, amount: simAmount.input.value.trim() });
        const text = `Simulated deposit of ${format(r.amount)} ${r.asset} sent and confirmed on the test chain; it is credited within seconds.`;
        simStatus.ok(text);
        announce(text);
        refresh();
      } catch (exc) {
        simStatus.error(exc);
      } finally {
        simButton.disabled = false;
      }
    });
    simSection = h("div", {}, h("h3", {}, "Simulate a deposit (development)"), simForm);
    simSection.hidden = !simulated(depositAsset.input.value);
    depositPanel.append(simSection);
  }
  if (cfg.faucet) {
    const faucetAsset = assetSelect("Asset", "faucet_asset", assets, "USDT");
    const faucetAmount = field({ label: "Amount (optional)", name: "faucet_amount", hint: "Empty = the most the faucet gives per request.",
      attrs: { inputmode: "decimal", autocomplete: "off" } });
    const faucetStatus = statusLine();
    const faucetButton = h("button", { type: "submit" }, "Get test funds");
    const faucetForm = h("form", { novalidate: true, "aria-label": "Test-funds faucet" }, faucetAsset.wrap, faucetAmount.wrap,
      h("div", { class: "actions" }, faucetButton), faucetStatus.el);
    faucetForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const code = faucetAsset.input.value;
      const amount = faucetAmount.input.value.trim();
      const err = amount ? amountError(amount, byCode[code].decimals) : null;
      faucetAmount.error(err);
      if (err) { faucetAmount.input.focus(); return; }
      faucetButton.disabled = true;
      try {
        const r = await post("/api/v1/wallet/faucet", amount ? { asset: code, amount } : { asset: code });
        const text = `Received ${format(r.amount)} ${r.asset} of test funds.`;
        faucetStatus.ok(text);
        announce(text);
        refresh();
      } catch (exc) {
        faucetStatus.error(exc);
      } finally {
        faucetButton.disabled = false;
      }
    });
    depositPanel.append(h("h3", {}, "Faucet (development)"), faucetForm);
  }
  const depositsHolder = h("div");
  depositPanel.append(h("h3", {}, "Recent deposits"), depositsHolder);

  // ---------------------------------------------------------------- withdraw
  const wAsset = assetSelect("Asset to withdraw", "withdraw_asset", assets, assets[0]?.asset);
  const wAddress = field({ label: "Destination address", name: "address", required: true,
    attrs: { autocomplete: "off", spellcheck: "false", maxlength: 256 } });
  const wAmount = field({ label: "Amount", name: "amount", required: true, attrs: { inputmode: "decimal", autocomplete: "off", maxlength: 40 } });
  const wCode = field({ label: "Two-factor code", name: "totp_code",
    hint: user.totp_enabled ? "Required: the 6-digit code from your authenticator app." : "Not needed: two-factor authentication is off for your account.",
    attrs: { autocomplete: "one-time-code", inputmode: "numeric", maxlength: 32, spellcheck: "false" } });
  if (!user.totp_enabled) wCode.wrap.hidden = true;
  const wSummary = h("p", { class: "order-summary", "aria-live": "polite" });
  const wStatus = statusLine();
  const wButton = h("button", { type: "submit", class: "btn-primary" }, "Request withdrawal");
  const wForm = h("form", { novalidate: true, "aria-label": "Withdrawal request" },
    wAsset.wrap, wAddress.wrap, wAmount.wrap, wCode.wrap, wSummary, h("div", { class: "actions" }, wButton), wStatus.el);
  function updateWithdrawSummary() {
    const a = byCode[wAsset.input.value];
    const amount = wAmount.input.value.trim();
    const have = balances[a.asset]?.available || "0";
    const parts = [`Fee ${format(a.withdrawal_fee)} ${a.asset}`, `minimum ${format(a.min_withdrawal)} ${a.asset}`,
      `available ${format(have)} ${a.asset}`];
    if (isPlain(amount)) parts.push(`total deducted ${format(add(amount, String(a.withdrawal_fee)))} ${a.asset}`);
    wSummary.textContent = `${parts.join("; ")}.${a.withdraw_enabled ? "" : " Withdrawals of this asset are suspended."}`;
  }
  [wAsset.input, wAmount.input].forEach((el) => el.addEventListener("input", () => { wAmount.error(null); updateWithdrawSummary(); }));
  wAsset.input.addEventListener("change", updateWithdrawSummary);
  let idem = { key: null, fingerprint: null };
  wForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const a = byCode[wAsset.input.value];
    const amount = wAmount.input.value.trim();
    const address = wAddress.input.value.trim();
    const code = wCode.input.value.trim();
    let err = amountError(amount, a.decimals);
    if (!err && compare(amount, String(a.min_withdrawal)) < 0) err = `The minimum withdrawal is ${format(a.min_withdrawal)} ${a.asset}.`;
    wAmount.error(err);
    wAddress.error(address ? null : "Enter the destination address.");
    wCode.error(user.totp_enabled && !code ? "Enter the code from your authenticator app." : null);
    const bad = [[wAddress, !address], [wAmount, err], [wCode, user.totp_enabled && !code]].find(([, b]) => b);
    if (bad) { bad[0].input.focus(); wStatus.error("Please correct the highlighted fields."); return; }
    // The same request retried (e.g. after a network error) reuses its Idempotency-Key, so it can
    // never create two withdrawals; a changed request gets a new key.
    const fingerprint = `${a.asset}|${address}|${amount}`;
    if (idem.fingerprint !== fingerprint) idem = { key: newKey("wd"), fingerprint };
    const body = { asset: a.asset, address, amount };
    if (code) body.totp_code = code;
    wButton.disabled = true;
    wStatus.info("Requesting withdrawal…");
    try {
      const w = await api("/api/v1/wallet/withdrawals", { method: "POST", body, headers: { "Idempotency-Key": idem.key } });
      idem = { key: null, fingerprint: null };
      const text = `Withdrawal #${w.id} of ${format(w.amount)} ${w.asset} requested: ${w.status.replace(/_/g, " ")}.`;
      wStatus.ok(text);
      announce(text);
      wAmount.input.value = "";
      wCode.input.value = "";
      afterAction();
    } catch (exc) {
      if (exc.code && /totp/.test(exc.code)) { wCode.wrap.hidden = false; wCode.error(exc.message); wCode.input.focus(); }
      else if (exc.code && /address/.test(exc.code)) { wAddress.error(exc.message); wAddress.input.focus(); }
      else if (exc.code && /amount|balance|minimum|limit/.test(exc.code)) { wAmount.error(exc.message); wAmount.input.focus(); }
      wStatus.error(exc);
      announce(`Withdrawal refused: ${exc.message}`, { assertive: true });
    } finally {
      wButton.disabled = false;
    }
  });
  const withdrawalsHolder = h("div");
  const withdrawPanel = section("Withdraw", wForm, h("h3", {}, "Recent withdrawals"), withdrawalsHolder);

  main.append(h("div", { class: "grid grid-2" }, depositPanel, withdrawPanel));

  // ---------------------------------------------------------------- history
  const hAsset = assetSelect("Asset", "history_asset", assets, "", [["", "All assets"]]);
  const hType = field({ label: "Type", name: "history_type", control: h("select", {}, HISTORY_TYPES.map(([v, t]) => h("option", { value: v }, t))) });
  const hFrom = field({ label: "From (UTC date)", name: "from", type: "date" });
  const hTo = field({ label: "To (UTC date, inclusive)", name: "to", type: "date" });
  const hApply = h("button", { type: "submit" }, "Show");
  const csvLink = h("a", { class: "btn", href: "/api/v1/wallet/history.csv", download: "history.csv" }, "Download CSV");
  const hStatus = statusLine();
  const hHolder = h("div");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const hForm = h("form", { class: "grid grid-2", "aria-label": "History filters" }, hAsset.wrap, hType.wrap, hFrom.wrap, hTo.wrap,
    h("div", { class: "actions" }, hApply, csvLink));
  main.append(section("History", hForm, hHolder, h("div", { class: "actions" }, more), hStatus.el));
  let historyRows = [];
  let cursor = null;
  function filters() {
    const nextDay = (d) => { const t = new Date(`${d}T00:00:00Z`); t.setUTCDate(t.getUTCDate() + 1); return t.toISOString().slice(0, 19); };
    return {
      asset: hAsset.input.value, type: hType.input.value,
      start: hFrom.input.value ? `${hFrom.input.value}T00:00:00` : "", end: hTo.input.value ? nextDay(hTo.input.value) : "",
    };
  }
  async function loadHistory(append = false) {
    const f = filters();
    csvLink.href = `/api/v1/wallet/history.csv${query(f)}`;
    try {
      const page = await get(`/api/v1/wallet/history${query({ ...f, limit: 50, cursor: append ? cursor : "" })}`);
      historyRows = append ? historyRows.concat(page.items) : page.items;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      hStatus.clear();
      replace(hHolder, table({
        caption: "Wallet history, newest first", captionHidden: true,
        columns: [
          { label: "Time", render: (r) => time(r.time) },
          { label: "Type", render: (r) => r.type },
          { label: "Asset", render: (r) => r.asset },
          { label: "Amount", num: true, render: (r) => format(r.amount) },
          { label: "Status", render: (r) => (r.status ? statusBadge(r.status) : "—") },
          { label: "Reference", render: (r) => h("span", { class: "mono" }, r.txid || r.reference || "") },
        ],
        rows: historyRows, empty: "No history for these filters.",
      }));
    } catch (exc) {
      hStatus.error(exc);
    }
  }
  hForm.addEventListener("submit", (ev) => { ev.preventDefault(); loadHistory(false); });
  more.addEventListener("click", () => loadHistory(true));

  // ---------------------------------------------------------------- polling
  function renderDeposits(items) {
    replace(depositsHolder, table({
      caption: "Recent deposits", captionHidden: true,
      columns: [
        { label: "Detected", render: (d) => time(d.detected_at) },
        { label: "Asset", render: (d) => d.asset },
        { label: "Amount", num: true, render: (d) => format(d.amount) },
        { label: "Confirmations", num: true, render: (d) => `${d.confirmations} of ${d.confirmations_required}` },
        { label: "Status", render: (d) => statusBadge(d.status) },
      ],
      rows: items, empty: "No deposits yet.",
    }));
  }
  function renderWithdrawals(items) {
    replace(withdrawalsHolder, table({
      caption: "Recent withdrawals", captionHidden: true,
      columns: [
        { label: "Requested", render: (w) => time(w.requested_at) },
        { label: "Asset", render: (w) => w.asset },
        { label: "Amount", num: true, render: (w) => format(w.amount) },
        { label: "Fee", num: true, render: (w) => format(w.fee) },
        { label: "Status", render: (w) => statusBadge(w.status) },
        { label: "Action", render: (w) => (["requested", "approved"].includes(w.status) ? cancelWithdrawal(w) : "—") },
      ],
      rows: items, empty: "No withdrawals yet.",
    }));
  }
  function cancelWithdrawal(w) {
    const btn = h("button", { type: "button", class: "btn-small btn-danger", "aria-label": `Cancel withdrawal #${w.id} of ${format(w.amount)} ${w.asset}` }, "Cancel");
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      try {
        await post(`/api/v1/wallet/withdrawals/${w.id}/cancel`);
        wStatus.ok(`Withdrawal #${w.id} cancelled; the funds are available again.`);
        announce(`Withdrawal #${w.id} cancelled.`);
        afterAction();
      } catch (exc) {
        btn.disabled = false;
        wStatus.error(exc);
      }
    });
    return btn;
  }
  async function refreshBalances() {
    const bal = await get("/api/v1/wallet/balances");
    balances = Object.fromEntries(bal.balances.map((b) => [b.asset, b]));
    renderBalances();
    updateWithdrawSummary();
    balancesStatus.clear();
  }
  // A `balances` frame: {time, balances: [{asset, available, locked}]} for the assets that changed.
  function applyBalances(d) {
    const items = Array.isArray(d) ? d : (d && d.balances) || [d];
    for (const b of items) {
      if (!b || !b.asset) continue;
      balances[b.asset] = { ...balances[b.asset], ...b, total: add(b.available, b.locked) };
    }
    renderBalances();
    updateWithdrawSummary();
  }
  let deposits = [];
  let withdrawals = [];
  async function refreshDeposits() {
    deposits = (await get("/api/v1/wallet/deposits?limit=10")).items;
    renderDeposits(deposits);
  }
  async function refreshWithdrawals() {
    withdrawals = (await get("/api/v1/wallet/withdrawals?limit=10")).items;
    renderWithdrawals(withdrawals);
  }
  async function refreshTransfers() {
    await Promise.all([refreshDeposits(), refreshWithdrawals()]);
  }
  // A `transfers` frame: {kind: deposit|withdrawal, id, asset, amount, status, txid, time}.
  function applyTransfer(t) {
    if (!t) return;
    const list = t.kind === "withdrawal" ? withdrawals : deposits;
    const known = list.find((x) => x.id === t.id);
    if (!known) {   // a new one (or scrolled off): read the list
      (t.kind === "withdrawal" ? refreshWithdrawals() : refreshDeposits()).catch((exc) => balancesStatus.error(exc));
      return;
    }
    known.status = t.status;
    if (t.txid) known.txid = t.txid;
    if (t.kind === "withdrawal") renderWithdrawals(withdrawals); else renderDeposits(deposits);
  }
  async function refresh() {
    await Promise.all([refreshBalances(), refreshTransfers()]);
  }
  // After the user's own withdrawal request or cancel: the streams bring its effects when live.
  function afterAction() {
    if (!live.isUp("balances")) refreshBalances().catch((exc) => balancesStatus.error(exc));
    if (!live.isUp("transfers")) refreshWithdrawals().catch((exc) => balancesStatus.error(exc));
  }
  renderBalances();
  showAddress();
  loadHistory(false);
  stops.push(live.liveOrPoll("balances", { refresh: refreshBalances, apply: applyBalances, ms: 4000,
    onError: (exc) => balancesStatus.error(exc) }));
  stops.push(live.liveOrPoll("transfers", { refresh: refreshTransfers, apply: applyTransfer, ms: 4000,
    onError: (exc) => balancesStatus.error(exc) }));
  stops.push(poll(refreshDeposits, 10000, (exc) => balancesStatus.error(exc)));
  return () => stops.forEach((s) => s());
}
