// The app's JSON API, called from the page (same origin).
//
// In Azure the API wants a function key. The page never holds one in its HTML or in a
// URL (URLs end up in logs, history and Referer headers): the operator types it into the
// key field, it stays in this tab's sessionStorage, and goes out as the x-functions-key
// header. Locally the dev host needs none.

const KEY_ITEM = "scheduler-console.function-key";
// This module is served from <prefix>/console/assets/api.js; the API lives at <prefix>/.
export const API_BASE = new URL("../../", import.meta.url);

export function storedKey() {
  try {
    return sessionStorage.getItem(KEY_ITEM) || "";
  } catch {
    return "";  // storage disabled: the page still works without a key (locally)
  }
}

export function storeKey(value) {
  try {
    if (value) sessionStorage.setItem(KEY_ITEM, value);
    else sessionStorage.removeItem(KEY_ITEM);
  } catch {
    // Nothing to keep it in; the next request goes without a key and says so.
  }
}

/** The API's error envelope as an exception: status, code, message, details. */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = Array.isArray(details) ? details : [];
  }
}

function refusal(status, doc) {
  const error = doc && typeof doc === "object" ? doc.error : null;
  if (error && typeof error.message === "string") {
    return new ApiError(status, String(error.code || "Error"), error.message, error.details);
  }
  if (status === 401) {
    return new ApiError(401, "Unauthorized", "the app asks for a function key: enter one in the key field");
  }
  if (status === 403) return new ApiError(403, "Forbidden", "this key or sign-in may not do that");
  return new ApiError(status, "HttpError", `the app answered HTTP ${status}`);
}

/** One request; resolves to the parsed JSON (null for an empty body), rejects with ApiError. */
export async function call(method, path, body) {
  const headers = {Accept: "application/json"};
  const key = storedKey();
  if (key) headers["x-functions-key"] = key;
  const init = {method, headers, cache: "no-store", credentials: "same-origin", referrerPolicy: "no-referrer"};
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(new URL(path, API_BASE), init);
  } catch (exc) {
    throw new ApiError(0, "NetworkError", `the app did not answer (${exc.message})`);
  }
  const raw = await response.text();
  let doc = null;
  if (raw) {
    try {
      doc = JSON.parse(raw);
    } catch {
      doc = null;
    }
  }
  if (!response.ok) throw refusal(response.status, doc);
  return doc;
}

export const sid = (id) => encodeURIComponent(id);

/** Every schedule, following continuation tokens (bounded, so a runaway list cannot hang the page). */
export async function allSchedules({pageSize = 200, maxPages = 50} = {}) {
  const schedules = [];
  let token = null;
  for (let page = 0; page < maxPages; page += 1) {
    const query = new URLSearchParams({limit: String(pageSize)});
    if (token) query.set("continuationToken", token);
    const doc = await call("GET", `schedules?${query}`);
    schedules.push(...(doc.value || []));
    token = doc.continuationToken;
    if (!token) return {schedules, complete: true};
  }
  return {schedules, complete: false};
}

export const getSchedule = (id) => call("GET", `schedules/${sid(id)}`);
export const preview = (id, count = 10) => call("GET", `schedules/${sid(id)}/preview?count=${count}`);

export function runs(id, {limit = 100, token = null} = {}) {
  const query = new URLSearchParams({limit: String(limit)});
  if (token) query.set("continuationToken", token);
  return call("GET", `schedules/${sid(id)}/runs?${query}`);
}

export const me = () => call("GET", "me");
export const enable = (id) => call("POST", `schedules/${sid(id)}/enable`);
export const disable = (id) => call("POST", `schedules/${sid(id)}/disable`);
export const trigger = (id) => call("POST", `schedules/${sid(id)}/trigger`);
export const backfill = (id, from, to) => call("POST", `schedules/${sid(id)}/backfill`, {from, to});
