// What the terminal and the console share: the API client, sign-in, the event stream, and small DOM helpers.
// The stream protocol is docs/delivery.md; this is one more client of it, like the phones.
// The token lives in sessionStorage only (gone when the tab closes) and everything is wiped at sign-out.

import { CLOSE_REVOKED, CLOSE_UNAUTHENTICATED } from "./stream-protocol.js";

const KEY = "rtcc.session";
const POSITION = "rtcc.stream";
const ACK_DELAY_MS = 250;

export function el(tag, attrs = {}, ...children) {
  // Text goes in as text nodes: nothing from the API is ever parsed as HTML.
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function session() {
  const raw = sessionStorage.getItem(KEY);
  return raw ? JSON.parse(raw) : null;
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
  }
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const current = session();
  if (current) headers.Authorization = `Bearer ${current.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api/v1/${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (response.status === 401 && current) {
    await wipe();
    location.reload();
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

async function wipe() {
  sessionStorage.clear();
  if (window.caches) {
    for (const name of await caches.keys()) if (name !== "rtcc-shell-v1") await caches.delete(name);
  }
}

export async function signOut() {
  try { await api("POST", "auth/logout"); } catch (e) { /* the session may be gone already */ }
  await wipe();
  location.reload();
}

// Sign-in: password, then the authenticator code when the role needs one. Resolves with the user.
export function signIn({ kind }) {
  const form = document.getElementById("password-form");
  const mfa = document.getElementById("mfa-form");
  const error = document.getElementById("signin-error");
  let challenge = null;
  return new Promise((resolve) => {
    const done = (body) => {
      sessionStorage.setItem(KEY, JSON.stringify({ token: body.token, user: body.user }));
      resolve(body.user);
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      const device = { name: kind === "terminal" ? "In-car terminal (browser)" : "Console (browser)", kind, platform: "web" };
      try {
        const body = await api("POST", "auth/login", {
          username: form.username.value, password: form.password.value, device,
        });
        form.password.value = "";
        if (body.challenge) {
          challenge = body.challenge;
          form.hidden = true;
          mfa.hidden = false;
          mfa.code.focus();
        } else {
          done(body);
        }
      } catch (e) {
        error.textContent = e.message;
      }
    });
    mfa.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      try {
        done(await api("POST", "auth/mfa", { challenge, code: mfa.code.value }));
      } catch (e) {
        error.textContent = e.message;
      }
    });
  });
}

// --- Time, in the agency's zone with the zone named, on every page: an officer must not do UTC sums, and a
// console in another zone (mutual aid, a laptop set to UTC) shows the agency's clock, not its own ---

let agencyZone;  // set by start() from the signed-in user's agency; the browser's own zone until then
const timeFormats = new Map();
const TIME_FIELDS = {
  date: { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" },
  clock: { hour: "2-digit", minute: "2-digit", second: "2-digit" },
};

// "Dec 7, 00:24 PST" (style "date") or "00:24:05 PST" (style "clock"); "" for no time or a bad one.
export function agencyTime(iso, style = "date") {
  if (!iso) return "";
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  let format = timeFormats.get(style);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", { timeZone: agencyZone, hourCycle: "h23", timeZoneName: "short",
      ...TIME_FIELDS[style] });
    timeFormats.set(style, format);
  }
  return format.format(when);
}

// The shell every page shares: night mode (remembered), sign-in, sign-out. Resolves with the user.
export async function start({ kind }) {
  const night = document.getElementById("night");
  const setNight = (on) => {
    document.documentElement.classList.toggle("night", on);
    night.setAttribute("aria-pressed", String(on));
    localStorage.setItem("rtcc.night", on ? "1" : "0");  // a display preference, not case data
  };
  setNight(localStorage.getItem("rtcc.night") === "1");
  night.addEventListener("click", () => setNight(!document.documentElement.classList.contains("night")));
  const signout = document.getElementById("signout");
  signout.addEventListener("click", signOut);

  const user = session() ? session().user : await signIn({ kind });
  agencyZone = (user.agency && user.agency.time_zone) || undefined;
  timeFormats.clear();
  document.getElementById("signin").hidden = true;
  document.getElementById("app").hidden = false;
  signout.hidden = false;
  document.getElementById("who").textContent = `${user.first_name || user.username} (${user.role})`;
  return user;
}

// The event stream: ticket, hello with the last position, replay, live events, acks, reconnect.
export class Stream {
  constructor({ onEvent, onResync, onLink, onLive = null }) {
    this.onEvent = onEvent;
    this.onLive = onLive;  // live state (unit positions, docs/locations.md): no offset, never acked
    this.onResync = onResync;
    this.onLink = onLink;
    this.retry = 0;
    this.socket = null;
    this.resumeTicket = null;  // the last socket's ticket for the next one
    this.url = null;  // the stream's path, as the ticket request names it
  }

  position() {
    const raw = sessionStorage.getItem(POSITION);
    return raw ? JSON.parse(raw) : { epoch: null, offset: 0 };
  }

  remember(epoch, offset) {
    sessionStorage.setItem(POSITION, JSON.stringify({ epoch, offset }));
  }

  async open() {
    // A ticket the last socket handed over (docs/delivery.md) opens this one without a request over HTTP. It works
    // once: dropped when a socket opens with it (until then no server has seen it, so a tunnel's failed attempts
    // keep it). Kept in memory only: a reload asks over HTTP.
    const resuming = Boolean(this.resumeTicket);
    let ticket = this.resumeTicket;
    if (!resuming) {
      try {
        const issued = await api("POST", "stream/ticket");
        ticket = issued.ticket;
        this.url = issued.url;
      } catch (e) {
        this.onLink("down");
        return this.again();
      }
    }
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${this.url}?ticket=${encodeURIComponent(ticket)}`);
    this.socket = socket;
    this.ready = false;
    socket.addEventListener("open", () => {
      if (resuming && this.resumeTicket === ticket) this.resumeTicket = null;
      this.onLink(this.retry ? "catching-up" : "connecting");
      socket.send(JSON.stringify({ type: "hello", ...this.position(), resume: true }));
    });
    socket.addEventListener("message", (message) => this.receive(JSON.parse(message.data)));
    socket.addEventListener("close", (event) => {
      if (socket !== this.socket) return;
      if (resuming && !this.ready && event.code === CLOSE_UNAUTHENTICATED) {
        this.open();  // the resume ticket had expired: straight on with one over HTTP, which tells if we are signed out
        return;
      }
      if (event.code === CLOSE_REVOKED || event.code === CLOSE_UNAUTHENTICATED) {
        signOut();
        return;
      }
      this.onLink("down");
      this.again();
    });
  }

  again() {
    // Back off to 10 s at most: a tunnel should not cost the officer more than that once through it.
    this.retry += 1;
    setTimeout(() => this.open(), Math.min(10000, 500 * 2 ** Math.min(this.retry, 5)));
  }

  receive(message) {
    if (message.type === "ping") {
      this.socket.send(JSON.stringify({ type: "pong" }));
    } else if (message.type === "ticket") {
      this.resumeTicket = message.ticket;
    } else if (message.type === "ready") {
      this.ready = true;
      this.remember(message.epoch, message.offset);
      this.retry = 0;
      this.onLink("live");
    } else if (message.type === "resync") {
      this.remember(message.epoch, message.offset);
      this.onResync();
    } else if (message.type === "revoked" || message.type === "error") {
      // The close that follows signs out (an error about a position keeps the socket; nothing to do).
    } else if (message.type === "unit.position") {
      if (this.onLive) this.onLive(message);
    } else {
      const { epoch, offset } = this.position();
      if (epoch === message.epoch && message.offset <= offset) return;  // already applied
      this.onEvent(message);
      this.remember(message.epoch, message.offset);
      this.ackSoon(message.offset);
    }
  }

  // A message of the client's own (a position report), once the server said ready; dropped while the socket is
  // down or still saying hello (anything before the hello closes it: docs/delivery.md).
  send(message) {
    if (this.ready && this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  // Acks are cumulative: one every ACK_DELAY_MS covers every event stored meanwhile (docs/delivery.md).
  ackSoon(offset) {
    this.ackOffset = offset;
    if (this.ackTimer) return;
    const socket = this.socket;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ack", offset: this.ackOffset }));
    }, ACK_DELAY_MS);
  }
}

export function linkBanner(state) {
  const banner = document.getElementById("link");
  const text = {
    down: "Link down: reconnecting. Nothing is lost; missed updates will follow.",
    "catching-up": "Link back: catching up on what you missed…",
  }[state];
  banner.hidden = !text;
  banner.textContent = text || "";
  document.documentElement.dataset.link = state;
}

// One short tone for a new briefing, made in the browser (no audio file to fetch).
export function chime() {
  try {
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.6);
  } catch (e) { /* no audio device: the banner still shows */ }
}

export function itemCard(item, { onPhoto, controls, time, mark } = {}) {
  // `time`: the item's as-of time, already in the agency's zone; `mark`: "new" or "changed" since last seen.
  const photos = (item.photos || []).map((url, n) => el("button", {
    type: "button", class: "photo", "aria-label": `Open photo ${n + 1} of ${item.title}`, onclick: () => onPhoto && onPhoto(url),
  }, el("img", { src: url, alt: `Photo ${n + 1}: ${item.title}`, loading: "lazy" })));
  return el("article", { class: `item ${item.severity}${photos.length ? " with-photos" : ""}`, "data-item": item.id,
    "data-mark": mark || null },
  photos.length ? el("div", { class: "photos" }, photos) : null,
  el("div", { class: "item-text" },
    el("h3", {}, mark ? el("span", { class: `mark ${mark}` }, mark === "new" ? "New" : "Changed") : null, item.title),
    item.body ? el("p", {}, item.body) : null,
    el("p", { class: "reason" }, time ? el("time", { datetime: item.as_of || "" }, time) : null, time ? " · " : "",
      item.reason.text, item.stale ? " (stale)" : ""),
    controls || null));
}

// A call's photos as thumbnails (GET /calls/{id}/photos); a tap calls onOpen with the link for this device.
export function callPhotoList(photos, { onOpen, time }) {
  return photos.map((photo) => el("li", {},
    el("button", { type: "button", class: "call-photo", "data-photo": photo.id, onclick: () => onOpen(photo.url),
      "aria-label": `Photo by ${photo.added_by_name} at ${time(photo.created_at)}: open full size` },
    el("img", { src: photo.thumbnail_url, alt: "", loading: "lazy" }),
    el("span", {}, `${photo.added_by_name} · ${time(photo.created_at)}`))));
}

// A multipart upload (a photo or clip from the phone's camera) through the same session and error shape as api().
// XMLHttpRequest, not fetch: only it reports upload progress, which `onProgress` gets as a fraction 0-1.
export function upload(path, form, onProgress = null) {
  const current = session();
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", `/api/v1/${path}`);
    request.setRequestHeader("Accept", "application/json");
    if (current) request.setRequestHeader("Authorization", `Bearer ${current.token}`);
    if (onProgress) request.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    request.onload = () => {
      let data = null;
      try { data = JSON.parse(request.responseText); } catch (e) { /* no body */ }
      if (request.status >= 200 && request.status < 300) resolve(data);
      else reject(new ApiError(request.status, data));
    };
    request.onerror = () => reject(new ApiError(0, { message: "no connection" }));
    request.send(form);
  });
}
