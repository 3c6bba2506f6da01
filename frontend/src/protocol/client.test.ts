/**
 * The protocol client against a real Grover (started by test/grover.ts):
 * typed replies and errors, live events, resume after a dropped socket
 * without losing or repeating an event, resync, the offline outbox that
 * sends again with the same client_key, and request timeouts.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, test } from "vitest";
import { WebSocket as NodeSocket, WebSocketServer } from "ws";

import { client, signedUp, socket, until, url } from "../../test/helpers";
import { ConnectionLost, GroverClient, GroverError, RequestTimeout } from "./client";
import type { MessageView, ServerEvent } from "./types";

function messages(c: GroverClient): MessageView[] {
  const seen: MessageView[] = [];
  c.onEvent((event: ServerEvent) => {
    if (event.type === "message.new") seen.push(event.message);
  });
  return seen;
}

async function pair(): Promise<{ a: GroverClient; b: GroverClient; conversation: string }> {
  const { c: a } = await signedUp();
  const { c: b, auth: bAuth } = await signedUp();
  const conversation = await a.request("conversation.open_direct", { user_id: bAuth.user.id });
  return { a, b, conversation: conversation.id };
}

describe("requests", () => {
  test("hello, a typed reply, and a typed error", async () => {
    const { c, auth } = await signedUp();
    expect(auth.token.length).toBeGreaterThan(10);
    expect(c.state).toBe("open");
    const pong = await c.request("ping", {});
    expect(typeof pong.server_time).toBe("number");
    const error = await c
      .request("conversation.get", { conversation_id: "no-such-conversation" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GroverError);
    expect((error as GroverError).code).toBe("not_found");
    c.close();
  });

  test("a request with no reply in time fails with RequestTimeout", async () => {
    const silent = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise((r) => silent.once("listening", r));
    const address = silent.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const c = new GroverClient({ url: `ws://127.0.0.1:${port}`, socket, requestTimeoutMs: 200 });
    await expect(c.connect()).rejects.toBeInstanceOf(RequestTimeout);
    c.close();
    await new Promise((r) => silent.close(r));
  });

  test("a socket closed before its hello is answered leads to one new attempt, not two", async () => {
    // The first connection is passed through to Grover; every later one is
    // closed as soon as its hello arrives (a flapping network).
    let open = 0;
    let most = 0;
    let attempts = 0;
    const proxy = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise((r) => proxy.once("listening", r));
    proxy.on("connection", (downstream) => {
      attempts += 1;
      open += 1;
      most = Math.max(most, open);
      downstream.on("close", () => (open -= 1));
      if (attempts > 1) {
        downstream.once("message", () => downstream.terminate());
        return;
      }
      const upstream = new NodeSocket(url);
      upstream.on("message", (data, binary) => downstream.send(data, { binary }));
      downstream.on("message", (data, binary) => {
        if (upstream.readyState === NodeSocket.OPEN) upstream.send(data, { binary });
        else upstream.once("open", () => upstream.send(data, { binary }));
      });
      downstream.on("close", () => upstream.close());
    });
    const address = proxy.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const c = new GroverClient({ url: `ws://127.0.0.1:${port}`, socket, backoffMs: [10, 20] });
    await c.connect();
    c.drop();
    await until(() => attempts >= 12);
    expect(most).toBe(1);
    c.close();
    await new Promise((r) => proxy.close(r));
  });

  test("request() fails at once when not connected", async () => {
    const c = client();
    await expect(c.request("ping", {})).rejects.toBeInstanceOf(ConnectionLost);
  });
});

describe("events, resume and resync", () => {
  test("a message arrives live at the other member", async () => {
    const { a, b, conversation } = await pair();
    const got = messages(b);
    const ack = await a.send("message.send", {
      conversation_id: conversation,
      client_key: randomUUID(),
      text: "hello",
    });
    await until(() => got.length === 1);
    expect(got[0]?.seq).toBe(ack.seq);
    expect(got[0]?.text).toBe("hello");
    a.close();
    b.close();
  });

  test("a dropped socket resumes: nothing missed, nothing twice", async () => {
    const { a, b, conversation } = await pair();
    const got = messages(b);
    const states: string[] = [];
    b.onState((state) => states.push(state));
    const first = await a.send("message.send", {
      conversation_id: conversation,
      client_key: randomUUID(),
      text: "before",
    });
    await until(() => got.length === 1);
    b.drop();
    const sent = [];
    for (const text of ["while away 1", "while away 2", "while away 3"]) {
      sent.push(
        await a.send("message.send", { conversation_id: conversation, client_key: randomUUID(), text }),
      );
    }
    await until(() => b.state === "open" && got.length === 4);
    await new Promise((r) => setTimeout(r, 200)); // no late duplicate either
    expect(got.map((m) => m.seq)).toEqual([first.seq, ...sent.map((s) => s.seq)]);
    expect(states).toContain("reconnecting");
    a.close();
    b.close();
  });

  test("a session the server no longer has ends in resync", async () => {
    const c = client();
    c.sessionId = "gone-session";
    c.lastSeq = 7;
    let resynced = 0;
    c.onResync(() => {
      resynced += 1;
    });
    const welcome = await c.connect();
    expect(welcome.resync).toBe(true);
    expect(welcome.resumed).toBe(false);
    expect(resynced).toBe(1);
    expect(c.sessionId).toBe(welcome.session_id);
    expect(c.lastSeq).toBe(0);
    c.close();
  });
});

describe("the offline outbox", () => {
  test("a send made while offline goes out once after the reconnect", async () => {
    const { a, b, conversation } = await pair();
    const got = messages(b);
    a.drop();
    expect(a.state).not.toBe("open");
    const pending = a.send("message.send", {
      conversation_id: conversation,
      client_key: randomUUID(),
      text: "written offline",
    });
    expect(a.queued).toBe(1);
    const ack = await pending;
    expect(ack.duplicate).toBe(false);
    await until(() => got.length === 1);
    expect(got[0]?.text).toBe("written offline");
    expect(a.queued).toBe(0);
    a.close();
    b.close();
  });

  test("a send whose reply was lost is sent again with its key and applied once", async () => {
    const { a, b, conversation } = await pair();
    const got = messages(b);
    const pending = a.send("message.send", {
      conversation_id: conversation,
      client_key: randomUUID(),
      text: "reply lost",
    });
    a.drop(); // the frame is on its way; the reply will not reach this socket
    const ack = await pending;
    await until(() => got.length >= 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(got.map((m) => m.text)).toEqual(["reply lost"]);
    expect(got[0]?.seq).toBe(ack.seq);
    a.close();
    b.close();
  });
});
