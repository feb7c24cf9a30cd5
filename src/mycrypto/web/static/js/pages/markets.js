// Markets: every market with its 24h ticker, live from the `tickers` stream (polled while it is down).
import { get } from "../api.js";
import { compare, format, formatStep } from "../decimal.js";
import { h, replace, table } from "../dom.js";
import { liveOrPoll } from "../live.js";
import { pageTitle, statusBadge, statusLine } from "../ui.js";

export function changeCell(percent) {
  if (percent === null || percent === undefined) return "—";
  const sign = compare(percent, "0");
  const word = sign > 0 ? "up" : sign < 0 ? "down" : "unchanged";
  return h("span", { class: sign > 0 ? "up" : sign < 0 ? "down" : null },
    `${sign > 0 ? "+" : ""}${format(percent)}%`, h("span", { class: "visually-hidden" }, ` (${word})`));
}

export async function render({ main }) {
  const status = statusLine();
  const holder = h("div", { class: "markets-table" });
  main.append(pageTitle("Markets"),
    h("p", { class: "muted" }, "Spot markets with 24-hour statistics, updated live."),
    h("section", { class: "panel", "aria-label": "All markets" }, holder, status.el));
  let markets = null;
  let bySymbol = {};
  async function refresh() {
    if (!markets) markets = await get("/api/v1/trade/markets");
    const tickers = await get("/api/v1/trade/ticker");
    bySymbol = Object.fromEntries(tickers.map((t) => [t.symbol, t]));
    draw();
  }
  // A `tickers` frame: the 24h tickers of the markets that changed (or all of them).
  function apply(d) {
    for (const t of Array.isArray(d) ? d : [d]) if (t && t.symbol) bySymbol[t.symbol] = t;
    if (markets) draw();
  }
  function draw() {
    status.clear();
    replace(holder, table({
      caption: "Markets",
      captionHidden: true,
      columns: [
        { label: "Market", render: (m) => h("a", { class: "market-link", href: `/app/trade/${encodeURIComponent(m.symbol)}` },
          `${m.base_asset}/${m.quote_asset}`), rowHeader: true },
        { label: "Last price", num: true, render: (m) => formatStep(bySymbol[m.symbol]?.last, m.tick_size) },
        { label: "24h change", num: true, render: (m) => changeCell(bySymbol[m.symbol]?.change_percent) },
        { label: "24h high", num: true, render: (m) => formatStep(bySymbol[m.symbol]?.high, m.tick_size) },
        { label: "24h low", num: true, render: (m) => formatStep(bySymbol[m.symbol]?.low, m.tick_size) },
        { label: "24h volume", num: true, render: (m) => `${format(bySymbol[m.symbol]?.volume ?? "0")} ${m.base_asset}` },
        { label: "Best bid", num: true, render: (m) => formatStep(bySymbol[m.symbol]?.best_bid, m.tick_size) },
        { label: "Best ask", num: true, render: (m) => formatStep(bySymbol[m.symbol]?.best_ask, m.tick_size) },
        { label: "Status", render: (m) => statusBadge(m.status) },
      ],
      rows: markets,
      empty: "No markets are configured.",
    }));
  }
  return liveOrPoll("tickers", { refresh, apply, ms: 5000, onError: (exc) => status.error(exc) });
}
