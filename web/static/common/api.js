// The HTTP API as the screens call it: the session cookie, its CSRF token on every change,
// and errors turned into words a dispatcher reads (with the triggers allowed instead on a 409).

import { has, language, t } from "./i18n.js";

let csrfToken = null;
export let session = null;

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || (status === 0 ? "network" : "error");
    this.field = error.field || null;
    this.state = error.state || null;
    this.allowed = error.allowed || null;
    this.retryAfter = error.retry_after || null;
  }
}

/** Call the API; resolves to the JSON body, rejects with an ApiError. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, { error: { code: "network", message: String(err) } });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const err = new ApiError(response.status, data);
    if (response.status === 401 && path !== "/api/v1/session") toLogin("expired");
    throw err;
  }
  return data;
}

/** Who is logged in; sends the browser to the login page when nobody is. */
export async function loadSession({ roles } = {}) {
  try {
    session = await api("GET", "/api/v1/session");
  } catch (err) {
    if (err.status === 401) toLogin();
    throw err;
  }
  csrfToken = session.csrf_token;
  if (roles && !roles.includes(session.user.role)) {
    location.replace(session.home || "/");
    throw new Error("wrong screen for this role");
  }
  return session;
}

/**
 * Use a session answer read earlier (the tablet starting without signal keeps one on the device):
 * names and settings for the page; no CSRF token until the next loadSession().
 */
export function adoptSession(saved) {
  session = saved;
  csrfToken = saved.csrf_token || null;
  return session;
}

let sessionEnded = null;

/** A page that must never show the login form (the big screen's kiosk) handles the end itself. */
export function onSessionEnded(handler) {
  sessionEnded = handler;
}

/** Set by logout(): the sockets the server closes on logout must not race its own navigation. */
let leaving = false;

export function toLogin(reason) {
  if (leaving) return;
  if (sessionEnded) {
    sessionEnded(reason);
    return;
  }
  const next = location.pathname + location.search;
  const query = new URLSearchParams({ next });
  if (reason) query.set("reason", reason);
  location.replace(`/?${query}`);
}

export async function logout() {
  leaving = true;
  try {
    await api("DELETE", "/api/v1/session");
  } finally {
    location.replace("/?reason=logged_out");
  }
}

/** An error in the user's words: what went wrong, and what is allowed instead on a 409. */
export function describeError(err) {
  if (!(err instanceof ApiError)) return t("error.error");
  const head = has(`error.${err.code}`) ? t(`error.${err.code}`, { seconds: err.retryAfter ?? "" }) : t("error.error");
  const parts = [head];
  if (err.code === "illegal_transition" && err.allowed) {
    const allowed = err.allowed.map((name) =>
      t(`incident_trigger.${name}`, { fallback: t(`task_trigger.${name}`, { fallback: name }) }),
    );
    parts.push(allowed.length ? t("error.allowed", { allowed: allowed.join("、") }) : t("error.none_allowed"));
  } else if (language === "en" && err.message && !["network", "too_many_attempts"].includes(err.code)) {
    parts.push(err.message); // the server's own words are English
  } else if (err.field && ["invalid", "bad_request"].includes(err.code)) {
    parts.push(err.field);
  }
  return parts.join(" — ");
}
