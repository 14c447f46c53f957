// The in-car terminal: the officer's active call and its briefing, live, in large type.
import { Stream, api, chime, el, itemCard, linkBanner, start } from "./rtcc.js";
import { showCallMap } from "./map.js";

const state = { callId: null, pending: [] };
const $ = (id) => document.getElementById(id);

function showPhoto(url) {
  $("photo-full").src = url;
  $("photo-full").alt = "Full-size photo";
  $("photo-view").showModal();
}

async function showBriefing(callId) {
  state.callId = callId;
  const [call, briefing] = await Promise.all([api("GET", `calls/${callId}`), api("GET", `calls/${callId}/briefing`)]);
  $("call-title").textContent = `P${call.priority} ${call.cad_description || call.category}`;
  $("call-line").textContent = `${call.address} · ${call.event_number} · ${call.status}`;
  $("briefing").replaceChildren(...briefing.items.map((item) => itemCard(item, { onPhoto: showPhoto })));
  document.documentElement.dataset.version = String(briefing.version);
  showCallMap($("call-map"), call, briefing);  // map.js: the call, its unit, cameras and alerts
  await showClips(callId);
}

async function showClips(callId) {
  let clips = [];
  try {
    clips = await api("GET", `calls/${callId}/clips`);
  } catch (e) {
    clips = [];
  }
  const ready = (Array.isArray(clips) ? clips : clips.results || []).filter((clip) => clip.state === "ready" && clip.url);
  // A clip already on screen stays as it is: re-rendering would stop it mid-play.
  const shown = [...$("clips").querySelectorAll("figure")].map((figure) => figure.dataset.clip).join();
  if (shown === ready.map((clip) => String(clip.id)).join()) return;
  $("clips").replaceChildren(...ready.map((clip) => el("figure", { class: "clip", "data-clip": clip.id },
    el("video", { src: clip.url, poster: clip.poster_url, controls: true, preload: "metadata", playsinline: true,
      "aria-label": `Clip ${clip.id}, ${Math.round(clip.duration_s || clip.seconds)} seconds` }),
    el("figcaption", {}, `Clip ${clip.id} · ${Math.round(clip.duration_s || clip.seconds)} s`))));
}

async function findActiveCall() {
  const calls = await api("GET", "calls?mine=true");
  if (calls.results.length) {
    await showBriefing(calls.results[0].id);
  } else if (state.callId === null) {
    $("call-title").textContent = "No active call";
    $("briefing").replaceChildren();
  }
}

function announce(event) {
  // The lock-screen rule holds here too: the banner says what kind and how urgent, the content is below.
  const priority = event.payload.priority ? `Priority ${event.payload.priority} ` : "";
  state.pending.push(event.payload.push);
  $("alert-title").textContent = event.type === "escalation" ? "Unacknowledged briefing" : `New ${event.type}`;
  $("alert-text").textContent = `${priority}${event.type} ${event.op}. Review it below, then acknowledge.`;
  $("alert").hidden = false;
  $("acknowledge").focus();
  chime();
}

async function acknowledge() {
  const pushes = state.pending.splice(0).filter(Boolean);
  await Promise.all(pushes.map((id) => api("POST", `pushes/${id}/receipt`, { state: "acknowledged" })));
  $("alert").hidden = true;
}

// Co-responders: their referrals, with only what the referral itself holds, and the next step as a button.
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
    el("h3", {}, `P${referral.priority} ${referral.call_type || "Call"} · ${referral.state.replace("_", " ")}`),
    el("p", {}, referral.address || ""),
    (referral.safety_flags || []).length ? el("p", {}, `Safety: ${referral.safety_flags.join(", ")}`) : null,
    referral.approach_guidance ? el("p", {}, `Approach: ${referral.approach_guidance}`) : null,
    referral.language_needs ? el("p", {}, `Language: ${referral.language_needs}`) : null,
    referral.requester_notes ? el("p", {}, `From the officer: ${referral.requester_notes}`) : null,
    referral.callback_number ? el("p", {}, `Callback: ${referral.callback_number}`) : null,
    el("div", { class: "controls" }, (NEXT[referral.state] || []).map(([to, label, outcome]) => el("button", {
      type: "button", onclick: async () => {
        await api("POST", `referrals/${referral.id}/transitions`, outcome ? { to, outcome } : { to });
        await showReferrals();
      },
    }, label))))));
}

async function onEvent(event) {
  if (event.type === "referral") {
    await showReferrals();
    if (event.op === "offered" && event.payload.push) announce(event);
  } else if (event.type === "briefing" || event.type === "escalation") {
    if (event.payload.call_id) await showBriefing(event.payload.call_id);
    if (event.payload.push) {
      await api("POST", `pushes/${event.payload.push}/receipt`, { state: "opened" });
      announce(event);
    }
  } else if (event.type === "clip" && state.callId !== null) {
    await showClips(state.callId);
  }
}

async function main() {
  const user = await start({ kind: "terminal" });
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/terminal/sw.js", { scope: "/terminal/" });
  $("acknowledge").addEventListener("click", acknowledge);
  const coResponder = user.role === "co_responder";
  $("referrals-view").hidden = !coResponder;
  $("call-view").hidden = coResponder;
  $("clips-view").hidden = coResponder;
  const refresh = coResponder ? showReferrals : findActiveCall;
  await refresh();
  const stream = new Stream({ onEvent, onResync: refresh, onLink: linkBanner });
  window.rtccStream = stream;  // tests read its state; nothing secret on it
  stream.open();
}

main();
