// A live order book from the `book:<SYMBOL>` stream, rebuilt exactly by the resync procedure of
// docs/streams.md: buffer diffs, fetch the REST snapshot (it carries its sequence id), drop buffered
// diffs at or before it, apply the rest; a diff whose prev_seq is not the last applied seq (a gap), or
// a `resync` frame from the server, starts over. While the stream is down the book is polled instead.
import { get } from "./api.js";
import { compare, isZero } from "./decimal.js";
import * as live from "./live.js";
import { poll } from "./ui.js";

const SNAPSHOT_DEPTH = 200;
const POLL_MS = 1000;

// onBook({bids, asks}) gets the trusted levels, best first ([price, qty] strings), at most once a frame.
export function liveBook(symbol, { onBook, onError = () => {}, minLevels = 12 }) {
  const stream = `book:${symbol}`;
  const key = `book:${symbol}`;
  let bids = new Map();
  let asks = new Map();
  let edge = { bids: null, asks: null };  // worst snapshot price of a truncated side: beyond it we know nothing
  let lastSeq = null;
  let buffer = null;                        // diffs received while a snapshot is on its way
  let generation = 0;
  let stopPoll = null;
  let stopped = false;
  let frame = null;
  let retryTimer = null;

  const seqOf = (snap) => (snap.seq ?? snap.update_id);

  function trusted(side, levels) {
    const limit = edge[side];
    const better = side === "bids" ? (p) => compare(p, limit) >= 0 : (p) => compare(p, limit) <= 0;
    const sorted = [...levels.entries()].sort(side === "bids" ? (a, b) => compare(b[0], a[0]) : (a, b) => compare(a[0], b[0]));
    return limit === null ? sorted : sorted.filter(([p]) => better(p));
  }

  function publish() {
    if (frame !== null) return;
    frame = requestAnimationFrame(() => {
      frame = null;
      if (stopped || buffer) return;
      const book = { bids: trusted("bids", bids), asks: trusted("asks", asks) };
      // Levels removed from a truncated snapshot's top: what is behind them must be fetched again.
      if ((edge.bids !== null && book.bids.length < minLevels) || (edge.asks !== null && book.asks.length < minLevels)) {
        resync("thin");
        return;
      }
      onBook(book);
    });
  }

  function applyLevels(map, levels) {
    for (const [price, qty] of levels || []) {
      if (isZero(qty)) map.delete(price); else map.set(price, qty);
    }
  }

  function apply(d) {
    if (lastSeq !== null && d.seq <= lastSeq) return true;           // already in the snapshot
    if (lastSeq !== null && d.prev_seq !== lastSeq) return false;     // a gap
    applyLevels(bids, d.bids);
    applyLevels(asks, d.asks);
    lastSeq = d.seq;
    return true;
  }

  async function resync(reason) {
    generation += 1;
    const mine = generation;
    clearTimeout(retryTimer);
    buffer = [];
    live.setResyncing(key, true);
    try {
      const snap = await get(`/api/v1/orderbook/${encodeURIComponent(symbol)}?depth=${SNAPSHOT_DEPTH}`);
      if (mine !== generation || stopped) return;
      bids = new Map(snap.bids);
      asks = new Map(snap.asks);
      edge = {
        bids: snap.bids.length >= SNAPSHOT_DEPTH ? snap.bids[snap.bids.length - 1][0] : null,
        asks: snap.asks.length >= SNAPSHOT_DEPTH ? snap.asks[snap.asks.length - 1][0] : null,
      };
      lastSeq = seqOf(snap);
      const pending = buffer;
      buffer = null;
      for (const d of pending) {
        if (!apply(d)) {
          // The snapshot is older than the oldest diff we hold: try again shortly.
          buffer = null;
          retryTimer = setTimeout(() => resync("gap after snapshot"), 200);
          return;
        }
      }
      live.setResyncing(key, false);
      publish();
    } catch (exc) {
      if (mine !== generation || stopped) return;
      buffer = null;
      onError(exc);
      retryTimer = setTimeout(() => { if (live.isUp(stream)) resync(reason); }, 1000);
    }
  }

  async function pollOnce() {
    const snap = await get(`/api/v1/orderbook/${encodeURIComponent(symbol)}?depth=50`);
    onBook({ bids: snap.bids, asks: snap.asks });
  }

  const off = live.subscribe(stream, {
    up() {
      if (stopPoll) { stopPoll(); stopPoll = null; }
      resync("subscribed");
    },
    down() {
      generation += 1;
      buffer = null;
      lastSeq = null;
      live.setResyncing(key, false);
      if (!stopPoll && !stopped) stopPoll = poll(pollOnce, POLL_MS, onError);
    },
    data(d) {
      if (buffer) { buffer.push(d); return; }
      if (lastSeq === null) return;
      if (!apply(d)) { resync("gap"); return; }
      publish();
    },
    resync(reason) { resync(reason || "server"); },
  });
  if (!live.isUp(stream) && !stopPoll) stopPoll = poll(pollOnce, POLL_MS, onError);

  return {
    stop() {
      stopped = true;
      generation += 1;
      clearTimeout(retryTimer);
      if (frame !== null) cancelAnimationFrame(frame);
      live.setResyncing(key, false);
      off();
      if (stopPoll) stopPoll();
    },
    // The exact book as rebuilt (tests compare it with REST).
    levels: () => ({ seq: lastSeq, bids: trusted("bids", bids), asks: trusted("asks", asks) }),
  };
}
