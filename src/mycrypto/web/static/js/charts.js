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

export function drawCandles(canvas, candles) {
  const { ctx, width, height } = setup(canvas);
  const padRight = 64;
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
  const plotW = width - padRight;
  const slot = plotW / Math.max(candles.length, 30);
  const body = Math.max(1, Math.min(12, slot * 0.7));
  const y = (v) => 6 + (plotH - 6) * (1 - (v - min) / (max - min));
  ctx.strokeStyle = COLORS.grid;
  ctx.fillStyle = COLORS.text;
  ctx.lineWidth = 1;
  for (const t of niceTicks(min, max, 5)) {
    const yy = Math.round(y(t)) + 0.5;
    ctx.beginPath(); ctx.moveTo(0, yy); ctx.lineTo(plotW, yy); ctx.stroke();
    ctx.fillText(label(t), plotW + 6, yy + 4);
  }
  const offset = plotW - candles.length * slot;
  candles.forEach((c, i) => {
    const x = offset + i * slot + slot / 2;
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
  const first = new Date(candles[0].open_time);
  const last = new Date(candles[candles.length - 1].open_time);
  ctx.fillText(first.toLocaleString(), Math.max(2, offset), height - 4);
  const lastText = last.toLocaleTimeString();
  ctx.fillText(lastText, plotW - ctx.measureText(lastText).width, height - 4);
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
  ctx.fillText("Asks", width - 30, 12);
}
