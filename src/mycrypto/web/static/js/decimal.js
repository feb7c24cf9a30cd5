// Exact decimal strings for the money the app shows and checks. Never a JS float.
//
// Amounts arrive from the API as strings ("0.5", "25000.12") and the user's input is sent back exactly
// as typed once it matches PLAIN (the server's own rule, common.money._PLAIN_DECIMAL). These helpers
// compare, multiply and check step multiples with BigInt scaled integers, so "0.1" + "0.2" is "0.3"
// and a tick-size check never suffers from binary rounding. Display formatting lives here too.

export const PLAIN = /^(0|[1-9][0-9]{0,29})(\.[0-9]{1,30})?$/;

export function isPlain(text) {
  return typeof text === "string" && PLAIN.test(text);
}

export function decimalsOf(text) {
  const dot = text.indexOf(".");
  return dot < 0 ? 0 : text.length - dot - 1;
}

// "12.340" -> {int: 12340n, scale: 3}. Accepts an optional leading minus (API values such as changes).
export function parse(text) {
  if (typeof text !== "string" || !/^-?[0-9]+(\.[0-9]+)?$/.test(text)) {
    throw new Error(`not a decimal string: ${text}`);
  }
  const negative = text.startsWith("-");
  const body = negative ? text.slice(1) : text;
  const [whole, frac = ""] = body.split(".");
  const int = BigInt(whole + frac) * (negative ? -1n : 1n);
  return { int, scale: frac.length };
}

function align(a, b) {
  const scale = Math.max(a.scale, b.scale);
  return [a.int * 10n ** BigInt(scale - a.scale), b.int * 10n ** BigInt(scale - b.scale), scale];
}

export function toString({ int, scale }) {
  const negative = int < 0n;
  let digits = (negative ? -int : int).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, "0");
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`.replace(/0+$/, "").replace(/\.$/, "");
  }
  return (negative && digits !== "0" ? "-" : "") + digits;
}

export function compare(a, b) {
  const [x, y] = align(parse(a), parse(b));
  return x < y ? -1 : x > y ? 1 : 0;
}

export function isZero(a) {
  return parse(a).int === 0n;
}

export function add(a, b) {
  const [x, y, scale] = align(parse(a), parse(b));
  return toString({ int: x + y, scale });
}

export function sub(a, b) {
  const [x, y, scale] = align(parse(a), parse(b));
  return toString({ int: x - y, scale });
}

export function mul(a, b) {
  const x = parse(a);
  const y = parse(b);
  return toString({ int: x.int * y.int, scale: x.scale + y.scale });
}

// True when `value` is a whole multiple of `step` (tick size, lot size).
export function isMultiple(value, step) {
  const [x, y] = align(parse(value), parse(step));
  return y !== 0n && x % y === 0n;
}

// Truncate (towards zero) to `places` decimals: for display and for "max" helpers, never for rounding
// money in the user's favour.
export function truncate(value, places) {
  const { int, scale } = parse(value);
  if (scale <= places) return toString({ int, scale });
  return toString({ int: int / 10n ** BigInt(scale - places), scale: places });
}

// Largest multiple of `step` not above `value` (e.g. "use all my balance" rounded down to the lot).
export function floorToStep(value, step) {
  const [x, y, scale] = align(parse(value), parse(step));
  if (y === 0n) return value;
  return toString({ int: (x / y) * y, scale });
}

// Grouped for people: "1234567.5" -> "1,234,567.5"; keeps every decimal (or pads to `minPlaces`).
export function format(value, minPlaces = 0) {
  if (value === null || value === undefined || value === "") return "—";
  let text = String(value);
  if (!/^-?[0-9]+(\.[0-9]+)?$/.test(text)) return text;
  const negative = text.startsWith("-");
  if (negative) text = text.slice(1);
  let [whole, frac = ""] = text.split(".");
  if (frac.length < minPlaces) frac = frac.padEnd(minPlaces, "0");
  whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (negative ? "-" : "") + whole + (frac ? `.${frac}` : "");
}

// Pad to the number of decimals a step implies ("0.01" -> 2) so columns line up.
export function formatStep(value, step) {
  return format(value, step ? decimalsOf(String(step)) : 0);
}

// For chart geometry ONLY (pixel positions): never used for amounts that are shown or sent.
export function toNumberForChart(value) {
  return Number(value);
}
