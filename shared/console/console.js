// The console's entry point: the function-key field, who the caller is (GET me), and a
// small hash router: #/ is the schedules table, #/schedules/<id> one schedule.

import * as api from "./api.js";
import {mayOperate} from "./actions.js";
import {clear, el} from "./dom.js";
import {showSchedule} from "./detail.js";
import {showSchedules} from "./schedules.js";

const SCHEDULE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const main = document.getElementById("main");
const statusLine = document.getElementById("status");
const who = document.getElementById("who");
let caller = null;  // the answer of GET me, or null when the app did not say
let rendering = 0;  // a newer route wins over a slower older one

function status(message, kind = "") {
  statusLine.textContent = message;
  statusLine.className = kind;
}

async function learnCaller() {
  try {
    caller = await api.me();
    const roles = Array.isArray(caller.roles) ? caller.roles : [];
    who.textContent = `${caller.name || caller.mode || "caller"}: ${roles.length ? roles.join(", ") : "no roles"}`;
  } catch (error) {
    caller = null;
    who.textContent = error.status === 401 ? "no key: enter one to read the schedules" : "roles unknown";
  }
}

function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const match = /^schedules\/([^/?#]+)$/.exec(hash);
  if (!match) return {view: "list"};
  let id;
  try {
    id = decodeURIComponent(match[1]);
  } catch {
    id = "";
  }
  return {view: "schedule", id};
}

async function render({focus = true, message = ""} = {}) {
  const ticket = ++rendering;
  const target = route();
  const fresh = el("div", {});
  status(message || "Loading\u2026", message ? "ok" : "");
  if (target.view === "schedule") {
    if (!SCHEDULE_ID.test(target.id)) {
      fresh.append(el("h1", {tabindex: "-1", text: "No such schedule"}),
        el("p", {text: "A schedule id is lowercase letters, digits and '-'."}),
        el("p", {}, el("a", {href: "#/", text: "All schedules"})));
    } else {
      await showSchedule(fresh, target.id, {
        me: caller, canOperate: mayOperate(caller), reload: (text) => render({focus: false, message: text}),
      });
    }
    document.title = `${target.id} \u00B7 Scheduler console`;
  } else {
    await showSchedules(fresh);
    document.title = "Schedules \u00B7 Scheduler console";
  }
  if (ticket !== rendering) return;  // the operator moved on meanwhile
  clear(main).append(...fresh.childNodes);
  status(message, message ? "ok" : "");
  main.setAttribute("aria-busy", "false");
  if (focus) main.querySelector("h1")?.focus();
}

function setUpKeyField() {
  const form = document.getElementById("key-form");
  const input = document.getElementById("key-input");
  const forget = document.getElementById("key-forget");
  const state = document.getElementById("key-state");
  const show = () => {
    const held = Boolean(api.storedKey());
    state.textContent = held ? "key set for this tab" : "no key (none needed locally)";
    forget.hidden = !held;
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();  // nothing is ever sent as a form: the key goes out as a header only
    api.storeKey(input.value.trim());
    input.value = "";
    show();
    await learnCaller();
    render({focus: false});
  });
  forget.addEventListener("click", async () => {
    api.storeKey("");
    show();
    await learnCaller();
    render({focus: false});
  });
  show();
}

document.getElementById("refresh").addEventListener("click", () => render({focus: false}));
window.addEventListener("hashchange", () => render());
setUpKeyField();
main.setAttribute("aria-busy", "true");
learnCaller().then(() => render({focus: false}));
