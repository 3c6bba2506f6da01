/** What the suites share: clients of the Grover that test/grover.ts started. */
import { randomUUID } from "node:crypto";

import { decode } from "@msgpack/msgpack";
import { afterEach, inject } from "vitest";
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

/**
 * Clients a test file opens, closed after each test: `user()` signs one up,
 * `keep(c)` adds one made otherwise. Call it at the top of the file.
 */
export function closedAfterEach() {
  const open: GroverClient[] = [];
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });
  return {
    async user(): Promise<{ c: GroverClient; auth: AuthOk }> {
      const made = await signedUp();
      open.push(made.c);
      return made;
    },
    keep(c: GroverClient): GroverClient {
      open.push(c);
      return c;
    },
  };
}

export async function until(check: () => boolean, limitMs = 5_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Sockets whose replies to the requests `late` picks are held back until
 * `release()`: the network delivering an older answer after a newer one.
 * Frames are decoded only to read ids; nothing of the client is replaced.
 */
export function lateReplies(late: (request: { type: string; [field: string]: unknown }) => boolean) {
  const heldIds = new Set<number>();
  const held: { deliver: () => void }[] = [];
  const factory = (address: string): SocketLike => {
    const ws = new WebSocket(address);
    const socket: SocketLike = {
      get binaryType() {
        return ws.binaryType;
      },
      set binaryType(kind: string) {
        ws.binaryType = kind as "arraybuffer";
      },
      get readyState() {
        return ws.readyState;
      },
      send(data) {
        const request = decode(data) as { type: string; id: number };
        if (late(request)) heldIds.add(request.id);
        ws.send(data);
      },
      close: (code, reason) => ws.close(code, reason),
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
    };
    ws.onopen = (event) => socket.onopen?.(event);
    ws.onclose = (event) => socket.onclose?.(event);
    ws.onerror = (event) => socket.onerror?.(event);
    ws.onmessage = (event) => {
      const frame = decode(new Uint8Array(event.data as ArrayBuffer)) as { type: string; id?: number };
      const deliver = () => socket.onmessage?.({ data: event.data });
      if (frame.type === "reply" && frame.id !== undefined && heldIds.has(frame.id)) held.push({ deliver });
      else deliver();
    };
    return socket;
  };
  return {
    factory,
    /** Replies held so far. */
    get held(): number {
      return held.length;
    },
    release(): void {
      for (const entry of held.splice(0)) entry.deliver();
    },
  };
}
