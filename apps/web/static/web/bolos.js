// BOLOs in the browser (docs/bolos.md): the console issues them and follows their receipts and sightings; the
// terminal shows the active list and reports a sighting. Everything lives in this page's memory only: nothing is
// written to storage, so a sign-out (which reloads the page) leaves nothing of a bulletin on the device.
import { agencyTime, api, el, upload } from "./rtcc.js";
import { mapIn } from "./map.js";

const $ = (id) => document.getElementById(id);
// What the console's form offers; the server requires an explicit expiry (RTCC_BOLO_DEFAULT_DAYS is its default).
const DEFAULT_DAYS = 30;
const SUBJECT = { person: "Person", vehicle: "Vehicle" };
const ENDED = { cancelled: "cancelled", expired: "expired" };

const when = (iso) => agencyTime(iso);

// A datetime-local value (the browser's own zone) for a moment `days` from now.
function localInput(days) {
  const at = new Date(Date.now() + days * 86400000);
  at.setSeconds(0, 0);
  return new Date(at.getTime() - at.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

function summary(bolo) {
  return [SUBJECT[bolo.subject], bolo.plate ? `plate ${bolo.plate}${bolo.plate_region ? ` (${bolo.plate_region})` : ""}` : "",
    bolo.area, `until ${when(bolo.expires_at)}`].filter(Boolean).join(" · ");
}

function photoStrip(bolo) {
  if (!bolo.photos.length) return null;
  return el("div", { class: "bolo-photos" }, bolo.photos.map((photo, n) => el("img", {
    src: photo.thumbnail_url, alt: `Photo ${n + 1} of ${bolo.title}`, loading: "lazy" })));
}

// The sightings of one bulletin on a map of their own, newest labelled.
function showSightings(container, sightings) {
  if (!container || !window.L) return;
  const view = mapIn(container);
  const map = view.ensure();  // the basemap and legend, without the calls' marks
  if (!view.sightings) {
    view.sightings = L.layerGroup().addTo(map);
    map.setView([47.6062, -122.3321], 12);  // nothing reported yet: the demo city, as the console's map starts
  }
  view.sightings.clearLayers();
  const points = sightings.map((s) => [s.latitude, s.longitude]);
  sightings.forEach((sighting, n) => {
    L.circleMarker([sighting.latitude, sighting.longitude], { radius: 9, weight: 2, fillOpacity: 0.9,
      className: "map-sighting" }).addTo(view.sightings)
      .bindTooltip(`${when(sighting.seen_at)}${sighting.note ? `: ${sighting.note}` : ""}`,
        { permanent: n === 0, direction: "top", offset: [0, -6], className: "map-label" });
  });
  if (points.length) map.fitBounds(L.latLngBounds(points).pad(0.3), { maxZoom: 16 });
}

function sightingList(bolo) {
  if (!bolo.sightings.length) return el("p", { class: "muted" }, "No sightings reported yet.");
  return el("ul", { class: "sightings" }, bolo.sightings.map((s) => el("li", { "data-sighting": s.id },
    `${when(s.seen_at)} · ${s.reported_by_name}${s.note ? `: ${s.note}` : ""}`)));
}

// --- The console -------------------------------------------------------------------------------------------

export function boloConsole() {
  const state = { bolos: [], selected: null };
  const form = $("bolo-form");
  if (!form) return { onEvent: async () => {} };

  const audienceValue = () => {
    const kind = $("bolo-audience").value;
    $("bolo-audience-value-row").hidden = kind === "agency";
    $("bolo-audience-value-label").textContent = { district: "District", beat: "Beat", unit: "Unit call signs, comma separated" }[kind] || "";
  };

  async function audience() {
    const kind = $("bolo-audience").value;
    const value = $("bolo-audience-value").value.trim();
    if (kind === "agency") return { kind };
    if (kind !== "unit") return { kind, value };
    // Named units by call sign, through the directory the push form uses (GET /pushes/recipients).
    const ids = [];
    for (const sign of value.split(",").map((s) => s.trim()).filter(Boolean)) {
      const found = (await api("GET", `pushes/recipients?q=${encodeURIComponent(sign)}`))
        .find((c) => c.kind === "unit" && c.label.toLowerCase() === `unit ${sign}`.toLowerCase());
      if (!found) throw new Error(`No unit ${sign}`);
      ids.push(found.id);
    }
    return { kind, ids };
  }

  async function issue(event) {
    event.preventDefault();
    $("bolo-error").textContent = "";
    $("bolo-status").textContent = "Issuing…";
    try {
      const photoIds = [];
      for (const file of $("bolo-photos").files) {
        const body = new FormData();
        body.append("file", file);
        photoIds.push((await upload("bolos/photos", body)).id);
      }
      const expires = $("bolo-expires").value;
      const made = await api("POST", "bolos", {
        subject: $("bolo-subject").value, title: $("bolo-title").value, description: $("bolo-description").value,
        plate: $("bolo-plate").value, plate_region: $("bolo-region").value, area: $("bolo-area").value,
        case_number: $("bolo-case").value, priority: Number($("bolo-priority").value),
        audience: await audience(), expires_at: expires ? new Date(expires).toISOString() : null, photo_ids: photoIds,
      });
      form.reset();
      $("bolo-expires").value = localInput(DEFAULT_DAYS);
      audienceValue();
      $("bolo-status").textContent = `BOLO ${made.id} issued.`;
      await load();
      await select(made.id);
    } catch (e) {
      $("bolo-status").textContent = "";
      $("bolo-error").textContent = e.code ? `${e.message} (${e.code})` : e.message;
    }
  }

  function row(bolo) {
    return el("li", {}, el("button", { type: "button", class: `bolo-row p${bolo.priority}`, "data-bolo": bolo.id,
      "aria-current": state.selected && state.selected.id === bolo.id ? "true" : null, onclick: () => select(bolo.id) },
    el("strong", {}, `P${bolo.priority} ${bolo.title}`), el("span", {}, summary(bolo)),
    el("span", {}, `${bolo.sightings.length} sighting${bolo.sightings.length === 1 ? "" : "s"}`)));
  }

  async function load() {
    state.bolos = await api("GET", "bolos");
    $("bolo-list").replaceChildren(...state.bolos.map(row));
    if (!state.bolos.length) $("bolo-list").append(el("li", { class: "empty" }, "No active BOLOs."));
  }

  async function receipts(pushIds) {
    if (!pushIds.length) return el("p", { class: "muted" }, "No receipts to show.");
    const push = await api("GET", `pushes/${pushIds[0]}`);  // the latest version's
    return el("ul", { class: "bolo-receipts" }, push.recipients.map((r) => el("li", { "data-status": r.status },
      `${r.name || r.username}: ${r.status}`)));
  }

  async function select(id) {
    const bolo = await api("GET", `bolos/${id}`);
    state.selected = bolo;
    const ended = ENDED[bolo.state];
    $("bolo-detail").hidden = false;
    $("bolo-detail-title").textContent = `${ended ? `${ended.toUpperCase()}: ` : ""}BOLO ${bolo.id} · ${bolo.title}`;
    $("bolo-detail-body").replaceChildren(...[
      el("p", {}, summary(bolo)), el("p", {}, bolo.description),
      ended && bolo.cancel_reason ? el("p", { class: "error" }, `Cancelled: ${bolo.cancel_reason}`) : null,
      photoStrip(bolo), el("h4", {}, "Receipts"), await receipts(bolo.push_ids), el("h4", {}, "Sightings"),
      sightingList(bolo),
      ended ? null : el("button", { type: "button", id: "bolo-cancel", onclick: () => cancel(bolo.id) }, "Cancel this BOLO"),
    ].filter(Boolean));
    showSightings($("bolo-map"), bolo.sightings);
    for (const node of $("bolo-list").querySelectorAll("[data-bolo]")) {
      node.setAttribute("aria-current", String(Number(node.dataset.bolo) === bolo.id));
    }
  }

  async function cancel(id) {
    const reason = window.prompt("Why is this BOLO cancelled? (found, arrested, withdrawn…)");
    if (!reason) return;
    await api("POST", `bolos/${id}/cancel`, { reason });
    await load();
    await select(id);
  }

  form.addEventListener("submit", issue);
  $("bolo-audience").addEventListener("change", audienceValue);
  $("bolo-expires").value = localInput(DEFAULT_DAYS);
  audienceValue();
  load();

  return {
    // bolo.* and the receipts of its pushes: redraw the list, and the bulletin on screen.
    async onEvent(event) {
      if (event.type === "bolo") {
        await load();
        if (state.selected && state.selected.id === event.payload.bolo_id) await select(state.selected.id);
      } else if (event.type === "receipt" && state.selected && state.selected.push_ids.includes(event.payload.push_id)) {
        await select(state.selected.id);
      }
    },
  };
}

// --- The terminal ------------------------------------------------------------------------------------------

export function boloTerminal() {
  const state = { bolos: [], reporting: null, position: null };
  const view = $("bolos-view");
  if (!view) return { onEvent: async () => {}, refresh: async () => {} };
  view.hidden = false;

  function notice(text) {
    $("bolo-notice").textContent = text;
    $("bolo-notice").hidden = !text;
  }

  function card(bolo) {
    return el("li", {}, el("article", { class: `item bolo p${bolo.priority}`, "data-bolo": bolo.id },
      el("h3", {}, `BOLO · ${bolo.title}`), el("p", {}, summary(bolo)), el("p", {}, bolo.description),
      photoStrip(bolo),
      el("p", { class: "reason" }, `Issued by ${bolo.issued_by_name} ${when(bolo.issued_at)}`
        + (bolo.sightings.length ? ` · ${bolo.sightings.length} sighting${bolo.sightings.length === 1 ? "" : "s"}` : "")),
      el("div", { class: "controls" }, el("button", { type: "button", class: "big", onclick: () => report(bolo) },
        "Report a sighting"))));
  }

  async function refresh() {
    state.bolos = await api("GET", "bolos");
    $("bolo-list").replaceChildren(...state.bolos.map(card));
    if (!state.bolos.length) $("bolo-list").append(el("li", { class: "muted" }, "No active BOLOs."));
    $("bolos-count").textContent = state.bolos.length ? `(${state.bolos.length})` : "";
    if (state.reporting && !state.bolos.some((b) => b.id === state.reporting.id)) closeForm();
  }

  function closeForm() {
    state.reporting = null;
    $("sighting-form").hidden = true;
    $("sighting-form").reset();
  }

  function report(bolo) {
    state.reporting = bolo;
    $("sighting-title").textContent = `Sighting: ${bolo.title}`;
    $("sighting-when").value = localInput(0);
    $("sighting-status").textContent = "";
    $("sighting-form").hidden = false;
    if (navigator.geolocation) {
      navigator.geolocation.getCurrentPosition((at) => {
        if (!$("sighting-lat").value) $("sighting-lat").value = at.coords.latitude.toFixed(6);
        if (!$("sighting-lon").value) $("sighting-lon").value = at.coords.longitude.toFixed(6);
      }, () => {}, { enableHighAccuracy: true, timeout: 5000 });
    }
    $("sighting-note").focus();
  }

  async function send(event) {
    event.preventDefault();
    const bolo = state.reporting;
    if (!bolo) return;
    const form = new FormData();
    form.append("latitude", $("sighting-lat").value);
    form.append("longitude", $("sighting-lon").value);
    form.append("seen_at", new Date($("sighting-when").value).toISOString());
    form.append("note", $("sighting-note").value);
    const photo = $("sighting-photo").files[0];
    if (photo) form.append("photo", photo);
    $("sighting-status").textContent = "Sending…";
    try {
      await upload(`bolos/${bolo.id}/sightings`, form);
      closeForm();
      notice(`Sighting sent: ${bolo.title}. The author and the supervisors have it.`);
      await refresh();
    } catch (e) {
      $("sighting-status").textContent = `Not sent: ${e.message}${e.code ? ` (${e.code})` : ""}`;
    }
  }

  $("sighting-form").addEventListener("submit", send);
  $("sighting-cancel").addEventListener("click", closeForm);
  // A bulletin past its expiry leaves the list at once, even before the server's expiry event arrives.
  setInterval(() => {
    const now = Date.now();
    const gone = state.bolos.filter((b) => Date.parse(b.expires_at) <= now);
    if (gone.length) {
      notice(`BOLO expired: ${gone.map((b) => b.title).join(", ")}.`);
      refresh();
    }
  }, 30000);

  return {
    refresh,
    async onEvent(event) {
      if (event.type !== "bolo") return;
      if (event.op === "cancelled" || event.op === "expired") {
        const known = state.bolos.find((b) => b.id === event.payload.bolo_id);
        let title = known ? known.title : `BOLO ${event.payload.bolo_id}`;
        let why = "";
        try {
          const bolo = await api("GET", `bolos/${event.payload.bolo_id}`);
          title = bolo.title;
          why = bolo.cancel_reason ? `: ${bolo.cancel_reason}` : "";
        } catch (e) { /* gone from view: the list below says the rest */ }
        notice(`BOLO ${ENDED[event.op]}: ${title}${why}.`);
      } else if (event.op === "issued" || event.op === "updated") {
        notice(`${event.op === "issued" ? "New" : "Updated"} BOLO, priority ${event.payload.priority}: see the list below.`);
      }
      await refresh();
    },
  };
}
