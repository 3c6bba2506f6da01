/**
 * The live store on real clients of a real Grover (development tokens, as
 * without Agora credentials): a host goes live, a viewer finds and joins the
 * stream and is counted, chat both ways (each line once at its sender, which
 * gets it as the ack and again in `chat.updated`), the end reaches the
 * viewer; a stream no longer live and one that bans you give rooms that are
 * not joined; after a resync the viewer is in the stream again.
 */
import { describe, expect, test } from "vitest";

import { signedUp, until } from "../../test/helpers";
import { GroverError } from "../protocol/client";
import type { ChatLine, StreamView } from "../protocol/types";
import { MAX_LINES, createLiveStore, elapsedOf, formatElapsed, mergeLines } from "./live";

function line(id: string, at: number): ChatLine {
  return {
    id,
    stream_id: "s",
    author: { id: "u", username: "u", display_name: "U", avatar_url: "" },
    text: id,
    created_at: at,
    tip: null,
  };
}

async function twoUsers() {
  const host = await signedUp();
  const viewer = await signedUp();
  const hostLive = createLiveStore(host.c, () => host.auth.user.id);
  const viewerLive = createLiveStore(viewer.c, () => viewer.auth.user.id);
  return { host, viewer, hostLive, viewerLive };
}

describe("helpers", () => {
  test("mergeLines keeps each line once, in time order, at most MAX_LINES", () => {
    let list = mergeLines([], [line("b", 2), line("a", 1)]);
    list = mergeLines(list, [line("a", 1), line("c", 3)]);
    expect(list.map((l) => l.id)).toEqual(["a", "b", "c"]);
    const many = Array.from({ length: MAX_LINES + 5 }, (_, i) => line(`l${i}`, i));
    const kept = mergeLines(list, many);
    expect(kept).toHaveLength(MAX_LINES);
    expect(kept.at(-1)?.id).toBe(`l${MAX_LINES + 4}`);
  });

  test("elapsed time reads as a clock, and stops at the end", () => {
    expect(formatElapsed(7)).toBe("0:07");
    expect(formatElapsed(754)).toBe("12:34");
    expect(formatElapsed(3723)).toBe("1:02:03");
    const stream = { start_time: 100, end_time: null } as StreamView;
    expect(elapsedOf(stream, 165)).toBe(65);
    expect(elapsedOf({ ...stream, end_time: 130 }, 999)).toBe(30);
  });
});

describe("live store", () => {
  test("go live, a viewer joins and is counted, chat both ways, the end reaches the viewer", async () => {
    const { host, viewer, hostLive, viewerLive } = await twoUsers();

    const hosted = await hostLive.getState().start("Morning pottery");
    const id = hosted.stream.id;
    expect(hosted.role).toBe("host");
    expect(hosted.stream.status).toBe("live");
    expect(hosted.token?.role).toBe("publisher");
    expect(hosted.token?.development).toBe(true);
    expect(hosted.token?.expires_at).toBeGreaterThan(Date.now() / 1000);

    await viewerLive.getState().refreshLive();
    expect(viewerLive.getState().live.map((s) => s.id)).toContain(id);

    const room = await viewerLive.getState().join(id);
    expect(room.role).toBe("viewer");
    expect(room.joined).toBe(true);
    expect(room.token?.role).toBe("subscriber");
    expect(room.token?.channel).toBe(hosted.token?.channel);
    expect(room.stream.title).toBe("Morning pottery");
    expect(room.stream.host.id).toBe(host.auth.user.id);
    // The host hears of the viewer through stream.updated.
    await until(() => hostLive.getState().rooms[id]?.stream.viewer_count === 1);

    const sending = viewerLive.getState().send(id, "hi from B");
    expect(viewerLive.getState().rooms[id]?.pending.map((p) => p.text)).toEqual(["hi from B"]);
    await sending;
    await until(() => hostLive.getState().rooms[id]?.lines.some((l) => l.text === "hi from B") === true);
    const fromViewer = hostLive.getState().rooms[id]?.lines.find((l) => l.text === "hi from B");
    expect(fromViewer?.author.id).toBe(viewer.auth.user.id);

    await hostLive.getState().send(id, "welcome!");
    await until(() => viewerLive.getState().rooms[id]?.lines.some((l) => l.text === "welcome!") === true);
    // The ack and chat.updated both brought each sender's own line: kept once.
    await until(() => viewerLive.getState().rooms[id]?.lines.length === 2);
    await until(() => hostLive.getState().rooms[id]?.lines.length === 2);
    expect(viewerLive.getState().rooms[id]?.lines.map((l) => l.text)).toEqual(["hi from B", "welcome!"]);
    expect(viewerLive.getState().rooms[id]?.pending).toEqual([]);

    await hostLive.getState().end(id);
    expect(hostLive.getState().rooms[id]?.stream.status).toBe("ended");
    expect(hostLive.getState().rooms[id]?.joined).toBe(false);
    await until(() => viewerLive.getState().rooms[id]?.stream.status === "ended");
    expect(viewerLive.getState().rooms[id]?.joined).toBe(false);
    expect(viewerLive.getState().rooms[id]?.token).toBeNull();
    expect(viewerLive.getState().live.map((s) => s.id)).not.toContain(id);

    // Joining an ended stream is no error: the room says it ended.
    const late = await createLiveStore(viewer.c, () => viewer.auth.user.id).getState().join(id);
    expect(late.joined).toBe(false);
    expect(late.stream.status).toBe("ended");
    host.c.close();
    viewer.c.close();
  });

  test("not_found; a join whose screen closed first is left; a refused line waits to be retried", async () => {
    const { host, viewer, hostLive, viewerLive } = await twoUsers();
    await expect(viewerLive.getState().join("no-such-stream")).rejects.toMatchObject({ code: "not_found" });
    const id = (await hostLive.getState().start("Quiet one")).stream.id;
    await viewerLive.getState().join(id);
    await viewerLive.getState().leave(id);
    expect(viewerLive.getState().rooms[id]).toBeUndefined();
    await until(() => hostLive.getState().rooms[id]?.stream.viewer_count === 0, 5_000);

    // A screen closed before its join was answered: left at once, not counted.
    const joining = viewerLive.getState().join(id);
    await viewerLive.getState().leave(id);
    expect((await joining).joined).toBe(false);
    expect(viewerLive.getState().rooms[id]).toBeUndefined();
    expect((await hostLive.getState().get(id)).viewer_count).toBe(0);

    // A room kept without the server's join: the send is refused, and kept to retry.
    viewerLive.setState({ rooms: { [id]: { ...hostLive.getState().rooms[id]!, role: "viewer", lines: [], pending: [] } } });
    const error = await viewerLive.getState().send(id, "anyone?").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GroverError);
    expect(viewerLive.getState().rooms[id]?.pending).toMatchObject([{ text: "anyone?", failed: "forbidden" }]);
    await viewerLive.getState().join(id);
    const key = viewerLive.getState().rooms[id]!.pending[0]!.clientKey;
    await viewerLive.getState().retry(id, key);
    expect(viewerLive.getState().rooms[id]?.pending).toEqual([]);
    expect(viewerLive.getState().rooms[id]?.lines.map((l) => l.text)).toContain("anyone?");
    await hostLive.getState().end(id);
    host.c.close();
    viewer.c.close();
  });

  test("the host bans a viewer: removed at once, and a new join gives a banned room", async () => {
    const { host, viewer, hostLive, viewerLive } = await twoUsers();
    const id = (await hostLive.getState().start("Strict chat")).stream.id;
    await viewerLive.getState().join(id);
    await hostLive.getState().ban(id, viewer.auth.user.id);
    await until(() => viewerLive.getState().rooms[id]?.banned === true);
    expect(viewerLive.getState().rooms[id]?.joined).toBe(false);
    const again = await viewerLive.getState().join(id);
    expect(again).toMatchObject({ joined: false, banned: true });
    expect(again.stream.status).toBe("live");
    await hostLive.getState().end(id);
    host.c.close();
    viewer.c.close();
  });

  test("the host finds a stream still live and hosts it again; after a resync the viewer is back in", async () => {
    const { host, viewer, hostLive, viewerLive } = await twoUsers();
    const id = (await hostLive.getState().start("Long one")).stream.id;
    await viewerLive.getState().join(id);

    // The host's screen was left: the stream is still live, and joining hosts it again.
    await hostLive.getState().leave(id);
    expect((await hostLive.getState().findMine())?.id).toBe(id);
    const back = await hostLive.getState().join(id);
    expect(back).toMatchObject({ role: "host", joined: true });
    expect(back.token?.role).toBe("publisher");

    // The viewer comes back as a session the server does not know: resync.
    viewer.c.sessionId = "gone-session";
    viewer.c.drop();
    await until(() => viewer.c.state === "open", 5_000);
    await until(() => hostLive.getState().rooms[id]?.stream.viewer_count === 1, 5_000);
    await hostLive.getState().send(id, "still here?");
    await until(() => viewerLive.getState().rooms[id]?.lines.some((l) => l.text === "still here?") === true);
    expect(viewerLive.getState().rooms[id]?.joined).toBe(true);
    await hostLive.getState().end(id);
    expect(await hostLive.getState().findMine()).toBeNull();
    host.c.close();
    viewer.c.close();
  });
});
