// Our own small canvas charts: candles (OHLC + volume) and market depth. No third-party code.
//
// Numbers are converted to JS floats here ONLY to compute pixel positions; nothing drawn is ever
// sent back to the server. Up candles are hollow and down candles are filled, so the direction does
// not depend on colour. Each canvas is role=img with a text summary kept in its aria-label.
import { toNumberForChart as num } from "./decimal.js";

const COLORS = { up: "#3fb950", down: "#ff7b72", grid: "#30363d", text: "#9da7b3", bid: "#3fb950", ask: "#ff7b72" };

function setup(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 600;
  const height = canvas.clientHeight || 280;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.font = "11px system-ui, sans-serif";
  return { ctx, width, height };
}

function niceTicks(min, max, count) {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(min / step) * step; v <= max + 1e-12; v += step) out.push(v);
  return out;
}

function label(value) {
  const abs = Math.abs(value);
  const digits = abs >= 1000 ? 0 : abs >= 1 ? 2 : abs >= 0.01 ? 4 : 8;
  return value.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

// The time-axis text of a candle: the time of day, the date for daily candles, both when the
// candles shown span more than a day.
function timeFormatter(candles) {
  const times = candles.map((c) => new Date(c.open_time).getTime());
  const span = times[times.length - 1] - times[0];
  let step = times.length > 1 ? Infinity : 0; // one candle: its interval is unknown, show its time
  for (let i = 1; i < times.length; i++) step = Math.min(step, times[i] - times[i - 1]);
  const DAY = 86400000;
  const options = step >= DAY ? { month: "short", day: "numeric" }
    : span >= DAY ? { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }
      : { hour: "2-digit", minute: "2-digit" };
  return (candle) => new Date(candle.open_time).toLocaleString(undefined, options);
}

// As many time labels as fit without touching each other, newest first (the newest is always shown),
// each centred under its candle and kept inside the canvas.
function drawTimeAxis(ctx, candles, xOf, width, baseline) {
  const text = timeFormatter(candles);
  const gap = 12;
  const labelWidth = ctx.measureText(text(candles[candles.length - 1])).width; // labels of one format are about as wide
  const slot = candles.length > 1 ? Math.abs(xOf(1) - xOf(0)) : labelWidth;
  const every = Math.max(1, Math.ceil((labelWidth + gap) / Math.max(slot, 1e-6)));
  let limit = width - 2 + gap; // a label must end `gap` px before this: the previous label's left edge
  for (let i = candles.length - 1; i >= 0; i -= every) {
    const t = text(candles[i]);
    const w = ctx.measureText(t).width;
    const left = Math.min(Math.max(2, xOf(i) - w / 2), width - 2 - w);
    if (left < 2 || left + w + gap > limit) continue;
    ctx.fillText(t, left, baseline);
    limit = left;
  }
}

export function drawCandles(canvas, candles) {
  const { ctx, width, height } = setup(canvas);
  const padBottom = 18;
  const volumeHeight = Math.round(height * 0.18);
  const plotH = height - padBottom - volumeHeight - 8;
  if (!candles.length) {
    ctx.fillStyle = COLORS.text;
    ctx.fillText("No trades in this period yet.", 12, height / 2);
    return;
  }
  const lows = candles.map((c) => num(c.low));
  const highs = candles.map((c) => num(c.high));
  let min = Math.min(...lows);
  let max = Math.max(...highs);
  if (max === min) { max += max * 0.001 || 1; min -= min * 0.001 || 1; }
  const vmax = Math.max(...candles.map((c) => num(c.volume))) || 1;
  // The price axis is as wide as its widest label (long prices such as 0.00001234 are not cut off).
  const ticks = niceTicks(min, max, 5).map((t) => [t, label(t)]);
  const padRight = Math.ceil(Math.max(40, ...ticks.map(([, text]) => ctx.measureText(text).width)) + 12);
  const plotW = width - padRight;
  const slot = plotW / Math.max(candles.length, 30);
  const body = Math.max(1, Math.min(12, slot * 0.7));
  const y = (v) => 6 + (plotH - 6) * (1 - (v - min) / (max - min));
  ctx.strokeStyle = COLORS.grid;
  ctx.fillStyle = COLORS.text;
  ctx.lineWidth = 1;
  for (const [t, text] of ticks) {
    const yy = Math.round(y(t)) + 0.5;
    ctx.beginPath(); ctx.moveTo(0, yy); ctx.lineTo(plotW, yy); ctx.stroke();
    ctx.fillText(text, plotW + 6, yy + 4);
  }
  const offset = plotW - candles.length * slot;
  const xOf = (i) => offset + i * slot + slot / 2;
  candles.forEach((c, i) => {
    const x = xOf(i);
    const o = num(c.open); const cl = num(c.close);
    const up = cl >= o;
    const color = up ? COLORS.up : COLORS.down;
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.beginPath(); ctx.moveTo(Math.round(x) + 0.5, y(num(c.high))); ctx.lineTo(Math.round(x) + 0.5, y(num(c.low))); ctx.stroke();
    const top = y(Math.max(o, cl));
    const h = Math.max(1, Math.abs(y(o) - y(cl)));
    if (up) {
      ctx.fillStyle = "#010409";
      ctx.fillRect(x - body / 2, top, body, h);
      ctx.strokeRect(Math.round(x - body / 2) + 0.5, Math.round(top) + 0.5, Math.max(1, Math.round(body) - 1), Math.max(1, Math.round(h) - 1));
    } else {
      ctx.fillRect(x - body / 2, top, body, h);
    }
    const vh = (num(c.volume) / vmax) * volumeHeight;
    ctx.globalAlpha = 0.45;
    ctx.fillStyle = color;
    ctx.fillRect(x - body / 2, height - padBottom - vh, body, vh);
    ctx.globalAlpha = 1;
  });
  ctx.fillStyle = COLORS.text;
  drawTimeAxis(ctx, candles, xOf, width, height - 4);
}

export function drawDepth(canvas, book) {
  const { ctx, width, height } = setup(canvas);
  const bids = book.bids.map(([p, q]) => [num(p), num(q)]);
  const asks = book.asks.map(([p, q]) => [num(p), num(q)]);
  if (!bids.length && !asks.length) {
    ctx.fillStyle = COLORS.text;
    ctx.fillText("The order book is empty.", 12, height / 2);
    return;
  }
  let cum = 0;
  const bidPts = bids.map(([p, q]) => [p, (cum += q)]);
  cum = 0;
  const askPts = asks.map(([p, q]) => [p, (cum += q)]);
  const prices = [...bidPts, ...askPts].map((p) => p[0]);
  let min = Math.min(...prices);
  let max = Math.max(...prices);
  if (max === min) { max += 1; min -= 1; }
  const vmax = Math.max(1e-18, ...bidPts.map((p) => p[1]), ...askPts.map((p) => p[1]));
  const padBottom = 16;
  const x = (p) => ((p - min) / (max - min)) * (width - 8) + 4;
  const y = (v) => (height - padBottom) - (v / vmax) * (height - padBottom - 6);
  const area = (pts, color) => {
    if (!pts.length) return;
    ctx.beginPath();
    let prevY = y(0);
    ctx.moveTo(x(pts[0][0]), prevY);
    for (const [p, v] of pts) { ctx.lineTo(x(p), prevY); prevY = y(v); ctx.lineTo(x(p), prevY); }
    ctx.lineTo(x(pts[pts.length - 1][0]), y(0));
    ctx.closePath();
    ctx.globalAlpha = 0.25; ctx.fillStyle = color; ctx.fill();
    ctx.globalAlpha = 1; ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.stroke();
  };
  area(bidPts, COLORS.bid);
  area(askPts, COLORS.ask);
  ctx.fillStyle = COLORS.text;
  ctx.fillText(label(min), 4, height - 3);
  const maxText = label(max);
  ctx.fillText(maxText, width - ctx.measureText(maxText).width - 4, height - 3);
  ctx.fillText("Bids", 6, 12);
  ctx.fillText("Asks", width - ctx.measureText("Asks").width - 6, 12);
}
