// Who is signed in (from GET /api/v1/auth/me) and the app's public config (GET /web/config).
import { api, ApiError, csrfToken, get, post } from "./api.js";

const listeners = new Set();
export const state = { user: null, config: { dev_tools: false, faucet: false, chain_simulator: false } };

export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit() {
  for (const fn of listeners) fn(state);
}

export async function loadConfig() {
  try {
    state.config = await get("/web/config");
  } catch {
    // Without config the app still works; development helpers simply stay hidden.
  }
  return state.config;
}

export async function loadUser() {
  // No CSRF cookie means no session cookies either (they are set and cleared together): skip the
  // request that could only answer 401.
  if (!csrfToken()) {
    state.user = null;
    emit();
    return null;
  }
  try {
    state.user = await get("/api/v1/auth/me");
  } catch (exc) {
    if (!(exc instanceof ApiError) || exc.status !== 401) throw exc;
    state.user = null;
  }
  emit();
  return state.user;
}

export async function login(email, password, totpCode) {
  const body = { email, password, use_cookies: true };
  if (totpCode) body.totp_code = totpCode;
  const result = await api("/api/v1/auth/login", { method: "POST", body, retry: false });
  state.user = result.user;
  emit();
  return result.user;
}

export async function logout() {
  try {
    await post("/api/v1/auth/logout", undefined, { retry: false });
  } catch {
    // Already signed out server-side (expired or revoked): the cookies are cleared either way below.
  }
  state.user = null;
  emit();
}

export function signedOut() {
  if (state.user) {
    state.user = null;
    emit();
  }
}

export const isAdmin = () => Boolean(state.user && state.user.role === "admin");
