/** What the suites share: clients of the Grover that test/grover.ts started. */
import { randomUUID } from "node:crypto";
import { inject } from "vitest";
import WebSocket from "ws";

import { GroverClient, type SocketLike } from "../src/protocol/client";
import type { AuthOk } from "../src/protocol/types";

export const url = inject("groverUrl");
export const socket = (address: string) => new WebSocket(address) as unknown as SocketLike;

export function client(token: string | null = null): GroverClient {
  return new GroverClient({ url, token, socket, backoffMs: [20, 200], requestTimeoutMs: 5_000 });
}

export function uniqueName(): string {
  return `u${randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

export async function signedUp(): Promise<{ c: GroverClient; auth: AuthOk }> {
  const c = client();
  await c.connect();
  const name = uniqueName();
  const auth = await c.request("auth.register", {
    username: name,
    email: `${name}@example.com`,
    password: "correct horse battery",
  });
  return { c, auth };
}

export async function until(check: () => boolean, limitMs = 5_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
