// The analyst console: active calls, each briefing with its reasons, editing, pushing, and live receipts.
import { ApiError, Stream, api, el, itemCard, linkBanner, start } from "./rtcc.js";

const $ = (id) => document.getElementById(id);
const state = { calls: [], call: null, briefing: null, cameras: [], pushes: [], timer: null };

function problem(error) {
  const text = error instanceof ApiError ? `${error.message} (${error.code})` : String(error);
  $("pushes").prepend(el("p", { class: "error", role: "alert" }, text));
}

async function loadCalls() {
  const calls = await api("GET", "calls");
  state.calls = calls.results;
  $("calls").replaceChildren(...state.calls.map((call) => el("li", {},
    el("button", { type: "button", class: "call", "aria-current": state.call && state.call.id === call.id ? "true" : null,
      onclick: () => select(call.id) },
    el("strong", {}, `P${call.priority} ${call.cad_description || call.category}`), el("br"),
    `${call.address} · ${call.status}`))));
  let alerts = [];
  try {
    alerts = await api("GET", "alerts");
  } catch (e) { /* no sensor alerts on this server */ }
  const list = Array.isArray(alerts) ? alerts : alerts.results || [];
  for (const alert of list) {
    $("calls").append(el("li", { class: "sensor" }, `${alert.kind || "alert"} · ${alert.verification || ""}`));
  }
  drawMap();
}

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
  $("detail-line").textContent = `${call.address} · ${call.event_number} · ${call.status}`;
  $("items").replaceChildren(...state.briefing.items.map((item) => itemCard(item, { controls: itemControls(item) })));
}

function recipientRow(recipient) {
  return el("tr", { "data-user": recipient.username },
    el("td", {}, recipient.name), el("td", { class: `status ${recipient.status}` }, recipient.status),
    // A recipient who failed and then came online later shows what happened last, not the old reason.
    el("td", {}, recipient.status === "failed" ? recipient.failure_reason : ""));
}

async function showPushes() {
  if (!state.call) return;
  const pushes = await api("GET", `pushes?call_id=${state.call.id}`);
  const details = await Promise.all(pushes.slice(0, 5).map((push) => api("GET", `pushes/${push.id}`)));
  $("pushes").replaceChildren(...details.map((push) => el("section", { class: "push", "data-push": push.id },
    el("h4", {}, `Push ${push.id} · ${push.sent_by ? "sent" : "automatic"} to ${push.audience.kind} · ${push.state}`),
    el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Recipient"),
      el("th", { scope: "col" }, "Status"), el("th", { scope: "col" }, "Note"))),
    el("tbody", {}, push.recipients.map(recipientRow))))));
}

async function showClips() {
  const call = state.call;
  state.cameras = await api("GET", `calls/${call.id}/cameras`).catch(() => []);
  $("clip-controls").replaceChildren(...state.cameras.slice(0, 3).map((entry) => el("button", {
    type: "button", onclick: async () => {
      try {
        await api("POST", `calls/${call.id}/clips`, { camera_id: entry.camera.id, seconds: 20 });
        await showClips();
      } catch (e) { problem(e); }
    },
  }, `20 s clip: ${entry.camera.name} (${Math.round(entry.distance_m || 0)} m)`)));
  const clips = await api("GET", `calls/${call.id}/clips`).catch(() => []);
  $("clips").replaceChildren(...clips.map((clip) => el("p", {}, `Clip ${clip.id}: ${clip.state} ${clip.percent}% ${clip.stage}`)));
  drawMap();
}

async function select(callId) {
  state.call = await api("GET", `calls/${callId}`);
  $("note-form").hidden = false;
  $("push-form").hidden = false;
  await Promise.all([showBriefing(), showPushes(), showClips(), loadCalls()]);
  clearInterval(state.timer);
  // Receipts change on the officers' side; two seconds is as live as a dispatcher needs and cheap to serve.
  state.timer = setInterval(() => showPushes().catch(problem), 2000);
}

function audience() {
  const kind = $("audience-kind").value;
  const value = $("audience-value").value.trim();
  if (kind === "call") return { kind: "call" };
  if (kind === "user") return { kind, ids: value.split(/[ ,]+/).filter(Boolean).map(Number) };
  if (kind === "beat" || kind === "district") return { kind, value };
  if (kind === "radius") {
    return { kind, latitude: state.call.latitude, longitude: state.call.longitude, radius_m: Number(value || 500) };
  }
  return { kind: "agency" };
}

function drawMap() {
  const canvas = $("map");
  const context = canvas.getContext("2d");
  const styles = getComputedStyle(document.documentElement);
  context.fillStyle = styles.getPropertyValue("--panel").trim() || "#fff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  const points = [
    ...state.calls.filter((c) => c.latitude !== null).map((c) => ({ lat: c.latitude, lon: c.longitude, color: "#ff9800", r: 6 })),
    ...state.cameras.map((e) => ({ lat: e.camera.latitude, lon: e.camera.longitude, color: "#2196f3", r: 4 })),
  ].filter((p) => p.lat !== null && p.lat !== undefined);
  if (!points.length) return;
  const lats = points.map((p) => p.lat);
  const lons = points.map((p) => p.lon);
  const [minLat, maxLat, minLon, maxLon] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
  const pad = 16;
  // One degree of longitude is shorter than one of latitude away from the equator: keep the map's aspect true.
  const squeeze = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
  const span = Math.max((maxLon - minLon) * squeeze, maxLat - minLat) || 0.01;
  const scale = Math.min(canvas.width, canvas.height) - 2 * pad;
  const x = (lon) => canvas.width / 2 + (((lon - (minLon + maxLon) / 2) * squeeze) / span) * scale;
  const y = (lat) => canvas.height / 2 - ((lat - (minLat + maxLat) / 2) / span) * scale;
  for (const p of points) {
    context.beginPath();
    context.fillStyle = p.color;
    context.arc(x(p.lon), y(p.lat), p.r, 0, 2 * Math.PI);
    context.fill();
  }
}

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
  $("push-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", `calls/${state.call.id}/briefing/push`, { audience: audience() });
      await showPushes();
    } catch (e) { problem(e); }
  });
  await loadCalls();
  // The console listens too: an escalation or a new briefing version refreshes what is on screen.
  const stream = new Stream({
    onEvent: async (event) => {
      if (state.call && event.payload.call_id === state.call.id) await select(state.call.id);
      else await loadCalls();
    },
    onResync: loadCalls,
    onLink: linkBanner,
  });
  stream.open();
}

main();
