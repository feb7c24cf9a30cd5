// The app's one WebSocket to the native stream endpoint `/ws` (docs/streams.md, docs/frontend.md
// "Live updates"). Pages subscribe per screen; this module multiplexes them over one connection,
// sends heartbeats, reconnects with backoff, and tells everyone the connection state so that a page
// polls only while its stream is not live.
//
// Authentication is the session cookie sent with the handshake (same origin), so private streams
// (orders, fills, balances, transfers, alerts, security) work for a signed-in user without any token
// in JavaScript. A sign-in or sign-out re-opens the socket (`restart()`): the server authenticates at
// the handshake only.
//
// A subscription is `live.subscribe(stream, {data, up, down, resync})`:
//   up()        the server confirmed the subscription (after every (re)connect): catch up by REST
//               once, then apply `data` frames; stop polling.
//   down(why)   the connection is gone or the server refused the stream: poll again until `up`.
//   data(d)     one data frame's `data`.
//   resync(r)   the server says the stream lost continuity (e.g. the market's owner restarted).

import { refreshSession } from "./api.js";
import { poll } from "./ui.js";

const PING_EVERY_MS = 15000;    // a heartbeat this often ...
const PONG_WITHIN_MS = 10000;   // ... must be answered (or any frame must arrive) within this
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const PRIVATE = ["orders", "fills", "balances", "transfers", "alerts", "security"];

const subs = new Map();         // stream -> Set of handler objects
const acked = new Set();        // streams the server confirmed on the current socket
const refused = new Map();      // stream -> error code the server answered (not retried on this socket)
const stateListeners = new Set();
const resyncing = new Set();    // keys of consumers rebuilding their state (book resync)
let socket = null;
let state = "idle";             // idle | connecting | live | reconnecting
let attempt = 0;
let nextId = 1;
let reconnectTimer = null;
let pingTimer = null;
let pongTimer = null;
let pending = new Map();        // request id -> {op, streams}
let enabled = false;            // /web/config "live": the deployment routes /ws (else every screen polls)

export function enable(on) {
  enabled = Boolean(on);
  if (!enabled) restart();
  else if (state === "idle" && subs.size) connect();   // subscribed before the config said yes
}

export function connectionState() {
  if (state === "live" && resyncing.size) return "resyncing";
  return state;
}

export function onState(fn) {
  stateListeners.add(fn);
  fn(connectionState());
  return () => stateListeners.delete(fn);
}

function emitState() {
  const now = connectionState();
  for (const fn of stateListeners) {
    try { fn(now); } catch { /* a listener's bug must not break the socket */ }
  }
}

function setState(next) {
  state = next;
  emitState();
}

// A consumer (the order book) says it is rebuilding from a snapshot: the state reads "resyncing".
export function setResyncing(key, on) {
  if (on) resyncing.add(key); else resyncing.delete(key);
  emitState();
}

export function isUp(stream) {
  return state === "live" && acked.has(stream);
}

function call(handler, name, ...args) {
  const fn = handler[name];
  if (typeof fn !== "function") return;
  try { fn(...args); } catch (exc) { console.warn(`live ${name} handler failed`, exc); }
}

function send(frame) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
}

function request(op, streams) {
  if (!streams.length) return;
  const id = nextId++;
  pending.set(id, { op, streams });
  send({ op, id, streams });
}

export function subscribe(stream, handler) {
  let set = subs.get(stream);
  const fresh = !set;
  if (fresh) {
    set = new Set();
    subs.set(stream, set);
  }
  set.add(handler);
  if (state === "idle") { if (enabled) connect(); }
  else if (fresh && state === "live" && !refused.has(stream)) request("subscribe", [stream]);
  else if (isUp(stream)) call(handler, "up");
  if (!isUp(stream)) call(handler, "down", refused.get(stream) || state);
  return () => {
    const current = subs.get(stream);
    if (!current) return;
    current.delete(handler);
    if (current.size === 0) {
      subs.delete(stream);
      if (acked.delete(stream)) request("unsubscribe", [stream]);
      if (!subs.size) idleSoon();
    }
  };
}

// Nobody needs the socket any more (e.g. the sign-in page): close it after a grace period, which a
// page change (old page unsubscribes, new page subscribes) never reaches.
let idleTimer = null;
function idleSoon() {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => { if (!subs.size) restart(); }, 5000);
}

function url() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

function connect() {
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  setState(attempt === 0 ? "connecting" : "reconnecting");
  let ws;
  try {
    ws = new WebSocket(url());
  } catch {
    scheduleReconnect();
    return;
  }
  socket = ws;
  pending = new Map();
  acked.clear();
  refused.clear();
  ws.addEventListener("open", () => {
    if (socket !== ws) return;
    attempt = 0;
    setState("live");
    // One request per stream: the server refuses a request as a whole, and one refused stream (a
    // private one with an expired cookie) must not take the others down with it.
    for (const stream of subs.keys()) request("subscribe", [stream]);
    heartbeat();
  });
  ws.addEventListener("message", (ev) => { if (socket === ws) onMessage(ev.data); });
  ws.addEventListener("close", () => { if (socket === ws) lost(); });
  // "error" is always followed by "close"; nothing to do here.
}

function heartbeat() {
  clearTimeout(pingTimer);
  pingTimer = setTimeout(() => {
    const id = nextId++;
    send({ op: "ping", id });
    clearTimeout(pongTimer);
    // No answer in time: the connection is dead although TCP has not noticed (sleep, Wi-Fi change).
    pongTimer = setTimeout(() => { if (socket) socket.close(4000, "heartbeat timeout"); lost(); }, PONG_WITHIN_MS);
  }, PING_EVERY_MS);
}

function onMessage(raw) {
  let frame;
  try { frame = JSON.parse(raw); } catch { return; }
  // Any frame proves the connection is alive.
  clearTimeout(pongTimer);
  heartbeat();
  switch (frame.type) {
    case "data": {
      if (!acked.has(frame.stream)) return;
      for (const h of subs.get(frame.stream) || []) call(h, "data", frame.data, frame);
      break;
    }
    case "subscribed": {
      pending.delete(frame.id);
      for (const stream of frame.streams || []) {
        if (!subs.has(stream)) { request("unsubscribe", [stream]); continue; }
        acked.add(stream);
        for (const h of subs.get(stream)) call(h, "up");
      }
      break;
    }
    case "unsubscribed":
      pending.delete(frame.id);
      break;
    case "resync": {
      for (const h of subs.get(frame.stream) || []) call(h, "resync", frame.reason);
      break;
    }
    case "error": {
      const req = pending.get(frame.id);
      pending.delete(frame.id);
      // The handshake's access cookie had expired (or expired since): refresh the session the way
      // api.js does, then reconnect so the new cookie authenticates the socket.
      if (frame.code === "auth_expired") {
        // The server ended this socket's private streams: their screens poll until we are back.
        for (const stream of PRIVATE) {
          if (!acked.delete(stream)) continue;
          refused.set(stream, "auth_expired");
          for (const h of subs.get(stream) || []) call(h, "down", "auth_expired");
        }
      }
      if (frame.code === "auth_expired" || (frame.code === "unauthenticated" && req)) reauthenticate();
      if (req && req.op === "subscribe") {
        // The server refused these streams (unknown, not signed in, limits): their screens keep polling.
        for (const stream of req.streams) {
          if (acked.has(stream)) continue;
          refused.set(stream, frame.code || "refused");
          for (const h of subs.get(stream) || []) call(h, "down", frame.code || "refused");
        }
      }
      break;
    }
    default:
      break;
  }
}

let lastReauth = 0;
function reauthenticate() {
  const now = Date.now();
  if (now - lastReauth < 30000) return;   // once per 30 s: a refused refresh must not loop
  lastReauth = now;
  refreshSession().then((ok) => { if (ok) restart(); });
}

function lost() {
  clearTimeout(pingTimer);
  clearTimeout(pongTimer);
  const was = socket;
  socket = null;
  if (was) {
    try { was.close(); } catch { /* already closed */ }
  }
  const downStreams = [...acked];
  acked.clear();
  for (const stream of downStreams) for (const h of subs.get(stream) || []) call(h, "down", "disconnected");
  scheduleReconnect();
}

function scheduleReconnect() {
  if (!subs.size || !enabled) {
    setState("idle");
    return;
  }
  const base = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
  attempt += 1;
  setState("reconnecting");
  // Jitter spreads a whole page of clients reconnecting after a server restart.
  reconnectTimer = setTimeout(connect, base + Math.floor(Math.random() * base * 0.3));
}

// Re-open the socket now (sign-in/out changes what the handshake's cookie authorises).
export function restart() {
  if (socket) {
    const was = socket;
    socket = null;
    try { was.close(1000, "session changed"); } catch { /* already closed */ }
    const downStreams = [...acked];
    acked.clear();
    for (const stream of downStreams) for (const h of subs.get(stream) || []) call(h, "down", "restart");
  }
  clearTimeout(pingTimer);
  clearTimeout(pongTimer);
  attempt = 0;
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  if (subs.size && enabled) connect();
  else setState("idle");
}

// A page helper: use the streams while they are all up, poll while any is not.
//   refresh()  the REST load; also run once each time the streams come (back) up, to catch up on what
//              happened while they were down (frames arriving meanwhile are applied after it)
//   apply      a function for every stream's data frames, or {stream: function}
// Returns a stop function.
export function liveOrPoll(streams, { refresh, apply, ms, onError = () => {} }) {
  const list = Array.isArray(streams) ? streams : [streams];
  const applyFor = (stream) => (typeof apply === "function" ? apply : apply && apply[stream]);
  const up = new Set();
  let stopPoll = null;
  let stopped = false;
  let catching = null;       // frames held while the catch-up load runs
  let scheduled = false;

  async function catchUp() {
    scheduled = false;
    if (stopped) return;
    catching = catching || [];
    try {
      await refresh();
    } catch (exc) {
      onError(exc);
    } finally {
      const held = catching || [];
      catching = null;
      for (const [stream, d] of held) deliver(stream, d);
    }
  }
  function deliver(stream, d) {
    const fn = applyFor(stream);
    if (!fn) return;
    try { fn(d, stream); } catch (exc) { onError(exc); }
  }
  function sync() {
    if (stopped) return;
    if (up.size === list.length) {
      if (stopPoll) { stopPoll(); stopPoll = null; }
      if (!scheduled) { scheduled = true; setTimeout(catchUp, 0); }
    } else if (!stopPoll) {
      stopPoll = poll(refresh, ms, onError);
    }
  }
  const offs = list.map((stream) => subscribe(stream, {
    up() { up.add(stream); sync(); },
    down() { up.delete(stream); sync(); },
    data(d) { if (catching) catching.push([stream, d]); else deliver(stream, d); },
    resync() { if (!scheduled) { scheduled = true; setTimeout(catchUp, 0); } },
  }));
  sync();
  return () => {
    stopped = true;
    offs.forEach((off) => off());
    if (stopPoll) stopPoll();
  };
}
