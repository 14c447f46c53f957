// The in-car terminal: the officer's active calls, each opening with what keeps them safe, live, in large type.
// Which call comes first, and which pushes wait for an acknowledgement, the server says (GET /me/calls and
// /me/pushes): a reload, a restart or a second device shows the same list and the same banner.
import { Stream, agencyTime, api, callPhotoList, chime, el, itemCard, linkBanner, start, upload } from "./rtcc.js";
import { showCallMap } from "./map.js";
import { PositionReporter, emergencyButton } from "./avl.js";
import { boloTerminal } from "./bolos.js";

const state = {
  user: null,
  calls: [],          // /me/calls, in the server's order
  pending: [],        // /me/pushes: what waits for this officer's acknowledgement
  callId: null,
  version: null,      // the briefing version on screen
  shown: {},          // call id -> the version this page last had on screen
  marks: {},          // call id -> item id -> "new" | "changed", since the version the officer last saw
  openedSent: new Set(),
  coResponder: false,
};
const $ = (id) => document.getElementById(id);

// --- The order of what keeps the officer safe: cautions, weapons, violence, dogs, medical (then the rest) ---

const SAFETY_RANK = { caution: 0, weapons: 1, violence: 2, dog: 3, premise: 4, hazmat: 5, medical: 6, other: 7 };
const HAZARD_RANK = { weapons: "weapons", violence_to_officers: "violence", dog: "dog", hazmat: "hazmat",
  medical: "medical", other: "other" };

// Which safety group an item belongs to, or null when it is not a safety item.
function safetyGroup(item) {
  if (item.section === "people") return (item.data.caution_flags || []).length ? "caution" : null;
  if (item.section === "hazards") return item.id.startsWith("premise_note:") ? "premise" : HAZARD_RANK[item.data.kind] || "other";
  if (item.section === "health") return item.stale ? null : "medical";
  if (item.section === "safety" || item.section === "alert") return "weapons";
  return null;
}

function safetyCards(items) {
  return items.map((item) => [safetyGroup(item), item]).filter(([group]) => group !== null)
    .sort(([a, x], [b, y]) => SAFETY_RANK[a] - SAFETY_RANK[b] || rankSeverity(y) - rankSeverity(x))
    .map(([, item]) => item);
}

function rankSeverity(item) {
  return { danger: 2, caution: 1 }[item.severity] || 0;
}

// --- Cards ---

function showPhoto(url) {
  $("photo-full").src = url;
  $("photo-full").alt = "Full-size photo";
  $("photo-view").showModal();
}

function card(item, extra) {
  return itemCard(item, { onPhoto: showPhoto, controls: extra || null,
    time: agencyTime(item.as_of) || agencyTime(state.versionAt), mark: (state.marks[state.callId] || {})[item.id] });
}

function part(title, nodes, { id, className = "" } = {}) {
  if (!nodes.length) return null;
  return el("section", { class: `part ${className}`, id, "aria-label": title }, el("h3", {}, title), nodes);
}

function historyPart(items) {
  // Counts by kind, then the latest few: the prior-calls items already hold both.
  const nodes = items.map((item) => {
    const last = (item.data.last || []).map((c) => el("li", {}, `${agencyTime(c.received_at)} · ${capital(labelOf(c.category))}`));
    return el("article", { class: `item ${item.severity} history`, "data-item": item.id },
      el("h4", {}, item.title), el("p", {}, Object.entries(item.data.by_category || {})
        .map(([kind, n]) => `${n} ${labelOf(kind)}`).join(" · ")),
      last.length ? el("ul", { class: "latest" }, last) : null,
      el("p", { class: "reason" }, `As of ${agencyTime(item.as_of) || "now"} · ${item.reason.text}`));
  });
  return part("Prior history", nodes, { id: "history" });
}

const CATEGORY = { violent: "violent crime", weapons: "weapons", property: "property crime", traffic: "traffic",
  disturbance: "disturbance", domestic: "domestic", mental_health: "mental health", overdose: "overdose",
  welfare_check: "welfare check", medical: "medical", suspicious: "suspicious", alarm: "alarm",
  administrative: "administrative", other: "other", unknown: "unmapped type" };

function capital(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

function labelOf(code) {
  return CATEGORY[code] || String(code).replaceAll("_", " ");
}

function cameraStrip(items, clips) {
  // One tile a camera: its last snapshot (the newest clip's poster), name and distance; no text-only cards.
  const posters = {};
  for (const clip of clips) if (clip.camera_id && clip.poster_url && !posters[clip.camera_id]) posters[clip.camera_id] = clip.poster_url;
  const tiles = items.map((item) => el("figure", { class: "camera", "data-item": item.id },
    posters[item.data.camera_id]
      ? el("img", { src: posters[item.data.camera_id], alt: `Last snapshot from ${item.title}`, loading: "lazy" })
      : el("div", { class: "no-snapshot", "aria-hidden": "true" }, "No snapshot"),
    el("figcaption", {}, el("strong", {}, item.title),
      item.data.distance_m !== null && item.data.distance_m !== undefined ? ` · ${item.data.distance_m} m` : "",
      item.data.sharing ? ` · ${labelOf(item.data.sharing)}` : "")));
  return part("Cameras", tiles.length ? [el("div", { class: "camera-strip" }, tiles)] : [], { id: "cameras" });
}

function coResponderPart(items, call, open) {
  if (!items.length) return null;
  const referrals = ((open && open.results) || []).filter((r) => r.call_id === call.id);
  const nodes = items.map((item) => {
    const asked = referrals.find((r) => r.recommendation_item === item.id) || referrals[0];
    const controls = asked
      ? el("p", { class: "referral-state", "data-referral": asked.id },
        `Requested: ${labelOf(asked.state)}${asked.responder ? ` (${asked.responder})` : ""}`)
      : el("div", { class: "controls" }, el("button", { type: "button", onclick: async (event) => {
        event.target.disabled = true;
        try {
          await api("POST", "referrals", { call_id: call.id, recommendation_item: item.id });
          notice("Co-responder requested.");
        } catch (e) {
          notice(`Could not request: ${e.message}`);
        }
        await showCall(call.id);
      } }, "Request co-responder"));
    return card(item, controls);
  });
  return part("Co-responder", nodes, { id: "co-responder" });
}

// --- The call list ---

function callLabel(call) {
  return `P${call.priority} ${call.cad_description || labelOf(call.category)}`;
}

function renderCalls() {
  $("calls-nav").hidden = state.calls.length < 2 && !state.calls.some((c) => c.pending_pushes.length);
  $("calls").replaceChildren(...state.calls.map((call) => el("li", {},
    el("button", { type: "button", class: `call-tab${call.pending_pushes.length ? " pending" : ""}`,
      "data-call": call.id, "aria-current": call.id === state.callId ? "true" : "false",
      onclick: () => showCall(call.id) },
    call.pending_pushes.length ? el("span", { class: "badge" }, "Pending") : null,
    el("span", {}, callLabel(call)),
    el("span", { class: "tab-line" }, call.address || call.event_number)))));
}

async function refreshCalls() {
  [state.calls, state.pending] = await Promise.all([api("GET", "me/calls"), api("GET", "me/pushes")]);
}

// --- One call ---

async function showCall(callId) {
  if (callId === null || callId === undefined) {
    state.callId = null;
    $("call-title").textContent = "No active call";
    $("call-line").textContent = "";
    $("call-narrative").textContent = "";
    $("safety").replaceChildren();
    $("briefing").replaceChildren();
    $("clips-view").hidden = true;
    renderCalls();
    renderBanner();
    return;
  }
  const switched = callId !== state.callId;
  state.callId = callId;
  renderCalls();
  if (switched) window.scrollTo(0, 0);
  // One round trip for everything the call shows: on a 150 ms link each one more is felt.
  const [call, briefing, clips, referrals, photos] = await Promise.all([api("GET", `calls/${callId}`),
    api("GET", `calls/${callId}/briefing`), api("GET", `calls/${callId}/clips`).catch(() => []),
    api("GET", "referrals?open=true").catch(() => null), api("GET", `calls/${callId}/photos`).catch(() => [])]);
  if (state.callId !== callId) return;  // another tap came meanwhile
  const listed = state.calls.find((c) => c.id === callId);
  // New and changed since the version this page last showed, or (first time here) the one last opened.
  const since = state.shown[callId] ?? (listed ? listed.seen_version : null);
  if (since !== briefing.version || !(callId in state.marks)) await markSince(callId, since, briefing.version);
  state.shown[callId] = briefing.version;
  state.version = briefing.version;
  state.versionAt = briefing.created_at;
  document.documentElement.dataset.version = String(briefing.version);
  document.documentElement.dataset.call = String(callId);

  const items = briefing.items;
  const mine = (call.assignments || []).filter((a) => !a.cleared_at);
  $("call-title").textContent = callLabel(call);
  $("call-line").replaceChildren(
    el("span", {}, call.address || "Location unknown"), " · ", el("span", {}, call.event_number), " · ",
    el("span", {}, labelOf(call.status)),
    mine.length ? el("span", {}, ` · ${mine.map((a) => `${a.unit} since ${agencyTime(a.assigned_at)}`).join(", ")}`) : "");
  $("call-narrative").textContent = [call.narrative,
    call.cad_code_unmapped ? "CAD code not mapped: check the type with dispatch." : ""].filter(Boolean).join(" ");

  const safety = safetyCards(items);
  $("safety").replaceChildren(...(safety.length ? [el("h3", { class: "visually-hidden" }, "Officer safety"),
    ...safety.map((item) => card(item))] : [el("p", { class: "item info none" }, "No officer-safety cautions on record for this call.")]));

  const inSafety = new Set(safety.map((item) => item.id));
  const rest = (section) => items.filter((item) => item.section === section && !inSafety.has(item.id));
  const clipList = Array.isArray(clips) ? clips : clips.results || [];
  const others = items.filter((item) => !["call", "people", "co_responder", "prior_history", "cameras"]
    .includes(item.section) && !inSafety.has(item.id));
  const parts = [
    part("From the center", others.map((item) => card(item)), { id: "notes" }),
    part("People", rest("people").map((item) => card(item)), { id: "people" }),
    coResponderPart(rest("co_responder"), call, referrals),
    historyPart(rest("prior_history")),
    cameraStrip(rest("cameras"), clipList),
  ].filter(Boolean);
  if (state.callId !== callId) return;
  $("briefing").replaceChildren(...parts);
  showCallMap($("call-map"), call, briefing);  // map.js: the call, its unit, cameras and alerts
  showClips(clipList);
  showCallPhotos(photos);
  $("clips-view").hidden = false;
  renderBanner();
  watchOpened();
}

async function markSince(callId, since, version) {
  const marks = {};
  state.marks[callId] = marks;
  if (!since || since >= version) return;
  try {
    const diff = await api("GET", `calls/${callId}/briefing/diff?from_version=${since}&to_version=${version}`);
    for (const entry of diff.added) marks[entry.id] = "new";
    for (const entry of diff.changed) marks[entry.id] = "changed";
  } catch (e) { /* an old version may be gone: show the briefing unmarked */ }
}

function showClips(clips) {
  const ready = clips.filter((clip) => clip.state === "ready" && clip.url);
  // A clip already on screen stays as it is: re-rendering would stop it mid-play.
  const shown = [...$("clips").querySelectorAll("figure")].map((figure) => figure.dataset.clip).join();
  if (shown === ready.map((clip) => String(clip.id)).join()) return;
  $("clips").replaceChildren(...ready.map((clip) => el("figure", { class: "clip", "data-clip": clip.id },
    el("video", { src: clip.url, poster: clip.poster_url, controls: true, preload: "metadata", playsinline: true,
      "aria-label": `Clip ${clip.id}, ${Math.round(clip.duration_s || clip.seconds)} seconds` }),
    el("figcaption", {}, `Clip ${clip.id} · ${Math.round(clip.duration_s || clip.seconds)} s · ${agencyTime(clip.finished_at || clip.created_at)}`))));
}

function showCallPhotos(photos) {
  $("call-photos").replaceChildren(...callPhotoList(photos, { onOpen: showPhoto, time: agencyTime }));
}

// --- Pending pushes: the banner and its Acknowledge button ---

function pendingHere() {
  // What the banner is about: this call's pushes, and any that belong to no call (a co-responder: all).
  if (state.coResponder) return state.pending;
  return state.pending.filter((p) => p.call_id === state.callId || p.call_id === null);
}

function renderBanner() {
  const here = pendingHere();
  const elsewhere = state.pending.filter((p) => !here.includes(p));
  document.documentElement.dataset.pending = here.map((p) => p.push_id).join(",");  // bench/terminal.py reads it
  $("alert").hidden = !here.length;
  const waiting = "Another call has something waiting for your acknowledgement: it is marked Pending above.";
  if (elsewhere.length && !here.length) notice(waiting);
  else if ($("notice").textContent === waiting) notice("");
  if (!here.length) return;
  const top = here.reduce((a, b) => (b.priority < a.priority ? b : a));
  const kinds = [...new Set(here.map((p) => (p.type === "escalation" ? "unacknowledged briefing"
    : p.type === "bolo" ? "BOLO" : p.type)))];
  $("alert-title").textContent = here.some((p) => p.type === "escalation") ? "Unacknowledged briefing" : `New ${kinds[0]}`;
  $("alert-text").textContent = `Priority ${top.priority} ${kinds.join(", ")} ${top.op}, ${agencyTime(top.sent_at)}.`
    + `${here.length > 1 ? ` ${here.length} waiting.` : ""} Review it below, then acknowledge.`;
}

async function acknowledge() {
  const pushes = pendingHere();
  $("acknowledge").disabled = true;
  try {
    await Promise.all(pushes.map((p) => api("POST", `pushes/${p.push_id}/receipt`, { state: "acknowledged" })
      .catch((e) => { if (!e.status || e.status >= 500) throw e; })));  // expired or done elsewhere: nothing to do
    if (state.coResponder) {
      state.pending = await api("GET", "me/pushes");
    } else {
      await refreshCalls();
      renderCalls();
    }
    renderBanner();
  } catch (e) {
    notice("Acknowledgement not sent: the link is down. Try again.");
  } finally {
    $("acknowledge").disabled = false;
  }
}

// "Opened" only once the briefing's safety cards were on screen with the page visible.
let observer = null;
let onScreen = false;

function watchOpened() {
  if (observer) observer.disconnect();
  onScreen = false;
  observer = new IntersectionObserver((entries) => {
    onScreen = entries.some((entry) => entry.isIntersecting);
    reportOpened();
  }, { threshold: 0.5 });
  // The first safety card (or the "no cautions" line): small, so half of it on screen means it was read.
  observer.observe($("safety").querySelector(".item"));
}

function reportOpened() {
  if (!onScreen || document.visibilityState !== "visible" || state.callId === null) return;
  for (const push of pendingHere()) {
    if (push.opened_at || state.openedSent.has(push.push_id)) continue;
    state.openedSent.add(push.push_id);
    api("POST", `pushes/${push.push_id}/receipt`, { state: "opened" }).then((receipt) => {
      push.opened_at = receipt.opened_at;
    }).catch(() => state.openedSent.delete(push.push_id));
  }
}

function notice(text) {
  $("notice").textContent = text;
  $("notice").hidden = !text;
}

// --- Attaching a photo or video from the phone's camera (POST /calls/{id}/photos, /calls/{id}/clips/upload) ---

async function attachFile(event, { path, what, done }) {
  const file = event.target.files[0];
  const callId = state.callId;
  if (!file || callId === null) return;
  const form = new FormData();
  form.append("file", file);
  const size = `${Math.round(file.size / 1024)} KiB`;
  $("attach-status").textContent = `Uploading ${what} (${size})…`;
  try {
    await upload(path(callId), form, (part) => {
      $("attach-status").textContent = `Uploading ${what} (${size}): ${Math.round(part * 100)}%`;
    });
    $("attach-status").textContent = done;
    if (state.callId === callId) await showCall(callId);
  } catch (e) {
    $("attach-status").textContent = `Upload failed: ${e.message}`;
  }
  event.target.value = "";
}

const attach = (event) => attachFile(event, { path: (id) => `calls/${id}/clips/upload`, what: "video",
  done: "Uploaded: it appears here once processed." });
const attachPhoto = (event) => attachFile(event, { path: (id) => `calls/${id}/photos`, what: "photo",
  done: "Photo attached to the call." });

// --- Co-responders: their referrals, with only what the referral itself holds, and the next step as a button ---

const NEXT = {
  offered: [["accepted", "Accept"], ["declined", "Decline"]],
  accepted: [["en_route", "En route"]],
  en_route: [["on_scene", "On scene"]],
  on_scene: [["closed", "Close: resolved on scene", "resolved_on_scene"], ["closed", "Close: transported", "transported"],
    ["closed", "Close: referred to services", "referred_to_services"]],
};

async function showReferrals() {
  const page = await api("GET", "referrals");
  const referrals = Array.isArray(page) ? page : page.results || [];
  $("referrals").replaceChildren(...referrals.map((referral) => el("article", { class: "item caution", "data-referral": referral.id },
    el("h3", {}, `P${referral.priority} ${capital(labelOf(referral.call_type || "call"))} · ${labelOf(referral.state)}`),
    el("p", {}, referral.address || ""),
    (referral.safety_flags || []).length ? el("p", {}, `Safety: ${referral.safety_flags.map(labelOf).join(", ")}`) : null,
    referral.approach_guidance ? el("p", {}, `Approach: ${referral.approach_guidance}`) : null,
    referral.language_needs ? el("p", {}, `Language: ${referral.language_needs}`) : null,
    referral.requester_notes ? el("p", {}, `From the officer: ${referral.requester_notes}`) : null,
    referral.callback_number ? el("p", {}, `Callback: ${referral.callback_number}`) : null,
    el("p", { class: "reason" }, `Since ${agencyTime(referral.created_at)}`),
    el("div", { class: "controls" }, (NEXT[referral.state] || []).map(([to, label, outcome]) => el("button", {
      type: "button", onclick: async () => {
        await api("POST", `referrals/${referral.id}/transitions`, outcome ? { to, outcome } : { to });
        await showReferrals();
      },
    }, label))))));
}

async function showCoResponder() {
  state.pending = await api("GET", "me/pushes");
  await showReferrals();
  renderBanner();
}

// --- Live events ---

async function refreshOfficer({ follow = null } = {}) {
  await refreshCalls();
  const ids = state.calls.map((c) => c.id);
  const target = follow !== null && ids.includes(follow) ? follow
    : ids.includes(state.callId) ? state.callId : (ids[0] ?? null);
  await showCall(target);
}

// --- The officer emergency (apps/web/static/web/avl.js) ---

function emergencyShown(emergency) {
  const line = $("emergency-state");
  state.emergency = emergency && emergency.is_open ? emergency : null;
  line.hidden = !state.emergency;
  $("emergency-button").hidden = Boolean(state.emergency);
  if (state.emergency) $("emergency-hint").hidden = true;  // "press twice" is done with once it is sent
  line.textContent = !state.emergency ? ""
    : state.emergency.acknowledged_at ? "Help is coming: your emergency was acknowledged."
      : state.emergency.latitude === null
        ? "Emergency sent to your supervisors and the center; the units nearby are told once your position is known."
        : "Emergency sent to the units nearby, your supervisors and the center.";
  if (state.reporter) state.reporter.follow(state.emergency ? 2 : 0);
}

let hintTimer = null;

function emergencyHint(text) {
  $("emergency-hint").textContent = text;
  $("emergency-hint").hidden = false;
  clearTimeout(hintTimer);
  hintTimer = setTimeout(() => { $("emergency-hint").hidden = true; }, 5000);
}

async function raiseEmergency() {
  try {
    emergencyShown(await api("POST", "emergencies", { source: "terminal" }));
    chime();
  } catch (e) {
    emergencyHint("The emergency did not go through: use the radio.");
  }
}

let bolos = null;  // the BOLO list and sighting form (bolos.js)

async function onOfficerEvent(event) {
  if (event.type === "bolo" && bolos) await bolos.onEvent(event);
  if (event.type === "emergency") {
    if (event.payload.follow_every_s && state.reporter) state.reporter.follow(event.payload.follow_every_s);
    const mine = await api("GET", "emergencies");
    emergencyShown(mine.results.find((e) => e.officer === state.user.id) || null);
    // "located": the position came after the raise. It is a push to the units near it who were not told yet
    // (the same news as "raised" for them), and for everyone else the incident's address to read again.
    const news = event.op === "raised" || (event.op === "located" && event.payload.push);
    if (news && !mine.results.some((e) => e.officer === state.user.id)) {
      notice("An officer nearby needs help.");
      chime();
    }
    if (event.op === "located" || event.op === "filed") await refreshOfficer();  // the incident, where it is
    return;
  }
  const callId = event.payload.call_id ?? null;
  if (event.payload.push) {
    // A new push switches to its call, whatever was on screen.
    await refreshOfficer({ follow: callId });
    if (pendingHere().length) {
      $("acknowledge").focus();
      chime();
    }
    if (event.type === "referral") notice(`Co-responder: ${labelOf(event.op)}.`);
    if (event.type === "clip") notice("A new clip of this call is ready.");
    if (event.type === "photo") notice("A new photo was attached to this call.");
  } else if (event.type === "clip" && callId === state.callId) {
    notice("A new clip of this call is ready.");
    await showCall(state.callId);
  } else if (callId === state.callId || callId === null) {
    await refreshOfficer();
  }
}

async function onCoResponderEvent(event) {
  if (event.type !== "referral") return;
  await showCoResponder();
  if (event.payload.push && pendingHere().length) chime();
}

async function main() {
  state.user = await start({ kind: "terminal" });
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/terminal/sw.js", { scope: "/terminal/" });
  const coResponder = state.user.role === "co_responder";
  state.coResponder = coResponder;
  $("referrals-view").hidden = !coResponder;
  $("call-view").hidden = coResponder;
  $("acknowledge").addEventListener("click", acknowledge);
  if (!coResponder) {
    $("attach").addEventListener("change", attach);
    $("attach-photo").addEventListener("change", attachPhoto);
    document.addEventListener("visibilitychange", reportOpened);
    $("emergency-view").hidden = false;
    emergencyButton($("emergency-button"), { onRaise: raiseEmergency, hint: emergencyHint });
    bolos = boloTerminal();
  }
  const refresh = coResponder ? showCoResponder : () => Promise.all([refreshOfficer(), bolos.refresh()]);
  await refresh();
  const stream = new Stream({ onEvent: coResponder ? onCoResponderEvent : onOfficerEvent, onResync: refresh,
    onLink: linkBanner });
  window.rtccStream = stream;  // tests read its state; nothing secret on it
  stream.open();
  if (!coResponder) {
    state.reporter = new PositionReporter(stream);
    state.reporter.start();
    const open = await api("GET", "emergencies");
    emergencyShown(open.results.find((e) => e.officer === state.user.id) || null);
  }
}

main();
