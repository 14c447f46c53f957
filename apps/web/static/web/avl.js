// Unit locations and the officer emergency in the browser (docs/locations.md): kept apart from console.js and
// terminal.js so each screen adds them in a few lines.
// - The terminal reports its position over the stream (every 5 s, every 2 s while its emergency is open) and
//   raises an emergency with a deliberate gesture: press and hold, or two presses close together. A single
//   tap only says how; a pocket or a glove brushing the screen raises nothing.
// - The console draws every unit it may see from the live `unit.position` frames, and open emergencies above
//   everything else on the map, with a banner to acknowledge them.
import { agencyTime, api, el } from "./rtcc.js";
import { mapIn } from "./map.js";

// Hold this long, or press twice within DOUBLE_MS: long enough that nothing accidental does it, short enough
// for an officer in trouble (TIA-4950-style "man down" buttons use 1-3 s).
export const HOLD_MS = 1500;
export const DOUBLE_MS = 600;
const REPORT_EVERY_MS = 5000;

// --- The terminal: the emergency button --------------------------------------------------------------------

export function emergencyButton(button, { onRaise, hint }) {
  let timer = null;
  let lastPress = 0;
  const cancel = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    button.classList.remove("holding");
  };
  const raise = () => {
    cancel();
    lastPress = 0;
    onRaise();
  };
  button.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    const now = Date.now();
    if (now - lastPress <= DOUBLE_MS) {
      raise();
      return;
    }
    lastPress = now;
    button.classList.add("holding");
    timer = setTimeout(raise, HOLD_MS);
  });
  for (const name of ["pointerup", "pointerleave", "pointercancel"]) {
    button.addEventListener(name, () => {
      if (timer) hint("Hold the button, or press it twice, to call for help.");
      cancel();
    });
  }
  // A keyboard user: Enter or Space twice in a row.
  button.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    event.preventDefault();
    const now = Date.now();
    if (now - lastPress <= DOUBLE_MS) raise();
    else {
      lastPress = now;
      hint("Press again to call for help.");
    }
  });
}

// --- The terminal: reporting where it is -------------------------------------------------------------------

export class PositionReporter {
  constructor(stream) {
    this.stream = stream;
    this.every = REPORT_EVERY_MS;
    this.last = null;
    this.sentAt = 0;
    this.timer = null;
  }

  start() {
    if (!("geolocation" in navigator)) return;
    navigator.geolocation.watchPosition((fix) => {
      this.last = fix;
      if (Date.now() - this.sentAt >= this.every) this.send();
    }, () => {}, { enableHighAccuracy: true, maximumAge: 1000 });
    this.timer = setInterval(() => this.send(), this.every);
  }

  // While an emergency is open the server asks for a fix every `seconds` (EMERGENCY_FOLLOW_SECONDS).
  follow(seconds) {
    this.every = seconds ? seconds * 1000 : REPORT_EVERY_MS;
    clearInterval(this.timer);
    this.timer = setInterval(() => this.send(), this.every);
    this.send();
  }

  send() {
    const fix = this.last;
    if (!fix || Date.now() - this.sentAt < 1000) return;  // at most one a second (the server refuses more)
    this.sentAt = Date.now();
    const c = fix.coords;
    this.stream.send({
      type: "position", latitude: c.latitude, longitude: c.longitude,
      reported_at: new Date(fix.timestamp).toISOString(), accuracy_m: c.accuracy ?? null,
      heading_deg: Number.isFinite(c.heading) ? c.heading : null, speed_mps: Number.isFinite(c.speed) ? c.speed : null,
    });
  }
}

// --- The console: live units and emergencies on the map ----------------------------------------------------

export class LiveUnits {
  constructor(container, banner) {
    this.container = container;
    this.banner = banner;
    this.units = new Map();  // unit id -> latest position
    this.markers = new Map();
    this.emergencies = new Map();  // emergency id -> emergency
    this.layer = null;
  }

  ensure() {
    if (this.layer || !window.L) return this.layer;
    const map = mapIn(this.container).ensure();
    // Above the calls and cameras (the marker pane is 600), emergencies above everything, tooltips included.
    map.createPane("live-units").style.zIndex = "620";
    map.createPane("emergencies").style.zIndex = "700";
    this.layer = L.layerGroup().addTo(map);
    this.alarm = L.layerGroup().addTo(map);
    return this.layer;
  }

  async load() {
    const [positions, emergencies] = await Promise.all([api("GET", "units/positions"), api("GET", "emergencies")]);
    this.units = new Map(positions.results.map((p) => [p.unit_id, p]));
    this.emergencies = new Map(emergencies.results.map((e) => [e.id, e]));
    this.draw();
  }

  // A `unit.position` frame from the stream: the newest fix of each unit it names.
  onFrame(frame) {
    for (const position of frame.positions) {
      const known = this.units.get(position.unit_id);
      if (!known || known.reported_at < position.reported_at) this.units.set(position.unit_id, position);
    }
    this.draw();
  }

  async onEvent(event) {
    if (event.type !== "emergency") return false;
    await this.load();
    return true;
  }

  draw() {
    if (!this.ensure()) return;
    const openUnits = new Map([...this.emergencies.values()].filter((e) => e.is_open).map((e) => [e.unit, e]));
    for (const [unitId, p] of this.units) {
      const emergency = openUnits.get(unitId) || (p.emergency_id ? { id: p.emergency_id } : null);
      const className = `map-live-unit${p.jump ? " doubtful" : ""}${emergency ? " emergency" : ""}`;
      let marker = this.markers.get(unitId);
      if (!marker) {
        marker = L.circleMarker([p.latitude, p.longitude], { radius: 7, weight: 2, fillOpacity: 0.9,
          pane: "live-units", className }).addTo(this.layer);
        marker.bindTooltip("", { permanent: true, direction: "right", offset: [6, 0], className: "map-label" });
        this.markers.set(unitId, marker);
      }
      marker.setLatLng([p.latitude, p.longitude]);
      marker.setStyle({ className });
      if (marker._path) marker._path.setAttribute("class", `leaflet-interactive ${className}`);
      marker.setTooltipContent(`${p.call_sign}${p.jump ? " (position doubtful)" : ""}`);
      marker.getElement()?.setAttribute("data-unit", p.call_sign);
    }
    this.fitOnce();
    this.alarm.clearLayers();
    const open = [...this.emergencies.values()].filter((e) => e.is_open);
    for (const e of open) {
      const p = this.units.get(e.unit);
      const at = p ? [p.latitude, p.longitude] : (e.latitude !== null ? [e.latitude, e.longitude] : null);
      if (!at) continue;
      L.circleMarker(at, { radius: 16, weight: 4, fillOpacity: 0.6, pane: "emergencies", className: "map-emergency" })
        .bindTooltip(`EMERGENCY ${e.call_sign || ""}`, { permanent: true, direction: "top", pane: "emergencies",
          className: "map-label map-emergency-label" })
        .addTo(this.alarm);
    }
    this.renderBanner(open);
  }

  // A console with no call to frame yet frames its units once, and the call map leaves that view alone.
  fitOnce() {
    const callMap = mapIn(this.container);
    if (callMap.fitted || !this.units.size) return;
    const points = [...this.units.values()].map((p) => [p.latitude, p.longitude]);
    callMap.map.fitBounds(L.latLngBounds(points).pad(0.3), { maxZoom: 15 });
    callMap.fitted = "all";
  }

  renderBanner(open) {
    if (!this.banner) return;
    this.banner.hidden = !open.length;
    this.banner.replaceChildren(...open.map((e) => el("p", { class: "emergency-line" },
      el("strong", {}, `Officer needs help: ${e.call_sign || "unit unknown"}`),
      ` since ${agencyTime(e.raised_at, "clock")}`,
      e.acknowledged_at ? " · acknowledged" : el("button", { type: "button", class: "big", onclick: async () => {
        await api("POST", `emergencies/${e.id}/acknowledge`);
        await this.load();
      } }, "Acknowledge"))));
  }
}

// --- The console: nearest available units for the selected call ------------------------------------------

export async function showNearestUnits(callId, container) {
  let found = [];
  try {
    found = (await api("GET", `calls/${callId}/nearest-units?limit=5`)).results;
  } catch (e) { /* extra: the call still shows */ }
  container.hidden = false;
  const km = (m) => (m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(1)} km`);
  const age = (s) => (s < 90 ? `${Math.round(s)} s ago` : `${Math.round(s / 60)} min ago`);
  container.replaceChildren(el("h3", {}, "Nearest available units"), found.length
    ? el("ol", { class: "nearest" }, found.map((u) => el("li", {},
      `${u.call_sign}: ${km(u.distance_m)} (straight line), position ${age(u.age_s)}`)))
    : el("p", { class: "muted" }, "No available unit has reported a position in the last 15 minutes."));
}
