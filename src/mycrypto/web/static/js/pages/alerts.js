// Price alerts (docs/alerts.md): create one (price level, % change over a window, RSI, the close
// crossing an SMA/EMA, MACD crossing its signal), list mine with delete, and the triggered history.
// A firing (private `alerts` stream, or polling while it is down: notifications.js) refreshes the lists.
import { del, get, post, query } from "../api.js";
import { format, isPlain } from "../decimal.js";
import { field, h, replace, table, time } from "../dom.js";
import { onFiring } from "../notifications.js";
import { announce, pageTitle, section, statusBadge, statusLine } from "../ui.js";

const TYPES = [
  ["price", "Price crosses a level"],
  ["change", "Price changes by a percentage over a window"],
  ["rsi", "RSI crosses a level"],
  ["sma_cross", "Close crosses its simple moving average (SMA)"],
  ["ema_cross", "Close crosses its exponential moving average (EMA)"],
  ["macd_cross", "MACD crosses its signal line"],
];
const INTERVALS = [["1m", "1 minute"], ["5m", "5 minutes"], ["15m", "15 minutes"], ["1h", "1 hour"], ["4h", "4 hours"], ["1d", "1 day"]];
const WINDOWS = [["5m", "5 minutes"], ["15m", "15 minutes"], ["1h", "1 hour"], ["4h", "4 hours"], ["1d", "1 day"]];
// Which inputs each condition type uses (the API refuses the others).
const USES = {
  price: ["price"], change: ["percent", "window"], rsi: ["level", "period", "interval"],
  sma_cross: ["period", "interval"], ema_cross: ["period", "interval"], macd_cross: ["fast", "slow", "signal", "interval"],
};
const DEFAULT_PERIOD = { rsi: "14", sma_cross: "20", ema_cross: "20" };

function options(pairs, value) {
  return pairs.map(([v, t]) => h("option", { value: v, selected: v === value }, t));
}

export async function render({ main, query: params }) {
  const markets = await get("/api/v1/trade/markets");
  const stops = [];
  main.append(pageTitle("Price alerts"),
    h("p", { class: "muted" }, "Get a notification here and by email when a market crosses a level you choose. ",
      "An alert fires when the value crosses the level, not while it stays beyond it."));

  // ---------------------------------------------------------------- create
  const wanted = (params.get("symbol") || "").toUpperCase();
  const symbol = field({ label: "Market", name: "symbol", control: h("select", {},
    markets.map((m) => h("option", { value: m.symbol, selected: m.symbol === wanted }, `${m.base_asset}/${m.quote_asset}`))) });
  const type = field({ label: "Condition", name: "type", control: h("select", {}, options(TYPES, "price")) });
  const direction = field({ label: "Direction", name: "direction", control: h("select", {}) });
  const num = (label, name, hint) => field({ label, name, hint,
    attrs: { inputmode: "decimal", autocomplete: "off", spellcheck: "false", maxlength: 40 } });
  const inputs = {
    price: num("Price level", "price", "In the market's quote currency, at most 8 decimals."),
    percent: num("Change (%)", "percent", "From 0.01; a fall must be below 100."),
    window: field({ label: "Over the last", name: "window", control: h("select", {}, options(WINDOWS, "1h")) }),
    level: num("RSI level", "level", "Between 0 and 100."),
    period: num("Period (candles)", "period", "RSI 2-100, SMA 2-500, EMA 2-200."),
    fast: num("Fast period", "fast", "2-100 (12)."),
    slow: num("Slow period", "slow", "3-200 (26)."),
    signal: num("Signal period", "signal", "2-50 (9)."),
    interval: field({ label: "Candle interval", name: "interval", control: h("select", {}, options(INTERVALS, "1h")) }),
  };
  inputs.fast.input.value = "12";
  inputs.slow.input.value = "26";
  inputs.signal.input.value = "9";
  const repeatId = "alert-repeat";
  const repeat = h("input", { type: "checkbox", id: repeatId, name: "repeat" });
  const repeatWrap = h("div", { class: "field" }, h("label", { class: "choice", for: repeatId }, repeat,
    "Repeat (fire at every crossing, after a cooldown)"));
  const cooldown = field({ label: "Cooldown (seconds)", name: "cooldown_seconds", hint: "60 to 604800 seconds; 300 when empty.",
    attrs: { inputmode: "numeric", autocomplete: "off", maxlength: 7 } });
  const emailId = "alert-email";
  const email = h("input", { type: "checkbox", id: emailId, name: "email", checked: true });
  const emailWrap = h("div", { class: "field" }, h("label", { class: "choice", for: emailId }, email, "Also send me an email"));
  const note = field({ label: "Note (optional)", name: "note", hint: "Up to 200 characters, shown with the notification.",
    attrs: { autocomplete: "off", maxlength: 200 } });
  const status = statusLine();
  const submit = h("button", { type: "submit", class: "btn-primary" }, "Create alert");
  const form = h("form", { novalidate: true, "aria-label": "New alert", class: "alert-form" },
    h("div", { class: "grid grid-2" }, symbol.wrap, type.wrap, direction.wrap,
      ...Object.values(inputs).map((f) => f.wrap)),
    repeatWrap, cooldown.wrap, emailWrap, note.wrap, h("div", { class: "actions" }, submit), status.el);

  function syncType() {
    const t = type.input.value;
    const dirs = t === "change" ? [["up", "Up (rise)"], ["down", "Down (fall)"]]
      : t === "macd_cross" ? [["above", "MACD crosses above the signal"], ["below", "MACD crosses below the signal"]]
        : [["above", "Crosses above"], ["below", "Crosses below"]];
    const keep = direction.input.value;
    replace(direction.input, options(dirs, dirs.some(([v]) => v === keep) ? keep : dirs[0][0]));
    for (const [name, f] of Object.entries(inputs)) {
      f.wrap.hidden = !USES[t].includes(name);
      f.error(null);
    }
    if (DEFAULT_PERIOD[t]) inputs.period.input.value = DEFAULT_PERIOD[t];
  }
  const syncRepeat = () => { cooldown.wrap.hidden = !repeat.checked; };
  type.input.addEventListener("change", syncType);
  repeat.addEventListener("change", syncRepeat);
  syncType();
  syncRepeat();

  function body() {
    const t = type.input.value;
    const condition = { type: t, direction: direction.input.value };
    const errors = [];
    for (const name of USES[t]) {
      const f = inputs[name];
      const value = f.input.value.trim();
      if (name === "window" || name === "interval") { condition[name] = value; continue; }
      const integer = ["period", "fast", "slow", "signal"].includes(name);
      let err = null;
      if (!value) err = "Enter a value.";
      else if (integer && !/^[0-9]{1,4}$/.test(value)) err = "Enter a whole number.";
      else if (!integer && !isPlain(value)) err = "Use digits with an optional decimal point, like 0.5.";
      f.error(err);
      if (err) errors.push(f);
      condition[name] = integer ? Number.parseInt(value, 10) : value;
    }
    const out = { symbol: symbol.input.value, condition, repeat: repeat.checked, email: email.checked, note: note.input.value.trim() };
    cooldown.error(null);
    if (repeat.checked && cooldown.input.value.trim()) {
      const c = cooldown.input.value.trim();
      if (!/^[0-9]{1,7}$/.test(c)) { cooldown.error("Enter a whole number of seconds."); errors.push(cooldown); }
      else out.cooldown_seconds = Number.parseInt(c, 10);
    }
    return { out, errors };
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const { out, errors } = body();
    if (errors.length) {
      errors[0].input.focus();
      status.error("Please correct the highlighted fields.");
      return;
    }
    submit.disabled = true;
    try {
      const a = await post("/api/v1/trade/alerts", out);
      const text = `Alert #${a.alert_id} created: ${a.description}.`;
      status.ok(text);
      announce(text);
      loadAlerts();
    } catch (exc) {
      // The server names the bad parameter (details.field): show the message there.
      const name = exc.details && exc.details.field ? String(exc.details.field).replace(/^condition\./, "") : null;
      const target = inputs[name] || (name === "cooldown_seconds" ? cooldown : name === "note" ? note : null);
      if (target && !target.wrap.hidden) { target.error(exc.message); target.input.focus(); }
      else if (exc.code === "alert_price_out_of_range") { inputs.price.error(exc.message); inputs.price.input.focus(); }
      status.error(exc);
    } finally {
      submit.disabled = false;
    }
  });

  // ---------------------------------------------------------------- my alerts
  const filter = field({ label: "Show", name: "status_filter", control: h("select", {},
    options([["active", "Active"], ["triggered", "Triggered"], ["", "Active and triggered"]], "active")) });
  const listHolder = h("div");
  const listStatus = statusLine();
  const moreAlerts = h("button", { type: "button", hidden: true }, "Load more alerts");
  let alertRows = [];
  let alertCursor = null;

  function deleteButton(a) {
    const btn = h("button", { type: "button", class: "btn-small btn-danger", dataset: { alertId: String(a.alert_id) },
      "aria-label": `Delete alert #${a.alert_id}: ${a.description}` }, "Delete");
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      try {
        await del(`/api/v1/trade/alerts/${a.alert_id}`);
        const text = `Alert #${a.alert_id} deleted.`;
        listStatus.ok(text);
        announce(text);
        await loadAlerts();
        filter.input.focus();
      } catch (exc) {
        btn.disabled = false;
        listStatus.error(exc);
      }
    });
    return btn;
  }

  async function loadAlerts(append = false) {
    try {
      const page = await get(`/api/v1/trade/alerts${query({ status: filter.input.value, limit: 50, cursor: append ? alertCursor : "" })}`);
      alertRows = append ? alertRows.concat(page.items) : page.items;
      alertCursor = page.next_cursor;
      moreAlerts.hidden = !alertCursor;
      replace(listHolder, table({
        caption: "My alerts, newest first", captionHidden: true,
        columns: [
          { label: "Created", render: (a) => time(a.created_at) },
          { label: "Alert", render: (a) => `#${a.alert_id}` },
          { label: "Condition", cls: "wrap", render: (a) => a.description },
          { label: "Repeats", render: (a) => (a.repeat ? `every ${a.cooldown_seconds} s` : "once") },
          { label: "Status", render: (a) => statusBadge(a.status) },
          { label: "Fired", num: true, render: (a) => String(a.fire_count) },
          { label: "Last fired", render: (a) => time(a.last_triggered_at) },
          { label: "Note", cls: "wrap", render: (a) => a.note || "—" },
          { label: "Action", render: (a) => (a.status === "active" ? deleteButton(a) : "—") },
        ],
        rows: alertRows, empty: "No alerts here yet.",
      }));
    } catch (exc) {
      listStatus.error(exc);
    }
  }
  filter.input.addEventListener("change", () => loadAlerts(false));
  moreAlerts.addEventListener("click", () => loadAlerts(true));

  // ---------------------------------------------------------------- history
  const historyHolder = h("div");
  const historyStatus = statusLine();
  const moreHistory = h("button", { type: "button", hidden: true }, "Load more history");
  let historyRows = [];
  let historyCursor = null;
  async function loadHistory(append = false) {
    try {
      const page = await get(`/api/v1/trade/alerts/history${query({ limit: 50, cursor: append ? historyCursor : "" })}`);
      historyRows = append ? historyRows.concat(page.items) : page.items;
      historyCursor = page.next_cursor;
      moreHistory.hidden = !historyCursor;
      replace(historyHolder, table({
        caption: "Alerts that fired, newest first", captionHidden: true,
        columns: [
          { label: "Time", render: (e) => time(e.time) },
          { label: "Alert", render: (e) => `#${e.alert_id}` },
          { label: "Condition", cls: "wrap", render: (e) => e.description },
          { label: "Price", num: true, render: (e) => (e.price ? format(e.price) : "—") },
          { label: "Value", num: true, render: (e) => (e.value ? format(e.value) : "—") },
          { label: "Note", cls: "wrap", render: (e) => e.note || "—" },
        ],
        rows: historyRows, empty: "No alert has fired yet.",
      }));
    } catch (exc) {
      historyStatus.error(exc);
    }
  }
  moreHistory.addEventListener("click", () => loadHistory(true));

  main.append(section("New alert", form),
    section("My alerts", filter.wrap, listHolder, h("div", { class: "actions" }, moreAlerts), listStatus.el),
    section("Triggered alerts", historyHolder, h("div", { class: "actions" }, moreHistory), historyStatus.el));
  await Promise.all([loadAlerts(), loadHistory()]);
  stops.push(onFiring(() => { loadAlerts(); loadHistory(); }));
  return () => stops.forEach((s) => s());
}
