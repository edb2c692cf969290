// The one way pages speak to kadr: the public /v1 API with fetch, and the browser session.
//
// The session: signing in asks the API for a cookie session. The refresh token then lives in an
// HttpOnly cookie sent only to /v1/auth (no script can read it); the short-lived access token
// lives in this module's memory only, never in localStorage. A page load, or an answer 401
// (the access token expired), spends the cookie for a new access token, proving with the
// X-CSRF-Token header (the readable kadr_csrf cookie's value) that this app, not another
// site, asks. When that fails too, the session is over: SessionExpired sends the user to sign in.

const CSRF_COOKIE = "kadr_csrf";
const CSRF_HEADER = "X-CSRF-Token";

const session = { accessToken: null, expiresAt: 0, lifetimeMs: 0, user: null };
const listeners = new Set();
let refreshing = null;

/** An answer of the API that is not a success: `problem` is its RFC 9457 body. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `the API answered ${status}`);
    this.status = status;
    this.problem = problem;
    this.slug = String(problem.type || "").split("/").pop();
  }
}

/** The API did not answer at all (server down, network gone). */
export class ApiUnreachable extends Error {
  constructor() {
    super("kadr's API is not answering");
  }
}

/** No valid session: the user has to sign in (again). */
export class SessionExpired extends Error {
  constructor() {
    super("your session has ended; sign in again");
  }
}

export function signedIn() {
  return session.accessToken !== null;
}

export function currentUser() {
  return session.user;
}

/** Call `listener(user or null)` whenever the user signs in or out. */
export function onSessionChange(listener) {
  listeners.add(listener);
}

function announce() {
  for (const listener of listeners) listener(session.user);
}

function readCookie(name) {
  const prefix = `${name}=`;
  const found = document.cookie.split("; ").find((part) => part.startsWith(prefix));
  return found ? decodeURIComponent(found.slice(prefix.length)) : "";
}

function adopt(tokens) {
  session.accessToken = tokens.access_token;
  session.lifetimeMs = tokens.expires_in * 1000;
  session.expiresAt = Date.now() + session.lifetimeMs;
}

function forget() {
  const wasSignedIn = session.accessToken !== null;
  session.accessToken = null;
  session.expiresAt = 0;
  session.user = null;
  if (wasSignedIn) announce();
}

async function send(path, { method = "GET", json, body, headers = {}, signal } = {}) {
  const init = { method, headers: { ...headers }, credentials: "same-origin", signal };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  try {
    return await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiUnreachable();
  }
}

export async function problemOf(response) {
  try {
    const body = await response.json();
    if (body && typeof body === "object") return body;
  } catch {
    // not JSON: a proxy's error page, say
  }
  return {
    status: response.status,
    title: response.statusText,
    detail: `the server answered ${response.status} ${response.statusText}`.trim(),
  };
}

/**
 * Spend the session cookie for a new access token; true when it worked. One refresh at a
 * time, across tabs too (Web Locks): two tabs spending the same refresh token would look
 * like a stolen token to the API, which then ends the whole session.
 */
export function refreshSession() {
  refreshing ??= refreshOnce().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function refreshOnce() {
  const attempt = async () => {
    const csrf = readCookie(CSRF_COOKIE);
    if (!csrf) {
      forget(); // never signed in here, or signed out: nothing to refresh
      return false;
    }
    const response = await send("/v1/auth/refresh", { method: "POST", headers: { [CSRF_HEADER]: csrf } });
    if (response.ok) {
      adopt(await response.json());
      if (!session.user) await loadUser();
      return true;
    }
    if (response.status >= 500) throw new ApiError(response.status, await problemOf(response));
    forget();
    return false;
  };
  return navigator.locks ? navigator.locks.request("kadr-session-refresh", attempt) : attempt();
}

async function loadUser() {
  const response = await send("/v1/me", { headers: { Authorization: `Bearer ${session.accessToken}` } });
  if (response.ok) {
    session.user = await response.json();
    announce();
  }
}

/** Restore the session when the app loads (a reload keeps the user signed in). */
export async function restoreSession() {
  return refreshSession();
}

export async function signIn(email, password) {
  const response = await send("/v1/auth/login", {
    method: "POST",
    json: { email, password, session: "cookie" },
  });
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  adopt(await response.json());
  await loadUser();
}

export async function signUp(fields) {
  const response = await send("/v1/auth/register", { method: "POST", json: fields });
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  await signIn(fields.email, fields.password);
}

/** Revoke the session on the server and clear its cookies; forgotten here whatever happens. */
export async function signOut() {
  try {
    await send("/v1/auth/logout", { method: "POST", headers: { [CSRF_HEADER]: readCookie(CSRF_COOKIE) } });
  } finally {
    forget();
  }
}

/** Keep the profile shown in the header in step after a change. */
export function updateUser(user) {
  session.user = user;
  announce();
}

/**
 * Call the API: `api("/v1/videos")`, `api("/v1/runs", { method: "POST", json: {...} })`.
 * Resolves with the JSON body (null for 204); rejects with ApiError, ApiUnreachable or
 * SessionExpired. An expired access token is refreshed once, and the call repeated.
 */
export async function api(path, { method = "GET", json, body, headers = {}, signal, auth = true } = {}) {
  if (auth && !signedIn() && !(await refreshSession())) throw new SessionExpired();
  const attempt = () =>
    send(path, {
      method,
      json,
      body,
      signal,
      headers: auth ? { ...headers, Authorization: `Bearer ${session.accessToken}` } : headers,
    });
  let response = await attempt();
  if (response.status === 401 && auth) {
    if (!(await refreshSession())) throw new SessionExpired();
    response = await attempt();
    if (response.status === 401) {
      forget();
      throw new SessionExpired();
    }
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

/** An access token good for a request that cannot be repeated cheaply (an upload). */
export async function freshAccessToken() {
  const margin = Math.min(30_000, session.lifetimeMs / 2);
  if (!signedIn() || Date.now() >= session.expiresAt - margin) {
    if (!(await refreshSession())) throw new SessionExpired();
  }
  return session.accessToken;
}

/** A new Idempotency-Key: the same form sent twice creates one thing. */
export function idempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}
