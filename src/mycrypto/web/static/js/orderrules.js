// Client-side checks of an order against the market's rules (tick, lot, min/max quantity, minimum
// notional), all in exact decimal arithmetic. The server checks again; this only saves a round trip
// and tells the user precisely what to fix. The body sent carries the strings exactly as typed.
import { compare, decimalsOf, format, isMultiple, isPlain, isZero, mul } from "./decimal.js";

const FORMAT_HELP = "Use digits with an optional decimal point, like 0.5 (no commas, signs or exponents).";

function checkAmount(text, name) {
  if (!text) return `Enter the ${name}.`;
  if (!isPlain(text)) return FORMAT_HELP;
  if (isZero(text)) return `The ${name} must be greater than zero.`;
  return null;
}

// input: {side, type ("limit"|"market"|"stop_limit"), price, stopPrice, quantity, quoteQuantity,
//         amountIn ("base"|"quote"), timeInForce, postOnly}
// returns {errors: {price?, stopPrice?, quantity?, quoteQuantity?}, body, notional}
export function validateOrder(market, input) {
  const errors = {};
  const body = { symbol: market.symbol, side: input.side, type: input.type };
  const base = market.base_asset;
  const quote = market.quote_asset;
  let notional = null;
  const useQuote = input.type === "market" && input.side === "buy" && input.amountIn === "quote";
  const priced = isPriced(input.type);
  if (priced) {
    const err = checkAmount(input.price, "price");
    if (err) errors.price = err;
    else if (!isMultiple(input.price, market.tick_size)) errors.price = `The price must be a multiple of the tick size ${market.tick_size} ${quote}.`;
    else body.price = input.price;
    body.time_in_force = input.timeInForce || "GTC";
    if (input.postOnly && input.type === "limit") body.post_only = true;
  }
  if (input.type === "stop_limit") {
    // a stop-limit waits (funds held) until a trade reaches the stop price, then becomes a limit order
    const err = checkAmount(input.stopPrice, "stop price");
    if (err) errors.stopPrice = err;
    else if (!isMultiple(input.stopPrice, market.tick_size)) errors.stopPrice = `The stop price must be a multiple of the tick size ${market.tick_size} ${quote}.`;
    else body.stop_price = input.stopPrice;
  }
  if (useQuote) {
    const err = checkAmount(input.quoteQuantity, "amount to spend");
    if (err) errors.quoteQuantity = err;
    else if (decimalsOf(input.quoteQuantity) > market.quote_decimals) errors.quoteQuantity = `Use at most ${market.quote_decimals} decimals for ${quote}.`;
    else if (compare(input.quoteQuantity, market.min_notional) < 0) errors.quoteQuantity = `Spend at least ${format(market.min_notional)} ${quote}.`;
    else { body.quote_quantity = input.quoteQuantity; notional = input.quoteQuantity; }
  } else {
    const err = checkAmount(input.quantity, "quantity");
    if (err) errors.quantity = err;
    else if (!isMultiple(input.quantity, market.lot_size)) errors.quantity = `The quantity must be a multiple of the lot size ${market.lot_size} ${base}.`;
    else if (compare(input.quantity, market.min_qty) < 0) errors.quantity = `The minimum quantity is ${market.min_qty} ${base}.`;
    else if (compare(input.quantity, market.max_qty) > 0) errors.quantity = `The maximum quantity is ${format(market.max_qty)} ${base}.`;
    else body.quantity = input.quantity;
  }
  if (priced && body.price && body.quantity) {
    notional = mul(body.price, body.quantity);
    if (compare(notional, market.min_notional) < 0) {
      errors.quantity = `The order value ${format(notional)} ${quote} is below the minimum of ${format(market.min_notional)} ${quote}.`;
    }
  }
  return { errors, body, notional };
}

// The asset and amount a new order would hold (for the "available" check shown next to the form).
export function holdFor(market, body) {
  if (body.side === "sell") return { asset: market.base_asset, amount: body.quantity || null };
  if (isPriced(body.type) && body.price && body.quantity) return { asset: market.quote_asset, amount: mul(body.price, body.quantity) };
  if (body.quote_quantity) return { asset: market.quote_asset, amount: body.quote_quantity };
  return { asset: market.quote_asset, amount: null };
}

// Types with a limit price (a stop-limit becomes a limit order when triggered).
function isPriced(type) {
  return type === "limit" || type === "stop_limit";
}
