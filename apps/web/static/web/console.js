// The analyst console: active calls and sensor alerts on a map, each briefing with its reasons, pushing it to
// people, units or areas picked by name, and every recipient's receipt, live over the stream (docs/delivery.md).
import { ApiError, Stream, agencyTime, api, callPhotoList, el, itemCard, linkBanner, start } from "./rtcc.js";
import { ALERT_KINDS, mapIn } from "./map.js";
import { LiveUnits, showNearestUnits } from "./avl.js";
import { boloConsole } from "./bolos.js";

const $ = (id) => document.getElementById(id);
const state = { calls: [], alerts: [], call: null, briefing: null, cameras: [], pushes: new Map(), picked: [] };

// Failure reasons as the API stores them, in the words an analyst acts on.
const REASONS = {
  no_push_device: "no phone registered for push alerts",
  push_disabled: "push alerts are off on this server",
  unregistered: "the phone's push registration has expired",
  timeout: "the push service did not answer",
  push_failed: "the push service refused it",
};
const VERIFICATION = { unverified: "not yet verified", confirmed: "confirmed", false: "marked false" };

function problem(error, where = "push-error") {
  const text = error instanceof ApiError ? `${error.message} (${error.code})` : String(error);
  $(where).textContent = text;
}

const clock = (iso) => agencyTime(iso, "clock");

function age(iso) {
  const minutes = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 60000));
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function unitLine(unit) {
  const names = unit.officers.map((officer) => officer.name).join(", ");
  return `${unit.call_sign}${names ? ` (${names})` : ""}`;
}

// --- Calls -------------------------------------------------------------------------------------------------

function callRow(call) {
  const units = call.units || [];
  return el("li", {},
    el("button", { type: "button", class: `call p${call.priority}`, "data-call": call.id,
      "aria-current": state.call && state.call.id === call.id ? "true" : null, onclick: () => select(call.id) },
    el("span", { class: "call-head" }, el("strong", {}, `P${call.priority} ${call.cad_description || call.category}`),
      el("span", { class: "age", "data-received": call.received_at }, age(call.received_at))),
    el("span", { class: "call-where" }, `${call.address} · ${call.status}`),
    el("span", { class: "call-units" }, units.length ? units.map(unitLine).join("; ") : "no unit assigned")));
}

async function loadCalls() {
  const page = await api("GET", "calls?size=100");
  // The most urgent first, then the newest: a P1 must not sit under four older P2s.
  state.calls = page.results.sort((a, b) => a.priority - b.priority || Date.parse(b.received_at) - Date.parse(a.received_at));
  $("calls").replaceChildren(...state.calls.map(callRow));
  if (!state.calls.length) $("calls").append(el("li", { class: "empty" }, "No active calls."));
  drawMap();
}

// --- Sensor alerts -----------------------------------------------------------------------------------------

function alertLine(alert) {
  const detail = alert.detail || {};
  if (alert.kind === "plate_hit") {
    const entry = alert.hot_list_entry;
    return [detail.plate, detail.region, entry && entry.hot_list_name, entry && entry.description].filter(Boolean).join(" · ");
  }
  if (alert.kind === "gunshot") return [`${detail.rounds} rounds`, detail.address].filter(Boolean).join(" · ");
  return [detail.rule, detail.object_class].filter(Boolean).join(" · ");
}

function alertRow(alert) {
  return el("li", { class: `feed-item kind-${alert.kind} state-${alert.state}`, "data-alert": alert.id },
    el("span", { class: "call-head" }, el("strong", {}, ALERT_KINDS[alert.kind] || alert.kind),
      el("time", { datetime: alert.occurred_at }, clock(alert.occurred_at))),
    el("span", { class: `verification ${alert.state}` }, VERIFICATION[alert.state] || alert.state),
    el("span", {}, alertLine(alert)),
    alert.call_id ? el("button", { type: "button", class: "link-button", onclick: () => select(alert.call_id) },
      "Open its call") : null);
}

async function loadAlerts() {
  const page = await api("GET", "sensors/alerts?size=30");
  state.alerts = page.results;
  $("alerts").replaceChildren(...state.alerts.map(alertRow));
  if (!state.alerts.length) $("alerts").append(el("li", { class: "empty" }, "No sensor alerts."));
  drawMap();
}

// --- Map ---------------------------------------------------------------------------------------------------

function drawMap() {
  const units = state.calls.flatMap((call) => call.units || []);
  mapIn($("console-map")).show({
    calls: state.calls, call: state.call, units, alerts: state.alerts,
    cameras: state.cameras.map((entry) => entry.camera), focus: state.call ? "call" : "all",
  });
}

// --- One call: briefing, pushes, clips ---------------------------------------------------------------------

function itemControls(item) {
  const edit = (changes) => async () => {
    try {
      await api("PATCH", `briefings/${state.briefing.briefing_id}/items/${encodeURIComponent(item.id)}`, changes);
      await showBriefing();
    } catch (e) { problem(e); }
  };
  return el("div", { class: "controls" },
    el("button", { type: "button", onclick: edit({ pinned: !item.pinned }), "aria-pressed": String(Boolean(item.pinned)) },
      item.pinned ? "Unpin" : "Pin"),
    el("button", { type: "button", onclick: edit({ hidden: !item.hidden }), "aria-pressed": String(Boolean(item.hidden)) },
      item.hidden ? "Show" : "Hide"));
}

async function showBriefing() {
  const call = state.call;
  state.briefing = await api("GET", `calls/${call.id}/briefing`);
  $("detail-title").textContent = `P${call.priority} ${call.cad_description || call.category} · v${state.briefing.version}`;
  const units = (call.units || []).map(unitLine).join("; ") || "no unit assigned";
  $("detail-line").textContent = `${call.address} · ${call.event_number} · ${call.status} · ${age(call.received_at)} · ${units}`;
  $("items").replaceChildren(...state.briefing.items.map((item) => itemCard(item, { controls: itemControls(item) })));
}

const STATUS_TIMES = [["delivered_at", "Delivered"], ["opened_at", "Opened"], ["acknowledged_at", "Acknowledged"]];

function recipientRow(recipient) {
  const note = recipient.status === "failed" ? REASONS[recipient.failure_reason] || recipient.failure_reason
    : recipient.alert_sent_at ? `push alert sent ${clock(recipient.alert_sent_at)}` : "";
  return el("tr", { "data-user": recipient.username },
    el("th", { scope: "row" }, recipient.name),
    // A recipient who failed and then came online later shows what happened last, not the old reason.
    el("td", { class: `status ${recipient.status}` }, recipient.status),
    STATUS_TIMES.map(([field]) => el("td", { class: "time" }, clock(recipient[field]))),
    el("td", {}, note));
}

function audienceText(push) {
  const audience = push.audience;
  if (audience.kind === "user" && push.recipients.length) return push.recipients.map((r) => r.name).join(", ");
  if (audience.kind === "call") return "the officers on the call";
  if (audience.kind === "radius") return `everyone within ${Math.round(audience.radius_m)} m`;
  if (audience.kind === "beat" || audience.kind === "district") return `${audience.kind} ${audience.value}`;
  if (audience.kind === "user" || audience.kind === "unit") return `${audience.ids.length} ${audience.kind}(s)`;
  return audience.kind === "agency" ? "the whole agency" : audience.kind;
}

// Where a push stands for the analyst (GET /pushes/{id} `status`): never "resolved" before anyone acknowledged.
const PUSH_STATUS = { queued: "finding recipients", no_recipients: "nobody to send to", waiting: "waiting for acknowledgement",
  partly_acknowledged: "partly acknowledged", acknowledged: "acknowledged" };

function pushSection(push) {
  return el("section", { class: "push", "data-push": push.id, "aria-label": `Push ${push.id}` },
    el("h4", {}, `${clock(push.created_at)} · ${push.sent_by ? "sent" : "automatic"} to ${audienceText(push)}`,
      el("span", { class: `push-state ${push.status || push.state}` }, ` · ${PUSH_STATUS[push.status] || push.status || push.state}`)),
    push.recipients.length ? el("div", { class: "table-scroll" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Recipient"), el("th", { scope: "col" }, "Status"),
        STATUS_TIMES.map(([, label]) => el("th", { scope: "col" }, label)), el("th", { scope: "col" }, "Note"))),
      el("tbody", {}, push.recipients.map(recipientRow))))
      : el("p", { class: "hint" }, push.state === "pending" ? "Finding the recipients…" : "Nobody could be sent this."));
}

function renderPushes() {
  const pushes = [...state.pushes.values()].sort((a, b) => b.id - a.id).slice(0, 5);
  $("pushes-title").hidden = !pushes.length;
  $("pushes").replaceChildren(...pushes.map(pushSection));
}

const asked = new Map();  // push id -> the newest refresh asked for it

async function refreshPush(pushId) {
  if (!state.call) return;
  // Receipts change in bursts (opened, then acknowledged a moment later): the answer to an older request may
  // arrive last, and must not paint "opened" over "acknowledged".
  const mine = (asked.get(pushId) || 0) + 1;
  asked.set(pushId, mine);
  const push = await api("GET", `pushes/${pushId}`);
  if (asked.get(pushId) !== mine || !state.call || push.call_id !== state.call.id) return;
  state.pushes.set(push.id, push);
  renderPushes();
}

async function showPushes() {
  const pushes = await api("GET", `pushes?call_id=${state.call.id}`);
  const details = await Promise.all(pushes.slice(0, 5).map((push) => api("GET", `pushes/${push.id}`)));
  state.pushes = new Map(details.map((push) => [push.id, push]));
  renderPushes();
}

function clipLine(clip) {
  const failed = clip.state === "failed" ? ` — ${clip.failure_reason || "failed"}` : "";
  return el("p", {}, `Clip ${clip.id}: ${clip.state} ${clip.percent}% ${clip.stage || ""}${failed}`);
}

async function showClips() {
  const call = state.call;
  state.cameras = await api("GET", `calls/${call.id}/cameras`).catch(() => []);
  $("clips-section").hidden = false;
  $("clip-controls").replaceChildren(...state.cameras.slice(0, 3).map((entry) => el("button", {
    type: "button", onclick: async () => {
      try {
        await api("POST", `calls/${call.id}/clips`, { camera_id: entry.camera.id, seconds: 20 });
        await showClips();
      } catch (e) { problem(e); }
    },
  }, `20 s clip: ${entry.camera.name} (${Math.round(entry.distance_m || 0)} m)`)));
  const [clips, photos] = await Promise.all([api("GET", `calls/${call.id}/clips`).catch(() => []),
    api("GET", `calls/${call.id}/photos`).catch(() => [])]);
  $("clips").replaceChildren(...(Array.isArray(clips) ? clips : clips.results || []).map(clipLine));
  // Photos the officers took at the call; one opens full size in a new tab.
  $("call-photos").replaceChildren(...callPhotoList(photos, { onOpen: (url) => window.open(url, "_blank", "noopener"),
    time: clock }));
  drawMap();
}

async function select(callId) {
  state.call = await api("GET", `calls/${callId}`);
  state.cameras = [];
  $("push-form").hidden = false;
  $("note-form").hidden = false;
  $("push-error").textContent = "";
  await Promise.all([showBriefing(), showPushes(), showClips(), loadCalls(),
    showNearestUnits(callId, $("nearest-units"))]);
}

// --- Whom to push to ---------------------------------------------------------------------------------------

function renderPicked() {
  $("picked").replaceChildren(...state.picked.map((choice, n) => el("li", { class: "chip" },
    el("span", {}, `${choice.label}`),
    el("button", { type: "button", class: "chip-remove", "aria-label": `Remove ${choice.label}`,
      onclick: () => { state.picked.splice(n, 1); renderPicked(); } }, "×"))));
}

let searchSeq = 0;
async function searchRecipients() {
  const seq = ++searchSeq;
  const q = $("recipient-search").value.trim();
  let choices = [];
  try {
    choices = await api("GET", `pushes/recipients?q=${encodeURIComponent(q)}`);
  } catch (e) { problem(e); }
  if (seq !== searchSeq) return;  // a later keystroke's answer wins
  const same = (a, b) => a.kind === b.kind && a.id === b.id && a.value === b.value;
  $("recipient-results").replaceChildren(...choices.slice(0, 8).map((choice) => el("li", {},
    el("button", { type: "button", class: "choice", disabled: state.picked.some((p) => same(p, choice)),
      onclick: () => { state.picked.push(choice); renderPicked(); searchRecipients(); } },
    el("strong", {}, choice.label), el("span", { class: "hint" }, ` ${choice.detail}`)))));
}

// One push per audience kind: the API takes one kind at a time (user ids, unit ids, one beat, one district).
function audiences() {
  const kind = $("audience-kind").value;
  if (kind === "call" || kind === "agency") return [{ kind }];
  if (kind === "radius") {
    return [{ kind, latitude: state.call.latitude, longitude: state.call.longitude, radius_m: Number($("radius-m").value || 500) }];
  }
  const out = [];
  for (const group of ["user", "unit"]) {
    const ids = state.picked.filter((c) => c.kind === group).map((c) => c.id);
    if (ids.length) out.push({ kind: group, ids });
  }
  for (const choice of state.picked.filter((c) => c.kind === "beat" || c.kind === "district")) {
    out.push({ kind: choice.kind, value: choice.value });
  }
  return out;
}

function audienceKindChanged() {
  const kind = $("audience-kind").value;
  $("pick").hidden = kind !== "pick";
  $("radius").hidden = kind !== "radius";
  if (kind === "pick") searchRecipients();
}

async function push(event) {
  event.preventDefault();
  $("push-error").textContent = "";
  const targets = audiences();
  if (!targets.length) {
    $("push-error").textContent = "Choose at least one person, unit or area.";
    return;
  }
  try {
    for (const audience of targets) {
      const sent = await api("POST", `calls/${state.call.id}/briefing/push`, { audience });
      state.pushes.set(sent.id, sent);
    }
    state.picked = [];
    renderPicked();
    renderPushes();
    if (!$("pick").hidden) searchRecipients();
  } catch (e) { problem(e); }
}

// --- Live --------------------------------------------------------------------------------------------------

async function onEvent(event) {
  const payload = event.payload || {};
  if (await live.onEvent(event)) {
    await loadCalls();  // the emergency's incident joins the calls
  } else if (event.type === "receipt") {
    await refreshPush(payload.push_id);  // ignored unless it is a push of the call on screen
  } else if (event.type === "alert") {
    await loadAlerts();
  } else if (state.call && payload.call_id === state.call.id && event.type === "briefing") {
    await showBriefing();
  } else if (event.type === "photo" && state.call && payload.call_id === state.call.id) {
    await showClips();
  } else if (event.type === "clip" && state.call) {
    await showClips();
  } else {
    await loadCalls();
  }
}

const live = new LiveUnits($("console-map"), $("emergencies"));

async function main() {
  await start({ kind: "desktop" });
  $("note-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", `briefings/${state.briefing.briefing_id}/items`, { title: $("note-title").value, body: $("note-body").value });
      $("note-title").value = "";
      $("note-body").value = "";
      await showBriefing();
    } catch (e) { problem(e); }
  });
  $("push-form").addEventListener("submit", push);
  $("audience-kind").addEventListener("change", audienceKindChanged);
  $("recipient-search").addEventListener("input", searchRecipients);
  const bolos = boloConsole();  // the BOLO list, form and detail (bolos.js)
  await Promise.all([loadCalls(), loadAlerts(), live.load()]);
  // Ages move on without asking the server: the receipt times and alerts come over the stream.
  setInterval(() => {
    for (const node of document.querySelectorAll("[data-received]")) node.textContent = age(node.dataset.received);
  }, 30000);
  const stream = new Stream({
    onEvent: (event) => Promise.all([onEvent(event), bolos.onEvent(event)]).catch(problem),
    onResync: () => Promise.all([loadCalls(), loadAlerts(), live.load(), state.call ? showPushes() : null]),
    onLink: linkBanner,
    onLive: (frame) => live.onFrame(frame),
  });
  window.rtccStream = stream;  // tests read its state; nothing secret on it
  stream.open();
}

main();
