// A schedule's recent slots on a time axis, drawn as inline SVG.
//
// One mark per run record: it starts at the slot (or when the run was submitted) and is
// as long as the run took; a run still going reaches "now". Skipped and missed slots take
// no time but get a mark of their own, so a hole in the history is visible as a hole.
// Colour says the outcome (the stylesheet's .mark-* classes), and each mark has a <title>
// for pointer and screen-reader users; the run table below is the same data as text.

import {duration, el, localTime, parseTime, svg, utcTime} from "./dom.js";

export const OUTCOMES = [
  ["Completed", "Completed"],
  ["Failed", "Failed"],
  ["SubmitFailed", "Submit failed"],
  ["TimedOut", "Timed out"],
  ["Canceled", "Canceled"],
  ["Running", "Running (submitted, queued or running)"],
  ["Pending", "Claimed, waiting to submit"],
  ["Missed", "Missed (misfire policy, or disabled)"],
  ["Skipped", "Skipped"],
];
const KNOWN = new Set(OUTCOMES.map(([key]) => key));
const WIDTH = 1000;
const LANE = 18;
const AXIS = 28;
const PAD = 8;
const MIN_MARK = 4;
const MAX_LANES = 6;

/** Which legend entry a run record belongs to. */
export function outcome(run) {
  switch (run.status) {
    case "Submitted": case "Queued": case "Running": return "Running";
    case "Claimed": return "Pending";
    // The engine says "missed: ..." for slots the misfire policy (or a disabled schedule) passed over.
    case "Skipped": return /^missed\b/i.test(run.reason || "") ? "Missed" : "Skipped";
    default: return KNOWN.has(run.status) ? run.status : "Pending";
  }
}

function span(run, now) {
  const slot = parseTime(run.slot);
  if (!slot) return null;
  const kind = outcome(run);
  let start = slot;
  let end = slot;
  if (kind === "Missed" || kind === "Skipped") {
    // A record may stand for several skipped slots in a row (skippedCount).
    end = parseTime(run.lastSkippedSlot) || slot;
  } else {
    start = parseTime(run.submittedAt) || slot;
    end = parseTime(run.finishedAt) || (kind === "Running" ? now : start);
    if (end < start) end = start;
  }
  return {run, kind, slot, start, end};
}

function describe(item) {
  const {run, kind, slot, start, end} = item;
  const label = OUTCOMES.find(([key]) => key === kind)[1];
  const parts = [`slot ${utcTime(slot)} (${localTime(slot)})`, label];
  if (run.skippedCount > 1) parts.push(`${run.skippedCount} slots, last ${utcTime(run.lastSkippedSlot)}`);
  else if (kind !== "Missed" && kind !== "Skipped" && kind !== "Pending") parts.push(duration(end - start));
  if (run.trigger && run.trigger !== "schedule") parts.push(`${run.trigger} run`);
  if (run.error?.message) parts.push(String(run.error.message).slice(0, 200));
  else if (run.reason) parts.push(String(run.reason).slice(0, 200));
  return parts.join(" \u00B7 ");
}

/** Greedy lanes, so runs that overlap (concurrency Allow) sit one above the other. */
function placeInLanes(items, x, minGap) {
  const laneEnds = [];
  for (const item of items) {
    const left = x(item.start);
    let lane = laneEnds.findIndex((end) => end + minGap <= left);
    if (lane === -1) lane = laneEnds.length < MAX_LANES ? laneEnds.length : laneEnds.length - 1;
    item.lane = lane;
    laneEnds[lane] = Math.max(laneEnds[lane] ?? -Infinity, left + Math.max(MIN_MARK, x(item.end) - left));
  }
  return Math.max(1, laneEnds.length);
}

function ticks(from, to) {
  const count = 5;
  const step = (to - from) / count;
  const sameDay = new Date(from).toDateString() === new Date(to).toDateString();
  const format = new Intl.DateTimeFormat(undefined, sameDay
    ? {hour: "2-digit", minute: "2-digit", second: "2-digit"}
    : {month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit"});
  return Array.from({length: count + 1}, (_, i) => {
    const at = from + i * step;
    return {at, label: format.format(new Date(at))};
  });
}

/**
 * The timeline figure for `runs` (records of one schedule, any order): an SVG, its
 * legend with counts, and a one-line summary for assistive technology.
 */
export function timeline(runs, now = new Date(), {title = "Recent slots"} = {}) {
  const items = runs.map((run) => span(run, now)).filter(Boolean).sort((a, b) => a.start - b.start);
  const figure = el("figure", {class: "timeline", id: "timeline"});
  if (!items.length) {
    figure.append(el("p", {class: "muted", text: "No slots recorded yet."}));
    return figure;
  }
  let from = Math.min(...items.map((i) => i.start.getTime()));
  let to = Math.max(...items.map((i) => i.end.getTime()), ...items.map((i) => i.slot.getTime()));
  // Up to now when that keeps the slots readable: a schedule gone quiet shows as empty space.
  if (now.getTime() > to && now.getTime() - to < (to - from) / 2) to = now.getTime();
  if (to - from < 60_000) {  // a single slot still gets an axis a minute wide
    from -= 30_000;
    to += 30_000;
  }
  const inner = WIDTH - 2 * PAD;
  const x = (time) => PAD + ((time instanceof Date ? time.getTime() : time) - from) / (to - from) * inner;
  const lanes = placeInLanes(items, x, 1);
  const height = lanes * LANE + AXIS + PAD;
  const counts = new Map();

  const marks = items.map((item) => {
    counts.set(item.kind, (counts.get(item.kind) || 0) + 1);
    const left = x(item.start);
    const width = Math.max(MIN_MARK, x(item.end) - left);
    const top = PAD + item.lane * LANE;
    const instant = item.kind === "Missed" || item.kind === "Skipped" || item.kind === "Pending";
    const shape = instant && width <= MIN_MARK
      ? svg("path", {d: `M${left} ${top + LANE / 2} l${MIN_MARK} -${LANE / 2 - 2} l${MIN_MARK} ${LANE / 2 - 2} ` +
          `l-${MIN_MARK} ${LANE / 2 - 2} z`, class: "shape"})
      : svg("rect", {x: left.toFixed(1), y: top + 2, width: width.toFixed(1), height: LANE - 4, rx: 2, class: "shape"});
    return svg("g", {class: `mark mark-${item.kind}`, "data-outcome": item.kind, "data-slot": item.run.slot},
      svg("title", {text: describe(item)}), shape);
  });

  const axisY = PAD + lanes * LANE + 4;
  const axis = svg("g", {class: "axis", "aria-hidden": "true"},
    svg("line", {x1: PAD, x2: WIDTH - PAD, y1: axisY, y2: axisY}),
    ticks(from, to).map(({at, label}, i, all) => svg("g", {},
      svg("line", {x1: x(at), x2: x(at), y1: axisY, y2: axisY + 5}),
      svg("text", {x: x(at), y: axisY + 18, "text-anchor": i === 0 ? "start" : i === all.length - 1 ? "end" : "middle",
        text: label}))));
  const nowLine = now.getTime() <= to && now.getTime() >= from
    ? svg("line", {class: "now", x1: x(now), x2: x(now), y1: PAD, y2: axisY, "aria-hidden": "true"}) : null;

  const summary = OUTCOMES.filter(([key]) => counts.has(key)).map(([key, label]) => `${counts.get(key)} ${label}`);
  const titleId = "timeline-title";
  const descId = "timeline-desc";
  figure.append(
    el("div", {class: "timeline-scroll"}, svg("svg", {viewBox: `0 0 ${WIDTH} ${height}`, role: "img",
      "aria-labelledby": `${titleId} ${descId}`, class: "timeline-svg"},
      svg("title", {id: titleId, text: title}),
      svg("desc", {id: descId, text: `${items.length} slots from ${utcTime(new Date(from))} to ` +
        `${utcTime(new Date(to))}: ${summary.join(", ")}.`}),
      axis, nowLine, marks)),
    el("figcaption", {},
      el("ul", {class: "legend", "aria-label": "Legend"},
        OUTCOMES.map(([key, label]) => el("li", {class: counts.has(key) ? null : "absent"},
          svg("svg", {class: `swatch mark-${key}`, viewBox: "0 0 12 12", width: 12, height: 12, "aria-hidden": "true"},
            svg("rect", {x: 0, y: 0, width: 12, height: 12, rx: 2, class: "shape"})),
          ` ${label}: ${counts.get(key) || 0}`)))));
  return figure;
}
