// The trade page of one market: ticker, order book (live), candles with an interval switcher, depth,
// recent trades, the order form, and the user's open orders / order history / trades.
// Everything updates from the /ws streams while connected (live.js, booksync.js) and is polled only
// while they are not (docs/frontend.md "Live updates").
import { del, get, query } from "../api.js";
import { liveBook } from "../booksync.js";
import { drawCandles, drawDepth } from "../charts.js";
import { add as addDec, format, formatStep, sub as subDec, toNumberForChart } from "../decimal.js";
import { field, h, replace, shortTime, table, time } from "../dom.js";
import * as live from "../live.js";
import { createOrderForm, orderSummaryText } from "../orderform.js";
import { announce, pageTitle, section, sideBadge, statusBadge, statusLine, tabs } from "../ui.js";
import { changeCell } from "./markets.js";

const INTERVALS = [["1m", "1 minute"], ["5m", "5 minutes"], ["15m", "15 minutes"], ["1h", "1 hour"], ["4h", "4 hours"], ["1d", "1 day"]];
const BOOK_DEPTH = 12;

export async function render({ main, params, session, navigate, setTitle }) {
  const markets = await get("/api/v1/trade/markets");
  if (!markets.length) {
    main.append(pageTitle("Trade"), h("p", {}, "No markets are configured."));
    return null;
  }
  const market = markets.find((m) => m.symbol === (params.symbol || "").toUpperCase());
  if (!params.symbol || !market) {
    if (params.symbol) {
      main.append(pageTitle("Unknown market"), h("p", {}, `There is no market ${params.symbol}. `, h("a", { href: "/app/markets" }, "See all markets")));
      return null;
    }
    navigate(`/app/trade/${markets[0].symbol}`, { replace: true });
    return null;
  }
  const base = market.base_asset;
  const quote = market.quote_asset;
  setTitle(`${base}/${quote} - Trade`);
  const user = session.state.user;
  const stops = [];
  let balances = {};

  // ---------------------------------------------------------------- header: market switcher + ticker
  const chooser = field({ label: "Market", name: "market", control: h("select", {},
    markets.map((m) => h("option", { value: m.symbol, selected: m.symbol === market.symbol }, `${m.base_asset}/${m.quote_asset}`))) });
  chooser.input.addEventListener("change", () => navigate(`/app/trade/${chooser.input.value}`));
  const tickerLine = h("dl", { class: "ticker-line", "aria-label": "24-hour statistics" });
  const alertLink = user ? h("a", { href: `/app/alerts?symbol=${encodeURIComponent(market.symbol)}` }, "Set a price alert") : null;
  main.append(h("div", { class: "trade-head" }, pageTitle(`${base}/${quote}`), chooser.wrap, tickerLine, alertLink));

  // ---------------------------------------------------------------- order book
  const bookHolder = h("div", { class: "book" });
  const depthCanvas = h("canvas", { class: "chart depth", role: "img", "aria-label": "Depth chart: loading" });
  const bookStatus = statusLine();
  const bookSection = section("Order book", h("p", { class: "hint" }, "Choose a price to copy it into the order form. Updates live."),
    bookHolder, h("h3", {}, "Depth"), depthCanvas, bookStatus.el);
  bookSection.classList.add("area-book");

  // ---------------------------------------------------------------- chart
  let interval = "1m";
  const candleCanvas = h("canvas", { class: "chart", role: "img", "aria-label": "Price chart: loading" });
  const chartSummary = h("p", { class: "hint" });
  const intervalBar = h("div", { class: "interval-bar", role: "group", "aria-label": "Candle interval" });
  for (const [value, text] of INTERVALS) {
    const btn = h("button", { type: "button", class: "btn-small", "aria-pressed": value === interval ? "true" : "false", "aria-label": text }, value);
    btn.addEventListener("click", () => {
      interval = value;
      for (const b of intervalBar.children) b.setAttribute("aria-pressed", b === btn ? "true" : "false");
      watchCandles();
    });
    intervalBar.append(btn);
  }
  const chartSection = section("Price chart", intervalBar, h("div", { class: "chart-wrap" }, candleCanvas), chartSummary);
  chartSection.classList.add("area-chart");

  // ---------------------------------------------------------------- recent trades
  const tradesHolder = h("div");
  const tradesSection = section("Recent trades", tradesHolder);
  tradesSection.classList.add("area-trades");

  // ---------------------------------------------------------------- order form
  const form = createOrderForm({
    market: { ...market }, signedIn: Boolean(user), verified: Boolean(user && user.email_verified),
    getBalances: () => balances,
    // Live: the orders/balances/book streams bring the effects; otherwise look now instead of at the next poll.
    onPlaced: () => {
      if (!live.isUp("orders")) refreshMine();
      if (!live.isUp(`book:${market.symbol}`)) refreshBook();
    },
  });

  // ---------------------------------------------------------------- my orders
  const mine = h("section", { class: "panel area-mine", "aria-labelledby": "mine-title" }, h("h2", { id: "mine-title" }, "My orders and trades"));
  const tradeEvents = h("p", { class: "status-line", role: "status", "aria-live": "polite", id: "trade-events" });
  const openHolder = h("div");
  const historyHolder = h("div");
  const myTradesHolder = h("div");
  const mineStatus = statusLine();
  if (user) {
    const cancelAll = h("button", { type: "button", class: "btn-danger btn-small" }, `Cancel all ${base}/${quote} orders`);
    cancelAll.addEventListener("click", async () => {
      try {
        const out = await del(`/api/v1/trade/orders${query({ symbol: market.symbol })}`);
        const text = out.length ? `${out.length} order(s) cancelled.` : "There were no open orders to cancel.";
        mineStatus.ok(text);
        announce(text);
        if (!live.isUp("orders")) refreshMine();
      } catch (exc) {
        mineStatus.error(exc);
      }
    });
    mine.append(tradeEvents, tabs("My orders", [
      { id: "open", label: "Open orders", render: (p) => p.append(openHolder, h("div", { class: "actions" }, cancelAll)) },
      { id: "history", label: "Order history", render: (p) => p.append(historyHolder) },
      { id: "trades", label: "Trade history", render: (p) => p.append(myTradesHolder) },
    ]).el, mineStatus.el);
  } else {
    mine.append(h("p", {}, "Sign in to see your orders and trades."));
  }

  main.append(h("div", { class: "trade-grid" }, bookSection, chartSection, form.el, tradesSection, mine));

  // ---------------------------------------------------------------- data
  function bookRow(kind, [price, qty], cum, maxCum) {
    const bar = h("span", { class: "depth-bar", "aria-hidden": "true" });
    bar.style.width = `${Math.min(100, (toNumberForChart(cum) / maxCum) * 100).toFixed(1)}%`;
    const priceText = formatStep(price, market.tick_size);
    const btn = h("button", { type: "button", class: "book-price", dataset: { price, kind },
      "aria-label": `${kind === "ask" ? "Ask" : "Bid"} ${priceText} ${quote}, ${format(qty)} ${base}: use this price` }, priceText);
    btn.addEventListener("click", () => form.setPrice(price));
    return h("tr", { class: `book-row book-${kind}` },
      h("td", {}, bar, btn), h("td", { class: "num" }, formatStep(qty, market.lot_size)), h("td", { class: "num" }, formatStep(cum, market.lot_size)));
  }

  function cumulative(levels) {
    let total = "0";
    return levels.map(([p, q]) => { total = addDec(total, q); return total; });
  }

  function renderBook(book) {
    const active = document.activeElement;
    const focusKey = active && bookHolder.contains(active) ? `${active.dataset.kind}:${active.dataset.price}` : null;
    const asks = book.asks.slice(0, BOOK_DEPTH);
    const bids = book.bids.slice(0, BOOK_DEPTH);
    const askCum = cumulative(asks);
    const bidCum = cumulative(bids);
    const maxCum = Math.max(1e-18, toNumberForChart(askCum[askCum.length - 1] || "0"), toNumberForChart(bidCum[bidCum.length - 1] || "0"));
    const head = () => h("thead", {}, h("tr", {}, h("th", { scope: "col" }, `Price (${quote})`),
      h("th", { scope: "col", class: "num" }, `Amount (${base})`), h("th", { scope: "col", class: "num" }, `Total (${base})`)));
    const askRows = asks.map((lvl, i) => bookRow("ask", lvl, askCum[i], maxCum)).reverse();
    const bidRows = bids.map((lvl, i) => bookRow("bid", lvl, bidCum[i], maxCum));
    const empty = (text) => h("tr", {}, h("td", { colspan: 3, class: "empty" }, text));
    let spread = "Spread: —";
    if (asks.length && bids.length) spread = `Spread: ${formatStep(subDec(asks[0][0], bids[0][0]), market.tick_size)} ${quote}`;
    replace(bookHolder,
      h("table", {}, h("caption", {}, "Asks (sell orders), lowest price last"), head(), h("tbody", {}, askRows.length ? askRows : empty("No sell orders"))),
      h("div", { class: "spread" }, spread),
      h("table", {}, h("caption", {}, "Bids (buy orders), highest price first"), head(), h("tbody", {}, bidRows.length ? bidRows : empty("No buy orders"))));
    if (focusKey) {
      const again = [...bookHolder.querySelectorAll("button.book-price")].find((b) => `${b.dataset.kind}:${b.dataset.price}` === focusKey);
      if (again) again.focus();
    }
    drawDepth(depthCanvas, { bids: book.bids, asks: book.asks });
    depthCanvas.setAttribute("aria-label", `Depth chart: ${book.bids.length} bid levels, ${book.asks.length} ask levels. ` +
      `Best bid ${bids.length ? formatStep(bids[0][0], market.tick_size) : "none"}, best ask ${asks.length ? formatStep(asks[0][0], market.tick_size) : "none"} ${quote}.`);
  }

  async function refreshBook() {
    const book = await get(`/api/v1/orderbook/${market.symbol}?depth=50`);
    bookStatus.clear();
    renderBook(book);
  }

  let marketStatus = market.status;
  async function refreshTicker() {
    const [t, m] = await Promise.all([
      get(`/api/v1/trade/ticker/${market.symbol}`),
      get(`/api/v1/trade/markets/${market.symbol}`),
    ]);
    form.setMarket(m);
    marketStatus = m.status;
    renderTicker(t);
  }

  function renderTicker(t) {
    const item = (label, value) => h("div", {}, h("dt", {}, label), h("dd", {}, value));
    replace(tickerLine,
      item("Last", t.last ? `${formatStep(t.last, market.tick_size)} ${quote}` : "—"),
      item("24h change", changeCell(t.change_percent)),
      item("24h high", formatStep(t.high, market.tick_size)),
      item("24h low", formatStep(t.low, market.tick_size)),
      item(`24h volume (${base})`, format(t.volume)),
      item("Status", statusBadge(marketStatus)));
  }

  let recentTrades = [];
  async function refreshTrades() {
    recentTrades = await get(`/api/v1/trade/trades/${market.symbol}?limit=30`);
    renderTrades();
  }

  function addTrade(t) {
    const items = Array.isArray(t) ? t : [t];
    for (const one of items) {
      if (recentTrades.some((r) => r.trade_id === one.trade_id)) continue;
      recentTrades.unshift(one);
    }
    recentTrades.sort((a, b) => b.trade_id - a.trade_id);
    recentTrades.length = Math.min(recentTrades.length, 30);
    renderTrades();
  }

  function renderTrades() {
    replace(tradesHolder, table({
      caption: `Latest ${base}/${quote} trades, newest first`, captionHidden: true,
      columns: [
        { label: "Time", render: (r) => shortTime(r.time) },
        { label: "Side", render: (r) => sideBadge(r.taker_side) },
        { label: `Price (${quote})`, num: true, render: (r) => formatStep(r.price, market.tick_size) },
        { label: `Amount (${base})`, num: true, render: (r) => formatStep(r.quantity, market.lot_size) },
      ],
      rows: recentTrades, empty: "No trades yet.",
    }));
  }

  let candles = [];
  let candlesFor = null;
  async function loadCandles() {
    const wanted = interval;
    const rows = await get(`/api/v1/trade/candles/${market.symbol}${query({ interval: wanted, limit: 120 })}`);
    if (wanted !== interval) return;
    candles = rows;
    candlesFor = wanted;
    drawChart();
  }

  // A candle from the stream: the forming one changes in place, a new one is appended.
  function applyCandle(c, stream) {
    if (stream !== `candles:${market.symbol}:${interval}` || candlesFor !== interval) return;
    const last = candles[candles.length - 1];
    if (last && last.open_time === c.open_time) candles[candles.length - 1] = c;
    else if (!last || c.open_time > last.open_time) {
      candles.push(c);
      if (candles.length > 120) candles.shift();
    } else return;
    drawChart();
  }

  function drawChart() {
    if (candlesFor === null) return;   // still loading: the label keeps saying so
    const wanted = candlesFor;
    drawCandles(candleCanvas, candles);
    const label = INTERVALS.find(([v]) => v === wanted)[1];
    if (candles.length) {
      const last = candles[candles.length - 1];
      const text = `Last ${label} candle: open ${format(last.open)}, high ${format(last.high)}, low ${format(last.low)}, close ${format(last.close)} ${quote}; volume ${format(last.volume)} ${base}.`;
      candleCanvas.setAttribute("aria-label", `Candle chart, ${label} interval, ${candles.length} candles. ${text}`);
      chartSummary.textContent = text;
    } else {
      candleCanvas.setAttribute("aria-label", `Candle chart, ${label} interval: no trades yet.`);
      chartSummary.textContent = "No trades in this period yet.";
    }
  }

  let seenTrades = null;
  let mineRefreshFailed = false;
  let openOrders = [];
  let orderHistory = [];
  let myTrades = [];
  const OPEN = new Set(["new", "partially_filled", "untriggered"]);   // untriggered: a stop order waiting (open, funds held)

  // An order update from the private stream (the REST order JSON): open orders and history follow it.
  function applyOrder(o) {
    if (!o || o.symbol !== market.symbol) return;
    const newer = (a) => (a.updated_at ?? 0) <= (o.updated_at ?? 0);
    const known = orderHistory.find((x) => x.order_id === o.order_id);
    if (known && !newer(known)) return;
    orderHistory = [o, ...orderHistory.filter((x) => x.order_id !== o.order_id)]
      .sort((a, b) => b.order_id - a.order_id).slice(0, 50);
    openOrders = openOrders.filter((x) => x.order_id !== o.order_id);
    if (OPEN.has(o.status)) openOrders = [o, ...openOrders].sort((a, b) => b.order_id - a.order_id);
    renderOpen(openOrders);
    renderHistory(orderHistory);
  }

  // One of my executions (the REST my-trades item): trade history, and it is announced.
  function applyFill(t) {
    if (!t || t.symbol !== market.symbol || !seenTrades) return;
    const key = `${t.trade_id}:${t.side}`;
    if (seenTrades.has(key)) return;
    seenTrades.add(key);
    myTrades = [t, ...myTrades].slice(0, 50);
    const text = `Trade executed: ${t.side === "buy" ? "bought" : "sold"} ${format(t.quantity)} ${base} at ${format(t.price)} ${quote} (order #${t.order_id}).`;
    tradeEvents.textContent = text;
    announce(text);
    renderMyTrades(myTrades);
  }

  function applyBalance(b) {
    const items = Array.isArray(b) ? b : (b && b.balances) || [b];
    for (const one of items) {
      if (!one || !one.asset) continue;
      balances[one.asset] = { ...balances[one.asset], ...one };
    }
    form.refreshBalances();
  }
  async function refreshMine() {
    if (!user) return;
    const sym = market.symbol;
    const [open, history, trades, bal] = await Promise.all([
      get(`/api/v1/trade/orders/open${query({ symbol: sym })}`),
      get(`/api/v1/trade/orders${query({ symbol: sym, limit: 50 })}`),
      get(`/api/v1/trade/my-trades${query({ symbol: sym, limit: 50 })}`),
      get("/api/v1/wallet/balances"),
    ]);
    balances = Object.fromEntries(bal.balances.map((b) => [b.asset, b]));
    form.refreshBalances();
    // New executions since the last look are announced (the first load only records what exists).
    const ids = new Set(trades.items.map((t) => `${t.trade_id}:${t.side}`));
    if (seenTrades) {
      const fresh = trades.items.filter((t) => !seenTrades.has(`${t.trade_id}:${t.side}`)).reverse();
      for (const t of fresh) {
        const text = `Trade executed: ${t.side === "buy" ? "bought" : "sold"} ${format(t.quantity)} ${base} at ${format(t.price)} ${quote} (order #${t.order_id}).`;
        tradeEvents.textContent = text;
        announce(text);
      }
    }
    seenTrades = ids;
    openOrders = open;
    orderHistory = history.items;
    myTrades = trades.items;
    renderOpen(open);
    renderHistory(history.items);
    renderMyTrades(trades.items);
    // Clear only a refresh error this success recovers from: a confirmation (e.g. "Order #7
    // cancelled") set just before this refresh must stay readable.
    if (mineRefreshFailed) {
      mineRefreshFailed = false;
      mineStatus.clear();
    }
  }

  function renderOpen(rows) {
    const active = document.activeElement;
    const focusId = active && openHolder.contains(active) ? active.dataset.orderId : null;
    replace(openHolder, table({
      caption: `Open ${base}/${quote} orders`, captionHidden: true,
      columns: [
        { label: "Placed", render: (o) => time(o.created_at) },
        { label: "Side", render: (o) => sideBadge(o.side) },
        { label: "Type", render: (o) => orderTypeText(o) },
        { label: `Price (${quote})`, num: true, render: (o) => formatStep(o.price, market.tick_size) },
        { label: `Amount (${base})`, num: true, render: (o) => format(o.quantity) },
        { label: "Filled", num: true, render: (o) => format(o.executed_quantity) },
        { label: "Status", render: (o) => statusBadge(o.status) },
        { label: "Action", render: (o) => cancelButton(o) },
      ],
      rows, empty: "No open orders.",
    }));
    if (focusId) openHolder.querySelector(`button[data-order-id="${CSS.escape(focusId)}"]`)?.focus();
  }

  function cancelButton(o) {
    const btn = h("button", { type: "button", class: "btn-small btn-danger", dataset: { orderId: String(o.order_id) },
      "aria-label": `Cancel ${o.side} order #${o.order_id} at ${format(o.price)} ${quote}` }, "Cancel");
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      try {
        const out = await del(`/api/v1/trade/orders/${o.order_id}`);
        const text = `Order #${o.order_id} cancelled. ${orderSummaryText(out)}`;
        mineStatus.ok(text);
        announce(text);
        await refreshMine();
        mine.querySelector('[role="tab"][aria-selected="true"]')?.focus();
      } catch (exc) {
        btn.disabled = false;
        mineStatus.error(exc);
      }
    });
    return btn;
  }

  function renderHistory(rows) {
    replace(historyHolder, table({
      caption: `${base}/${quote} order history, newest first`, captionHidden: true,
      columns: [
        { label: "Placed", render: (o) => time(o.created_at) },
        { label: "Order", render: (o) => `#${o.order_id}` },
        { label: "Side", render: (o) => sideBadge(o.side) },
        { label: "Type", render: (o) => o.type },
        { label: `Price (${quote})`, num: true, render: (o) => (o.price ? formatStep(o.price, market.tick_size) : "market") },
        { label: `Amount (${base})`, num: true, render: (o) => format(o.quantity ?? "") },
        { label: "Filled", num: true, render: (o) => format(o.executed_quantity) },
        { label: `Total (${quote})`, num: true, render: (o) => format(o.cumulative_quote) },
        { label: "Fee", num: true, render: (o) => `${format(o.fee_total)} ${o.fee_asset}` },
        { label: "Status", render: (o) => statusBadge(o.status) },
      ],
      rows, empty: "No orders yet.",
    }));
  }

  function renderMyTrades(rows) {
    replace(myTradesHolder, table({
      caption: `My ${base}/${quote} trades, newest first`, captionHidden: true,
      columns: [
        { label: "Time", render: (t) => time(t.time) },
        { label: "Side", render: (t) => sideBadge(t.side) },
        { label: `Price (${quote})`, num: true, render: (t) => formatStep(t.price, market.tick_size) },
        { label: `Amount (${base})`, num: true, render: (t) => format(t.quantity) },
        { label: `Total (${quote})`, num: true, render: (t) => format(t.quote_quantity) },
        { label: "Fee", num: true, render: (t) => `${format(t.commission)} ${t.commission_asset}` },
        { label: "Role", render: (t) => (t.is_maker ? "Maker" : "Taker") },
        { label: "Order", render: (t) => `#${t.order_id}` },
      ],
      rows, empty: "No trades yet.",
    }));
  }

  const redraw = () => drawChart();
  window.addEventListener("resize", redraw);
  stops.push(() => window.removeEventListener("resize", redraw));
  const book = liveBook(market.symbol, {
    onBook: (b) => { bookStatus.clear(); renderBook(b); },
    onError: (exc) => bookStatus.error(exc),
    minLevels: BOOK_DEPTH,
  });
  stops.push(() => book.stop());
  stops.push(live.liveOrPoll(`ticker:${market.symbol}`, { refresh: refreshTicker, apply: renderTicker, ms: 2000 }));
  stops.push(live.liveOrPoll(`trades:${market.symbol}`, { refresh: refreshTrades, apply: addTrade, ms: 2000 }));
  let stopCandles = null;
  function watchCandles() {
    if (stopCandles) stopCandles();
    candlesFor = null;
    stopCandles = live.liveOrPoll(`candles:${market.symbol}:${interval}`, { refresh: loadCandles, apply: applyCandle, ms: 10000 });
  }
  watchCandles();
  stops.push(() => stopCandles && stopCandles());
  if (user) {
    stops.push(live.liveOrPoll(["orders", "fills", "balances"], {
      refresh: refreshMine, ms: 2000,
      apply: { orders: applyOrder, fills: applyFill, balances: applyBalance },
      onError: (exc) => { mineRefreshFailed = true; mineStatus.error(exc); },
    }));
  }
  return () => stops.forEach((stop) => stop());
}

// "limit", or for a conditional order its kind and stop price ("stop limit, stop 49,000.00").
function orderTypeText(o) {
  const kind = String(o.type).replace(/_/g, " ");
  return o.stop_price ? `${kind}, stop ${format(o.stop_price)}` : kind;
}
