// The map on the terminal and the console: Leaflet (vendor/leaflet-1.9.4, loaded by base.html as window.L).
// Tiles come from the agency's own server when RTCC_MAP_TILE_URL is set, otherwise from the offline basemap
// the server ships (apps/web/basemap.py): street lines in small gzipped JSON tiles, drawn as SVG paths.
// Colours live in style.css (.map-*), so night mode restyles the map with the rest of the page.
import { api } from "./rtcc.js";

const SETTINGS = JSON.parse(document.getElementById("map-settings").textContent);
// Streets from zoom 14 (a few blocks across a phone); below it, arterials and parks only: the whole street
// grid of a city at zoom 12 is 30,000 lines the eye cannot tell apart.
const STREETS_FROM_ZOOM = SETTINGS.street_zoom || 14;
// Sensor alerts within this of the call are drawn on the officer's map: the push radius (1.5 km).
const ALERTS_NEAR_CALL_M = 1500;

export const SHARING = {
  always: "shared always",
  active_call_nearby: "shared on an active call nearby",
  never: "not shared",
};
export const ALERT_KINDS = { gunshot: "Gunshot", plate_hit: "Plate hit", video_analytics: "Video analytics" };

// The offline basemap: the tiles around the view, each fetched once per page and kept.
class Basemap {
  constructor(map) {
    this.map = map;
    // Panes keep the layers in order whichever tile arrives first: parks and areas, streets, arterials on top.
    this.renderers = {};
    for (const [name, z] of [["basemap-areas", 300], ["basemap-streets", 310], ["basemap-arterials", 320]]) {
      map.createPane(name).style.zIndex = String(z);
      this.renderers[name] = L.svg({ pane: name, padding: 0.5 });
    }
    this.overview = L.layerGroup().addTo(map);
    this.streets = L.layerGroup().addTo(map);
    this.loaded = new Map();
    map.attributionControl.addAttribution(SETTINGS.attribution);
    map.on("moveend", () => this.refresh());
  }

  tiles(zoom) {
    const bounds = this.map.getBounds().pad(0.25);
    const n = 2 ** zoom;
    const tile = (lat, lon) => {
      const rad = (Math.max(-85, Math.min(85, lat)) * Math.PI) / 180;
      return [Math.floor(((lon + 180) / 360) * n), Math.floor(((1 - Math.asinh(Math.tan(rad)) / Math.PI) / 2) * n)];
    };
    const [x0, y0] = tile(bounds.getNorth(), bounds.getWest());
    const [x1, y1] = tile(bounds.getSouth(), bounds.getEast());
    const out = [];
    for (let x = Math.max(0, x0); x <= Math.min(n - 1, x1); x += 1) {
      for (let y = Math.max(0, y0); y <= Math.min(n - 1, y1); y += 1) out.push([zoom, x, y]);
    }
    return out.length > 64 ? [] : out;  // zoomed far out: nothing worth the download
  }

  refresh() {
    const showStreets = this.map.getZoom() >= STREETS_FROM_ZOOM;
    if (showStreets && !this.map.hasLayer(this.streets)) this.streets.addTo(this.map);
    if (!showStreets && this.map.hasLayer(this.streets)) this.streets.remove();
    const wanted = [...this.tiles(SETTINGS.overview_zoom || 12), ...(showStreets ? this.tiles(STREETS_FROM_ZOOM) : [])];
    for (const [z, x, y] of wanted) {
      const key = `${z}/${x}/${y}`;
      if (this.loaded.has(key)) continue;
      this.loaded.set(key, fetch(`${SETTINGS.basemap}${key}.json`).then((r) => (r.ok ? r.json() : {}))
        .then((layers) => this.draw(z === STREETS_FROM_ZOOM ? this.streets : this.overview, layers))
        .catch(() => this.loaded.delete(key)));  // offline for a moment: try again on the next move
    }
  }

  draw(group, layers) {
    // One path per layer per tile (Leaflet draws a list of lines as one SVG path): a few dozen DOM nodes.
    const lines = (flat) => flat.map((line) => {
      const points = [];
      for (let i = 0; i < line.length; i += 2) points.push([line[i + 1], line[i]]);
      return points;
    });
    const style = (pane, className) => ({ interactive: false, smoothFactor: 1.5, pane, className,
      renderer: this.renderers[pane] });
    if (layers.areas) group.addLayer(L.polygon(lines(layers.areas), style("basemap-areas", "map-area")));
    if (layers.parks) group.addLayer(L.polygon(lines(layers.parks), style("basemap-areas", "map-park")));
    if (layers.streets) group.addLayer(L.polyline(lines(layers.streets), style("basemap-streets", "map-street")));
    if (layers.arterials) {
      group.addLayer(L.polyline(lines(layers.arterials), style("basemap-arterials", "map-arterial")));
    }
    this.map.fire("basemapdrawn");
  }
}

function metres(a, b) {
  return L.latLng(a[0], a[1]).distanceTo(L.latLng(b[0], b[1]));
}

const located = (thing) => thing && thing.latitude !== null && thing.latitude !== undefined
  && thing.longitude !== null && thing.longitude !== undefined;

// A map in a container: calls, units, cameras and alerts on top of the basemap.
export class CallMap {
  constructor(container) {
    this.container = container;
    this.map = null;
    this.fitted = "";
  }

  ensure() {
    if (this.map) return this.map;
    this.container.classList.add("map-live");
    this.map = L.map(this.container, { zoomControl: true, attributionControl: true, minZoom: 10, maxZoom: 18 });
    this.map.attributionControl.setPrefix("Leaflet");
    if (SETTINGS.url) {
      L.tileLayer(SETTINGS.url, { attribution: SETTINGS.attribution || "", maxZoom: 19 }).addTo(this.map);
    } else {
      this.basemap = new Basemap(this.map);
    }
    this.marks = L.layerGroup().addTo(this.map);
    // The key, in the map itself: the terminal has no room for one beside it.
    const legend = L.control({ position: "topright" });
    legend.onAdd = () => {
      const box = L.DomUtil.create("div", "map-legend");
      // A hollow camera is shared only while a call is near; the tooltip says which.
      for (const [key, text] of [["call", "call"], ["unit", "unit"], ["camera", "camera"], ["alert", "alert"]]) {
        const item = L.DomUtil.create("span", `key key-${key}`, box);
        item.textContent = text;
      }
      return box;
    };
    legend.addTo(this.map);
    // A container that was hidden or resized (sign-in, rotation, night mode) needs Leaflet to measure again.
    new ResizeObserver(() => this.map.invalidateSize()).observe(this.container);
    return this.map;
  }

  // calls: [{id, priority, address, latitude, longitude, ...}], call: the one in focus (or null),
  // units: [{call_sign, latitude, longitude}], cameras: [{name, sharing, latitude, longitude}],
  // alerts: [{kind, state, latitude, longitude}]. focus: "call" centres on the call, "all" fits everything once.
  show({ calls = [], call = null, units = [], cameras = [], alerts = [], focus = "call" }) {
    const map = this.ensure();
    this.marks.clearLayers();
    const points = [];
    const mark = (thing, options, label, permanent = false) => {
      const at = [thing.latitude, thing.longitude];
      points.push(at);
      const marker = L.circleMarker(at, { weight: 2, fillOpacity: 0.9, ...options }).addTo(this.marks);
      marker.bindTooltip(label, { permanent, direction: "top", offset: [0, -6], className: "map-label" });
      return marker;
    };
    for (const alert of alerts.filter(located)) {
      mark(alert, { radius: 8, className: `map-alert kind-${alert.kind} state-${alert.state}` },
        `${ALERT_KINDS[alert.kind] || alert.kind} · ${alert.state}`);
    }
    for (const camera of cameras.filter(located)) {
      mark(camera, { radius: 6, className: `map-camera share-${camera.sharing}` },
        `Camera: ${camera.name} · ${SHARING[camera.sharing] || camera.sharing}`);
    }
    for (const other of calls.filter(located)) {
      if (call && other.id === call.id) continue;
      mark(other, { radius: 8, className: `map-call p${other.priority}` }, `P${other.priority} ${other.address}`);
    }
    for (const unit of units.filter(located)) {
      mark(unit, { radius: 9, className: "map-unit" }, unit.call_sign, true);
    }
    if (located(call)) {
      // A short permanent label: the address is on the page, and a long one would hide the cameras beside it.
      mark(call, { radius: 12, className: `map-call focus p${call.priority}` }, `P${call.priority} call`, true);
    }
    const key = focus === "call" && located(call) ? `call:${call.id}` : "all";
    if (this.fitted !== key) {
      // The call with what is around it (its unit, cameras, alerts), no closer than a few blocks across.
      if (key !== "all") map.fitBounds(L.latLngBounds(points).pad(0.2), { maxZoom: 16 });
      else if (points.length) map.fitBounds(L.latLngBounds(points).pad(0.15), { maxZoom: 15 });
      else map.setView([47.6062, -122.3321], 12);  // nothing to show yet: the demo city
      if (points.length || key !== "all") this.fitted = key;
    }
    if (this.basemap) this.basemap.refresh();
    return this;
  }
}

const maps = new WeakMap();

export function mapIn(container) {
  if (!maps.has(container)) maps.set(container, new CallMap(container));
  return maps.get(container);
}

// The terminal's one call: the call, the officer's unit (the units on the call with a fresh position), the
// cameras the briefing lists with their owners' sharing policy, and the sensor alerts around it.
export async function showCallMap(container, call, briefing) {
  if (!container || !window.L) return null;
  const cameras = ((briefing && briefing.items) || []).filter((item) => item.data && item.data.camera_id)
    .map((item) => ({ name: item.title, ...item.data }));
  let alerts = [];
  try {
    const page = await api("GET", "sensors/alerts?size=50");
    alerts = page.results.filter((alert) => located(alert) && (alert.call_id === call.id || (located(call)
      && metres([alert.latitude, alert.longitude], [call.latitude, call.longitude]) <= ALERTS_NEAR_CALL_M)));
  } catch (e) { /* alerts are extra: the call, unit and cameras still show */ }
  return mapIn(container).show({ call, units: call.units || [], cameras, alerts, focus: "call" });
}
