// DOM building and formatting shared by the console's views.
//
// Every piece of data reaches the page through textContent or an attribute set here,
// never parsed as HTML: schedule ids, descriptions and AML's error messages are
// whatever someone typed, and must stay text. No style attribute is ever set either, so
// the page runs under a Content-Security-Policy without 'unsafe-inline'.

export const DASH = "\u2014";
const SVG_NS = "http://www.w3.org/2000/svg";

function fill(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "style" || /html$/i.test(name)) throw new Error(`el(): ${name} is not allowed`);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** An HTML element: el("a", {href: "#/", class: "x", text: "home"}, ...children). */
export function el(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** An SVG element, built the same way. */
export function svg(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

export function parseTime(value) {
  if (typeof value !== "string" || !value) return null;
  const time = Date.parse(value);
  return Number.isNaN(time) ? null : new Date(time);
}

const LOCAL = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
});

/** The browser's local time, or the dash. */
export function localTime(value) {
  const time = value instanceof Date ? value : parseTime(value);
  return time ? LOCAL.format(time) : DASH;
}

/** UTC as 2026-11-22 01:30:00Z, or the dash. */
export function utcTime(value) {
  const time = value instanceof Date ? value : parseTime(value);
  return time ? time.toISOString().replace("T", " ").replace(/\.\d{3}Z$/, "Z") : DASH;
}

/** A <time> element showing local time, with UTC in its title. */
export function timeCell(value) {
  const time = parseTime(value);
  if (!time) return DASH;
  return el("time", {datetime: time.toISOString(), title: utcTime(time), text: localTime(time)});
}

export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return DASH;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes % 60} min`;
}

export function percent(rate) {
  return typeof rate === "number" && Number.isFinite(rate) ? `${Math.round(rate * 100)}%` : DASH;
}

/** Text for a value the API may leave out. */
export function text(value) {
  return value === undefined || value === null || value === "" ? DASH : String(value);
}

// Health as the API reports it; without it, what enabled and pausedReason alone can say
// (whether an enabled schedule is late or failing is the API's to judge, not the page's).
export const HEALTH = ["ok", "late", "failing", "paused", "disabled", "unknown"];
const HEALTH_TEXT = {
  ok: "OK", late: "late", failing: "failing", paused: "paused", disabled: "disabled",
  unknown: "not reported",
};

export function health(schedule) {
  if (HEALTH.includes(schedule.health)) return schedule.health;
  if (schedule.pausedReason) return "paused";
  if (schedule.enabled === false) return "disabled";
  return "unknown";
}

export function healthBadge(state, reason) {
  return el("span", {class: `health health-${state}`, title: reason || null},
    el("span", {class: "dot", "aria-hidden": "true"}), HEALTH_TEXT[state] || state);
}

/** The target's kind and what it names, as the API's target JSON has them. */
export function targetName(target) {
  if (!target || typeof target !== "object") return DASH;
  switch (target.kind) {
    case "pipeline": return text(target.pipelineId);
    case "pipelineEndpoint":
      return text(target.pipelineEndpointId) + (target.pipelineVersion ? ` v${target.pipelineVersion}` : "");
    case "batchEndpoint":
      return text(target.endpointName) + (target.deployment ? ` / ${target.deployment}` : "");
    case "job": {
      const job = target.job || {};
      return text(job.displayName || job.experimentName || job.jobType);
    }
    default: return DASH;
  }
}

/** When the schedule fires next: `nextRun` if the API gives it, else the cursor. */
export function nextFire(schedule) {
  const next = schedule.nextRun;
  if (typeof next === "string") return next;
  if (next && typeof next === "object" && typeof next.utc === "string") return next.utc;
  return schedule.nextFireTime || null;
}

/** A link into AML studio, only when the API gave an https one (never a script URL). */
export function studioLink(url, label) {
  if (typeof url !== "string" || !/^https:\/\//i.test(url)) return null;
  return el("a", {href: url, target: "_blank", rel: "noopener noreferrer", text: label || "open in AML studio"});
}
