// The one way the app talks to the JSON APIs.
//
// Authentication is the auth service's cookie mode (docs/auth.md): after login the browser holds
// httpOnly `mc_access` / `mc_refresh` cookies that scripts cannot read, plus a readable `mc_csrf`
// cookie whose value we echo as `X-CSRF-Token` on every unsafe request (double submit). No token is
// ever stored by this code. When the access token expires (401 token_expired/invalid_token), one
// refresh is attempted (shared by concurrent callers) and the request retried once; if that fails,
// listeners of "mc:signed-out" are told so the app can send the user to the sign-in page.

const CSRF_COOKIE = "mc_csrf";
const REFRESHABLE = new Set(["token_expired", "invalid_token", "unknown_token_key", "unauthorized"]);

export class ApiError extends Error {
  constructor(status, code, message, details, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.requestId = requestId;
  }
}

export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(rest.join("="));
  }
  return null;
}

let refreshing = null;

export function refreshSession() {
  if (!refreshing) {
    const token = csrfToken();
    refreshing = (token
      ? fetch("/api/v1/auth/refresh", {
        method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": token, Accept: "application/json" },
      }).then((r) => r.ok).catch(() => false)
      : Promise.resolve(false)
    ).finally(() => { setTimeout(() => { refreshing = null; }, 0); });
  }
  return refreshing;
}

async function parseError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const err = body && body.error ? body.error : {};
  return new ApiError(response.status, err.code || `http_${response.status}`,
    err.message || `The server answered ${response.status}.`, err.details, err.request_id);
}

export async function api(path, { method = "GET", body, headers = {}, retry = true, signal } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers }, signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET" && method !== "HEAD") {
    const token = csrfToken();
    if (token) init.headers["X-CSRF-Token"] = token;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (exc) {
    if (exc && exc.name === "AbortError") throw exc;
    throw new ApiError(0, "network_error", "Cannot reach the server. Check your connection and try again.");
  }
  if (response.ok) {
    if (response.status === 204) return null;
    const type = response.headers.get("content-type") || "";
    return type.includes("json") ? response.json() : response.text();
  }
  const error = await parseError(response);
  if (response.status === 401 && retry && REFRESHABLE.has(error.code) && csrfToken()) {
    if (await refreshSession()) {
      return api(path, { method, body, headers, retry: false, signal });
    }
    window.dispatchEvent(new CustomEvent("mc:signed-out", { detail: { reason: error.code } }));
  } else if (response.status === 401 && (error.code === "session_revoked" || error.code === "account_inactive")) {
    window.dispatchEvent(new CustomEvent("mc:signed-out", { detail: { reason: error.code } }));
  }
  throw error;
}

export const get = (path, opts) => api(path, { ...opts, method: "GET" });
export const post = (path, body, opts) => api(path, { ...opts, method: "POST", body });
export const del = (path, opts) => api(path, { ...opts, method: "DELETE" });

export function query(params) {
  const usp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") usp.set(k, v);
  }
  const text = usp.toString();
  return text ? `?${text}` : "";
}

// A random idempotency key (client order id, withdrawal Idempotency-Key).
export function newKey(prefix = "web") {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
