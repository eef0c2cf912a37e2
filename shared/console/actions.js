// Operator actions on one schedule (enable, disable, run now, backfill), each behind a
// confirmation dialog. A refusal keeps the dialog open with the API's own message.

import * as api from "./api.js";
import {el} from "./dom.js";

const OPERATOR = "Scheduler.Operator";

/** Whether `me` (the answer of GET me) may take the actions. */
export function mayOperate(me) {
  return Boolean(me && Array.isArray(me.roles) && me.roles.includes(OPERATOR));
}

// The dialog is in index.html; these are its parts.
function parts() {
  const dialog = document.getElementById("confirm");
  return {
    dialog,
    title: dialog.querySelector("#confirm-title"),
    message: dialog.querySelector("#confirm-message"),
    fields: dialog.querySelector("#confirm-fields"),
    error: dialog.querySelector("#confirm-error"),
    ok: dialog.querySelector("#confirm-ok"),
    cancel: dialog.querySelector("#confirm-cancel"),
  };
}

/**
 * Ask, then run `perform(values)`. Resolves to its result, or null when cancelled. While it
 * runs the buttons are disabled; if it throws, its message shows in the dialog, which stays.
 */
export function confirmThen({title, message, confirmLabel, fields = [], perform}) {
  const p = parts();
  const opener = document.activeElement;
  p.title.textContent = title;
  p.message.textContent = message;
  p.fields.replaceChildren(...fields.map((f) => el("div", {class: "field"},
    el("label", {for: f.id, text: f.label}),
    el("input", {id: f.id, name: f.id, type: f.type || "text", required: true, value: f.value || ""}),
    f.hint ? el("div", {class: "muted small", text: f.hint}) : null)));
  p.error.textContent = "";
  p.ok.textContent = confirmLabel;
  p.ok.disabled = false;
  p.cancel.disabled = false;

  return new Promise((resolve) => {
    let result = null;
    let busy = false;
    // Escape while the request is out would hide whether it worked.
    const onEscape = (event) => { if (busy) event.preventDefault(); };
    const finish = () => {
      p.dialog.removeEventListener("cancel", onEscape);
      p.ok.removeEventListener("click", onOk);
      p.dialog.removeEventListener("close", onClose);
      p.cancel.removeEventListener("click", onCancel);
      if (opener && opener.isConnected) opener.focus();
      resolve(result);
    };
    const onClose = () => finish();
    const onCancel = () => p.dialog.close();
    async function onOk() {
      const values = {};
      for (const f of fields) {
        const input = p.fields.querySelector(`#${f.id}`);
        if (!input.value) {
          p.error.textContent = `${f.label}: required`;
          input.focus();
          return;
        }
        values[f.id] = input.value;
      }
      p.ok.disabled = true;
      p.cancel.disabled = true;
      p.error.textContent = "";
      busy = true;
      try {
        result = await perform(values);
        busy = false;
        p.dialog.close();
      } catch (error) {
        busy = false;
        p.error.textContent = error.code ? `${error.message} (${error.code})` : error.message;
        p.ok.disabled = false;
        p.cancel.disabled = false;
        p.ok.focus();
      }
    }
    p.ok.addEventListener("click", onOk);
    p.cancel.addEventListener("click", onCancel);
    p.dialog.addEventListener("close", onClose);
    p.dialog.addEventListener("cancel", onEscape);
    p.dialog.showModal();
    // The first field, else the safe choice: a stray Enter must not confirm.
    (p.fields.querySelector("input") || p.cancel).focus();
  });
}

/** A datetime-local value (the browser's zone) as an ISO instant in UTC. */
function toUtc(value) {
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) throw new api.ApiError(0, "ValidationFailed", `not a date and time: ${value}`);
  return time.toISOString();
}

function localInputValue(date) {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return shifted.toISOString().slice(0, 16);
}

/**
 * The action buttons for a schedule. `done(message)` is called after an action succeeded
 * (the page reloads the schedule then).
 */
export function actionBar(schedule, done) {
  const id = schedule.id;
  const button = (label, name, onclick) => el("button", {type: "button", class: `action action-${name}`,
    "data-action": name, onclick}, label);
  const enabled = schedule.enabled !== false;
  const toggle = enabled
    ? button("Disable", "disable", () => confirmThen({
      title: `Disable ${id}?`, confirmLabel: "Disable",
      message: "No new slots are submitted while it is disabled. Runs already in AML keep running. Slots " +
        "missed meanwhile are recorded as missed when it is enabled again (its misfire policy applies).",
      perform: () => api.disable(id),
    }).then((r) => r && done(`${id} disabled.`)))
    : button("Enable", "enable", () => confirmThen({
      title: `Enable ${id}?`, confirmLabel: "Enable",
      message: "It fires again from its next slot; a pause for refused submissions is cleared.",
      perform: () => api.enable(id),
    }).then((r) => r && done(`${id} enabled.`)));
  const runNow = button("Run now", "trigger", () => confirmThen({
    title: `Run ${id} now?`, confirmLabel: "Run now",
    message: "Submits one manual run to AML now, recorded like any other slot. Its concurrency policy applies.",
    perform: () => api.trigger(id),
  }).then((r) => r && done(`Manual run of ${id} started (${r.status}).`)));
  const now = new Date();
  const backfill = button("Backfill\u2026", "backfill", () => confirmThen({
    title: `Backfill ${id}`, confirmLabel: "Backfill",
    message: "Queues every slot of the schedule between these two times (your local time; at most 500 slots, " +
      "none in the future). Slots that already ran are left alone.",
    fields: [
      {id: "backfill-from", label: "From", type: "datetime-local",
        value: localInputValue(new Date(now.getTime() - 86_400_000))},
      {id: "backfill-to", label: "To", type: "datetime-local", value: localInputValue(now)},
    ],
    perform: (values) => api.backfill(id, toUtc(values["backfill-from"]), toUtc(values["backfill-to"])),
  }).then((r) => r && done(`Backfill of ${id}: ${r.count} slot(s) queued, ${r.existing?.length ?? 0} already there.`)));
  return el("div", {class: "actions", role: "group", "aria-label": "Actions"}, toggle, runNow, backfill);
}
