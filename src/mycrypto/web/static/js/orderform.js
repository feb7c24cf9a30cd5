// The order form of the trade page: limit/market/stop-limit, buy/sell, with the market's rules shown and checked.
import { newKey, post } from "./api.js";
import { compare, format, mul } from "./decimal.js";
import { append, field, h, uid } from "./dom.js";
import { holdFor, validateOrder } from "./orderrules.js";
import { announce, statusLine } from "./ui.js";

function radioGroup(legend, name, options, value, extraClass = "") {
  const fs = h("fieldset", { class: `segmented ${extraClass}` }, h("legend", { class: "visually-hidden" }, legend));
  const inputs = {};
  for (const [v, text, cls] of options) {
    const id = uid(name);
    const input = h("input", { type: "radio", name, id, value: v, checked: v === value });
    inputs[v] = input;
    fs.append(h("label", { for: id, class: cls || null }, input, h("span", {}, text)));
  }
  const sync = () => {
    for (const input of Object.values(inputs)) input.parentElement.classList.toggle("checked", input.checked);
  };
  fs.addEventListener("change", sync);
  sync();
  return { el: fs, value: () => Object.values(inputs).find((i) => i.checked)?.value, inputs, sync };
}

export function orderSummaryText(order) {
  const what = `${order.side === "buy" ? "Buy" : "Sell"} ${order.type.replace(/_/g, "-")} order #${order.order_id}`;
  const base = order.symbol.split("-")[0];
  const filled = `${format(order.executed_quantity)}${order.quantity ? ` of ${format(order.quantity)}` : ""} ${base} filled`;
  return `${what}: ${order.status.replace(/_/g, " ")}, ${filled}${order.reason ? ` (${order.reason.replace(/_/g, " ")})` : ""}.`;
}

export function createOrderForm({ market, signedIn, verified, onPlaced, getBalances }) {
  const panel = h("section", { class: "panel area-form", "aria-labelledby": "order-form-title" },
    h("h2", { id: "order-form-title" }, "Place order"));
  if (!signedIn) {
    panel.append(h("p", {}, h("a", { href: `/app/login?next=${encodeURIComponent(location.pathname)}` }, "Sign in"),
      " or ", h("a", { href: "/app/register" }, "create an account"), " to trade."));
    return { el: panel, setPrice() {}, setMarket() {}, refreshBalances() {} };
  }
  const base = market.base_asset;
  const quote = market.quote_asset;
  const side = radioGroup("Side", "side", [["buy", "Buy", "buy"], ["sell", "Sell", "sell"]], "buy");
  const type = radioGroup("Order type", "type", [["limit", "Limit"], ["market", "Market"], ["stop_limit", "Stop-limit"]], "limit");
  const amountIn = radioGroup("Amount in", "amount_in", [["base", `By quantity (${base})`], ["quote", `By total (${quote})`]], "base");
  const price = field({ label: `Price (${quote})`, name: "price", hint: `A multiple of ${market.tick_size} ${quote}.`,
    attrs: { inputmode: "decimal", autocomplete: "off", spellcheck: "false", maxlength: 40 } });
  const stopPrice = field({ label: `Stop price (${quote})`, name: "stop_price",
    hint: "When a trade reaches this price, a limit order at the price below is placed. Funds are held from now.",
    attrs: { inputmode: "decimal", autocomplete: "off", spellcheck: "false", maxlength: 40 } });
  const quantity = field({ label: `Quantity (${base})`, name: "quantity",
    hint: `A multiple of ${market.lot_size} ${base}; from ${market.min_qty} to ${format(market.max_qty)}.`,
    attrs: { inputmode: "decimal", autocomplete: "off", spellcheck: "false", maxlength: 40 } });
  const quoteQty = field({ label: `Spend (${quote})`, name: "quote_quantity", hint: `At least ${format(market.min_notional)} ${quote}; fees on top.`,
    attrs: { inputmode: "decimal", autocomplete: "off", spellcheck: "false", maxlength: 40 } });
  const tif = field({ label: "Time in force", name: "time_in_force", control: h("select", {},
    h("option", { value: "GTC" }, "Good till cancelled (GTC)"),
    h("option", { value: "IOC" }, "Immediate or cancel (IOC)"),
    h("option", { value: "FOK" }, "Fill or kill (FOK)")) });
  const postOnlyId = uid("post-only");
  const postOnly = h("input", { type: "checkbox", id: postOnlyId, name: "post_only" });
  const postOnlyWrap = h("div", { class: "field" }, h("label", { class: "choice", for: postOnlyId }, postOnly,
    "Post only (maker only: cancelled instead of taking liquidity)"));
  const summary = h("p", { class: "order-summary", id: uid("order-summary") });
  const available = h("p", { class: "order-summary muted" });
  const submit = h("button", { type: "submit", class: "btn-buy" }, `Buy ${base}`);
  const status = statusLine();
  const notice = verified ? null : h("p", { class: "notice warn" }, "Confirm your email address before trading.");
  const halted = h("p", { class: "notice warn", hidden: market.status !== "halted" }, "Trading is halted in this market: new orders are refused; you can still cancel.");
  const rules = h("details", { class: "rules" }, h("summary", {}, "Market rules and fees"),
    h("dl", { class: "kv" },
      h("dt", {}, "Tick size"), h("dd", {}, `${market.tick_size} ${quote}`),
      h("dt", {}, "Lot size"), h("dd", {}, `${market.lot_size} ${base}`),
      h("dt", {}, "Minimum quantity"), h("dd", {}, `${market.min_qty} ${base}`),
      h("dt", {}, "Maximum quantity"), h("dd", {}, `${format(market.max_qty)} ${base}`),
      h("dt", {}, "Minimum order value"), h("dd", {}, `${format(market.min_notional)} ${quote}`),
      h("dt", {}, "Maker fee"), h("dd", {}, `${pct(market.maker_fee)}%`),
      h("dt", {}, "Taker fee"), h("dd", {}, `${pct(market.taker_fee)}%`)));
  const form = h("form", { novalidate: true, "aria-describedby": summary.id },
    side.el, type.el, amountIn.el, stopPrice.wrap, price.wrap, quantity.wrap, quoteQty.wrap, tif.wrap, postOnlyWrap,
    summary, available, h("div", { class: "actions" }, submit), status.el);
  append(panel, [halted, notice, form, rules]);

  function input() {
    return {
      side: side.value(), type: type.value(), amountIn: amountIn.value(), price: price.input.value.trim(),
      stopPrice: stopPrice.input.value.trim(),
      quantity: quantity.input.value.trim(), quoteQuantity: quoteQty.input.value.trim(),
      timeInForce: tif.input.value, postOnly: postOnly.checked,
    };
  }

  function layout() {
    const v = input();
    const isLimit = v.type !== "market";   // limit or stop-limit: both take a price
    const byQuote = !isLimit && v.side === "buy" && v.amountIn === "quote";
    price.wrap.hidden = !isLimit;
    stopPrice.wrap.hidden = v.type !== "stop_limit";
    tif.wrap.hidden = !isLimit;
    postOnlyWrap.hidden = v.type !== "limit";
    amountIn.el.hidden = isLimit || v.side !== "buy";
    quantity.wrap.hidden = byQuote;
    quoteQty.wrap.hidden = !byQuote;
    submit.className = v.side === "buy" ? "btn-buy" : "btn-sell";
    submit.textContent = `${v.side === "buy" ? "Buy" : "Sell"} ${base}`;
    updateSummary();
  }

  function updateSummary() {
    const v = input();
    const { body, notional } = validateOrder(market, v);
    const parts = [];
    if (notional) parts.push(`Order value: ${format(notional)} ${quote}`);
    else if (v.type === "market") parts.push("Market order: fills at the best available prices now.");
    if (v.type === "stop_limit") {
      const when = v.stopPrice ? `a trade at ${v.stopPrice} ${quote} or ${v.side === "buy" ? "higher" : "lower"}` : "a trade reaches the stop price";
      parts.push(`Stop-limit: placed as a limit order when ${when}`);
    }
    const fee = v.type === "market" ? market.taker_fee : market.maker_fee;
    parts.push(`fee ${pct(fee)}%${v.type !== "market" ? ` (maker) or ${pct(market.taker_fee)}% (taker)` : " (taker)"}, charged in ${quote}`);
    summary.textContent = `${parts.join("; ")}.`;
    const balances = getBalances();
    const hold = holdFor(market, body);
    const have = balances[hold.asset]?.available ?? "0";
    let text = `Available: ${format(have)} ${hold.asset}`;
    if (hold.amount && compare(hold.amount, have) > 0) text += ` — not enough for this order (${format(hold.amount)} ${hold.asset} needed)`;
    available.textContent = text;
  }

  [side.el, type.el, amountIn.el, tif.input, postOnly].forEach((el) => el.addEventListener("change", layout));
  [price.input, stopPrice.input, quantity.input, quoteQty.input].forEach((el) => el.addEventListener("input", () => {
    price.error(null); stopPrice.error(null); quantity.error(null); quoteQty.error(null);
    updateSummary();
  }));

  let busy = false;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (busy) return;
    const v = input();
    const { errors, body } = validateOrder(market, v);
    price.error(errors.price); stopPrice.error(errors.stopPrice); quantity.error(errors.quantity); quoteQty.error(errors.quoteQuantity);
    const firstBad = [["stopPrice", stopPrice], ["price", price], ["quantity", quantity], ["quoteQuantity", quoteQty]].find(([k]) => errors[k]);
    if (firstBad) {
      status.error("Please correct the highlighted fields.");
      firstBad[1].input.focus();
      return;
    }
    body.client_order_id = newKey("web");
    busy = true;
    submit.disabled = true;
    status.info("Placing order…");
    try {
      const order = await post("/api/v1/trade/orders", body);
      const text = orderSummaryText(order);
      status.ok(text);
      announce(text);
      onPlaced(order);
    } catch (exc) {
      status.error(exc);
      announce(`Order refused: ${exc.message}`, { assertive: true });
    } finally {
      busy = false;
      submit.disabled = false;
    }
  });
  layout();
  return {
    el: panel,
    setPrice(value) {
      if (type.value() === "market") { type.inputs.limit.checked = true; type.sync(); layout(); }
      price.input.value = value;
      price.error(null);
      updateSummary();
      price.input.focus();
    },
    setMarket(updated) {
      market.status = updated.status;
      halted.hidden = updated.status !== "halted";
    },
    refreshBalances() { updateSummary(); },
  };
}

function pct(fraction) {
  return mul(String(fraction), "100"); // "0.0010" -> "0.1", exactly
}
