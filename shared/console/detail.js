// One schedule: health and actions, next fire times, the timeline of recent slots, the
// run list (with AML's errors and studio links), and the definition as the API has it.

import * as api from "./api.js";
import {actionBar} from "./actions.js";
import {
  DASH, duration, el, health, healthBadge, nextFire, parseTime, percent, studioLink, targetName, text,
  timeCell, utcTime,
} from "./dom.js";
import {outcome, timeline} from "./timeline.js";

const RUN_PAGE = 100;
// Read-only bookkeeping that makes the definition harder to read, not easier.
const NOT_DEFINITION = new Set(["etag"]);

function facts(schedule) {
  const last = schedule.lastRun && typeof schedule.lastRun === "object" ? schedule.lastRun : null;
  const rows = [
    ["Health", healthBadge(health(schedule), schedule.pausedReason)],
    ["Enabled", schedule.enabled === false ? "no" : "yes"],
    ["Target", `${text(schedule.target?.kind)}: ${targetName(schedule.target)}`],
    ["Trigger", schedule.trigger?.cron ? `cron ${schedule.trigger.cron}` : schedule.trigger?.recurrence
      ? `every ${schedule.trigger.recurrence.interval} ${schedule.trigger.recurrence.frequency}` : DASH],
    ["Time zone", text(schedule.trigger?.timeZone)],
    ["Next fire", el("span", {}, timeCell(nextFire(schedule)), " \u00B7 ", utcTime(nextFire(schedule)))],
    ["Last outcome", last ? `${text(last.status)} (slot ${utcTime(last.slot)})` : DASH],
    ["Success rate", percent(schedule.successRate) +
      (typeof schedule.recentRuns === "number" ? ` of ${schedule.recentRuns} finished runs` : "")],
    ["Failed runs in a row", text(schedule.failedInARow)],
    ["Submits AML refused in a row", text(schedule.consecutiveFailures)],
  ];
  if (schedule.pausedReason) rows.push(["Paused because", schedule.pausedReason]);
  return el("dl", {class: "facts"}, rows.map(([name, value]) => [el("dt", {text: name}), el("dd", {}, value)]));
}

function previewTable(doc) {
  const zone = doc.timeZone || "UTC";
  return el("div", {class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Next fire times"},
    el("table", {class: "data compact", id: "preview"},
      el("thead", {}, el("tr", {},
        el("th", {scope: "col", text: "UTC"}),
        el("th", {scope: "col", text: `Schedule's time (${zone})`}),
        el("th", {scope: "col", text: "Your time"}))),
      el("tbody", {}, (doc.value || []).map((fire) => el("tr", {},
        el("td", {class: "mono", text: utcTime(fire.utc)}),
        el("td", {class: "mono", text: String(fire.local || "").replace("T", " ")}),
        el("td", {}, timeCell(fire.utc)))))));
}

function runRow(run) {
  const kind = outcome(run);
  const start = parseTime(run.submittedAt);
  const end = parseTime(run.finishedAt);
  const amlId = run.amlJobName || run.amlRunId;
  const aml = amlId ? [el("span", {class: "mono", text: amlId}), " ", studioLink(run.portalUrl, "studio")] : DASH;
  const message = run.error
    ? el("span", {class: "error-text"}, run.error.code ? `${run.error.code}: ` : "", text(run.error.message))
    : text(run.reason);
  return el("tr", {"data-slot": run.slot, "data-status": run.status},
    el("td", {}, timeCell(run.slot), el("div", {class: "mono small muted", text: utcTime(run.slot)})),
    el("td", {}, el("span", {class: `outcome outcome-${kind}`, text: run.status}),
      run.skippedCount > 1 ? el("div", {class: "small muted", text: `${run.skippedCount} slots`}) : null),
    el("td", {text: text(run.trigger)}),
    el("td", {class: "num", text: text(run.attempts)}),
    el("td", {}, timeCell(run.submittedAt)),
    el("td", {class: "num", text: start && end ? duration(end - start) : DASH}),
    el("td", {}, aml),
    el("td", {class: "message"}, message));
}

function runTable(runs) {
  const body = el("tbody", {}, runs.map(runRow));
  const table = el("table", {class: "data", id: "runs"},
    el("thead", {}, el("tr", {}, ["Slot", "Status", "Trigger", "Attempts", "Submitted", "Took", "AML job or run",
      "Error or reason"].map((label) => el("th", {scope: "col", text: label})))),
    body);
  return {body, wrap: el("div", {class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Runs"}, table)};
}

function section(title, id, ...content) {
  return el("section", {"aria-labelledby": id}, el("h2", {id, text: title}), ...content);
}

/** Draw schedule `id` into `main`. `me` is the caller (GET me) or null; `reload(message)` redraws. */
export async function showSchedule(main, id, {me, canOperate, reload}) {
  main.append(el("p", {class: "crumbs"}, el("a", {href: "#/", text: "\u2190 All schedules"})));
  const heading = el("h1", {tabindex: "-1", text: id});
  main.append(heading);
  let schedule;
  try {
    schedule = await api.getSchedule(id);
  } catch (error) {
    main.append(el("p", {class: "error", role: "alert", text: `Could not load ${id}: ${error.message}`}));
    return;
  }
  if (schedule.description) main.append(el("p", {class: "lead", text: schedule.description}));
  if (canOperate) main.append(actionBar(schedule, (message) => reload(message)));
  else if (me) main.append(el("p", {class: "muted small", text: "Actions need the Scheduler.Operator role."}));
  main.append(facts(schedule));

  const previewSlot = el("div", {}, el("p", {class: "muted", text: "Loading\u2026"}));
  const timelineSlot = el("div", {}, el("p", {class: "muted", text: "Loading\u2026"}));
  const runsSlot = el("div", {}, el("p", {class: "muted", text: "Loading\u2026"}));
  main.append(
    section("Timeline of recent slots", "h-timeline", timelineSlot),
    section("Runs", "h-runs", runsSlot),
    section("Next fire times", "h-preview", previewSlot),
    section("Definition", "h-definition", el("pre", {class: "definition", id: "definition", tabindex: "0",
      text: JSON.stringify(Object.fromEntries(Object.entries(schedule).filter(([k]) => !NOT_DEFINITION.has(k))),
        null, 2)})));

  const previewing = api.preview(id, 10).then(
    (doc) => previewSlot.replaceChildren(previewTable(doc)),
    (error) => previewSlot.replaceChildren(el("p", {class: "error", text: `No preview: ${error.message}`})));

  const runs = [];
  let token = null;
  const {body, wrap} = runTable(runs);
  const more = el("button", {type: "button", class: "more", onclick: () => loadRuns()}, "Load older runs");

  async function loadRuns() {
    more.disabled = true;
    try {
      const page = await api.runs(id, {limit: RUN_PAGE, token});
      runs.push(...(page.value || []));
      token = page.continuationToken || null;
      body.replaceChildren(...(runs.length ? runs.map(runRow)
        : [el("tr", {}, el("td", {colspan: "8", class: "muted", text: "No runs recorded yet."}))]));
      timelineSlot.replaceChildren(timeline(runs, new Date(), {title: `Recent slots of ${id}`}));
      runsSlot.replaceChildren(wrap, token ? more : el("p", {class: "muted small", text: `${runs.length} run record(s).`}));
      more.disabled = false;
    } catch (error) {
      runsSlot.replaceChildren(el("p", {class: "error", text: `Could not load the runs: ${error.message}`}));
    }
  }
  await Promise.all([loadRuns(), previewing]);
}
