// The schedules table: health, id, target, next fire (local and UTC), last outcome and
// success rate, with a text filter, a health filter and sortable columns.

import {allSchedules} from "./api.js";
import {
  DASH, HEALTH, el, health, healthBadge, localTime, nextFire, parseTime, percent, targetName, text, timeCell,
  utcTime,
} from "./dom.js";

// Survives going to a schedule and back, so the operator finds the table as they left it.
const view = {query: "", health: "", sort: "health", descending: false};
// Worst first when sorting by health: what needs a look comes to the top.
const HEALTH_ORDER = {failing: 0, late: 1, paused: 2, unknown: 3, ok: 4, disabled: 5};

const COLUMNS = [
  {key: "health", label: "Health", value: (s) => HEALTH_ORDER[health(s)] ?? 9},
  {key: "id", label: "Schedule", value: (s) => s.id},
  {key: "target", label: "Target", value: (s) => `${s.target?.kind || ""} ${targetName(s.target)}`},
  {key: "nextLocal", label: "Next fire (your time)", value: (s) => parseTime(nextFire(s))?.getTime() ?? Infinity},
  {key: "nextUtc", label: "Next fire (UTC)", value: (s) => parseTime(nextFire(s))?.getTime() ?? Infinity},
  {key: "last", label: "Last outcome", value: (s) => s.lastRun?.status || "~"},
  {key: "rate", label: "Success rate", value: (s) => (typeof s.successRate === "number" ? s.successRate : 2)},
];

function matches(schedule) {
  if (view.health && health(schedule) !== view.health) return false;
  if (!view.query) return true;
  const haystack = [schedule.id, schedule.description, schedule.target?.kind, targetName(schedule.target),
    schedule.lastRun?.status].join(" ").toLowerCase();
  return view.query.toLowerCase().split(/\s+/).every((word) => haystack.includes(word));
}

function compare(column) {
  return (a, b) => {
    const x = column.value(a);
    const y = column.value(b);
    const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return (view.descending ? -order : order) || a.id.localeCompare(b.id);
  };
}

function lastOutcome(schedule) {
  const last = schedule.lastRun;
  if (!last || typeof last !== "object" || !last.status) return DASH;
  const when = parseTime(last.finishedAt || last.slot);
  return el("span", {class: `outcome outcome-${String(last.status).replace(/[^A-Za-z]/g, "")}`,
    title: when ? `slot ${utcTime(last.slot)}, finished ${localTime(last.finishedAt)}` : null}, last.status);
}

function successRate(schedule) {
  const rate = percent(schedule.successRate);
  if (rate === DASH) return DASH;
  return typeof schedule.recentRuns === "number" ? `${rate} of ${schedule.recentRuns}` : rate;
}

function row(schedule) {
  const state = health(schedule);
  const link = el("a", {href: `#/schedules/${encodeURIComponent(schedule.id)}`, text: schedule.id});
  const next = nextFire(schedule);
  return el("tr", {"data-schedule-id": schedule.id},
    el("td", {}, healthBadge(state, schedule.pausedReason)),
    el("th", {scope: "row"}, link, schedule.description ? el("div", {class: "muted small", text: schedule.description}) : null),
    el("td", {}, el("span", {class: "kind", text: text(schedule.target?.kind)}), " ",
      el("span", {class: "target", text: targetName(schedule.target)})),
    el("td", {}, timeCell(next)),
    el("td", {class: "mono"}, utcTime(next)),
    el("td", {}, lastOutcome(schedule)),
    el("td", {class: "num"}, successRate(schedule)));
}

function header(column, redraw) {
  const sorted = view.sort === column.key;
  const button = el("button", {type: "button", class: "sort", onclick: () => {
    view.descending = sorted ? !view.descending : false;
    view.sort = column.key;
    redraw(column.key);
  }}, column.label, el("span", {class: "arrow", "aria-hidden": "true",
    text: sorted ? (view.descending ? " \u25BC" : " \u25B2") : ""}));
  return el("th", {scope: "col", "aria-sort": sorted ? (view.descending ? "descending" : "ascending") : null},
    button);
}

function filters(redraw) {
  const search = el("input", {id: "filter-text", type: "search", value: view.query, placeholder: "id, target, status",
    autocomplete: "off", oninput: (event) => { view.query = event.target.value.trim(); redraw(); }});
  const select = el("select", {id: "filter-health", onchange: (event) => { view.health = event.target.value; redraw(); }},
    el("option", {value: "", text: "any"}),
    HEALTH.map((state) => el("option", {value: state, selected: view.health === state, text: state})));
  return el("div", {class: "filters"},
    el("label", {for: "filter-text"}, "Filter "), search,
    el("label", {for: "filter-health"}, "Health "), select);
}

/** Draw the schedules view into `main`. */
export async function showSchedules(main) {
  main.append(el("h1", {tabindex: "-1", text: "Schedules"}));
  const summary = el("p", {class: "muted", id: "schedules-summary", "aria-live": "polite", text: "Loading schedules\u2026"});
  main.append(summary);
  let listed;
  try {
    listed = await allSchedules();
  } catch (error) {
    summary.textContent = `Could not load the schedules: ${error.message}`;
    summary.classList.add("error");
    return;
  }
  const {schedules, complete} = listed;
  const table = el("table", {class: "data", id: "schedules"});
  const wrap = el("div", {class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Schedules"}, table);

  function redraw(focusKey) {
    const column = COLUMNS.find((c) => c.key === view.sort) || COLUMNS[0];
    const shown = schedules.filter(matches).sort(compare(column));
    table.replaceChildren(
      el("caption", {class: "visually-hidden", text: "Schedules, one per row"}),
      el("thead", {}, el("tr", {}, COLUMNS.map((c) => header(c, redraw)))),
      el("tbody", {}, shown.length ? shown.map(row)
        : el("tr", {}, el("td", {colspan: String(COLUMNS.length), class: "muted", text: "No schedule matches."}))));
    summary.textContent = `${shown.length} of ${schedules.length} schedule(s)` +
      (complete ? "" : " (list cut short: more exist than the console loads)");
    if (focusKey) {
      const index = COLUMNS.findIndex((c) => c.key === focusKey);
      table.querySelectorAll("thead button.sort")[index]?.focus();
    }
  }

  main.append(filters(redraw), wrap);
  redraw();
}
