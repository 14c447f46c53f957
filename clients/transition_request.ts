// What the co-responder app writes: tests/api/test_generated_clients.py type-checks it against the generated types.
import type { components } from "./api";

type Schemas = components["schemas"];

export const accept: Schemas["TransitionRequest"] = { to: "accepted" };
export const close: Schemas["TransitionRequest"] = { to: "closed", outcome: "resolved_on_scene" };

export function view(referral: Schemas["Referral"]): string {
  return referral.view === "agency" ? referral.team : referral.responder_kind;
}
