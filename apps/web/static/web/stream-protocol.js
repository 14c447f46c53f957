// Generated from apps/delivery/wire.py by `manage.py stream_protocol_js`; do not edit.
// The stream protocol is docs/delivery.md.
export const SERVER_CONTROL = Object.freeze(["ready", "resync", "ping", "revoked", "error", "ticket"]);
export const CLIENT_CONTROL = Object.freeze(["hello", "ack", "pong", "position"]);
export const CLOSE_BAD_MESSAGE = 4400;
export const CLOSE_UNAUTHENTICATED = 4401;
export const CLOSE_REVOKED = 4403;
