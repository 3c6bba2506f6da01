/**
 * The search store on real clients of a real Grover: typing is debounced
 * into one request, a late answer to an older query never shows, people by
 * prefix, posts by tag and by words, tags by prefix, posts near a place,
 * trending tags and suggestions, and a refused query shown as an error.
 */
import { afterEach, describe, expect, test, vi } from "vitest";

import { closedAfterEach, lateReplies, uniqueName, until, url } from "../../test/helpers";
import { GroverClient, GroverError } from "../protocol/client";
import type { UserProfile } from "../protocol/types";
import { LocationUnavailable, createSearchStore, tagOf } from "./search";

const clients = closedAfterEach();
const user = clients.user;
afterEach(() => vi.restoreAllMocks());

function post(c: GroverClient, text: string, at: { latitude: number; longitude: number } | null = null) {
  return c.request("post.create", {
    client_key: uniqueName(),
    text,
    location: at === null ? null : { ...at, place_name: "" },
  });
}

describe("tagOf", () => {
  test("a #tag query is a tag search; words are not", () => {
    expect(tagOf(" #Cats ")).toBe("cats");
    expect(tagOf("#cats and dogs")).toBeNull();
    expect(tagOf("cats")).toBeNull();
  });
});

describe("search store", () => {
  test("typing is debounced into one request for the last query", async () => {
    const { auth: target } = await user();
    const { c } = await user();
    const calls = vi.spyOn(c, "request");
    const search = createSearchStore(c, { debounceMs: 150 });
    const name = target.user.username;
    for (let i = 3; i <= name.length; i += 1) search.getState().setQuery(name.slice(0, i));
    expect(search.getState().query).toBe(name);
    await until(() => search.getState().status === "ready");
    const searches = calls.mock.calls.filter(([type]) => type === "search.query");
    expect(searches).toEqual([["search.query", { kind: "users", query: name, limit: 20 }]]);
    expect(search.getState().users.map((u) => u.username)).toEqual([name]);
  });

  test("an answer that arrives after a newer query started is dropped", async () => {
    const { auth: first } = await user();
    const { auth: second } = await user();
    // The network delivers the answer to the first query last.
    const network = lateReplies((r) => r.type === "search.query" && r.query === first.user.username);
    const c = new GroverClient({ url, socket: network.factory, backoffMs: [20, 200] });
    clients.keep(c);
    await c.connect();
    const name = uniqueName();
    await c.request("auth.register", { username: name, email: `${name}@example.com`, password: "correct horse battery" });
    const search = createSearchStore(c, { debounceMs: 0 });
    const shown: UserProfile[][] = [];
    search.subscribe((s) => shown.push(s.users));

    search.getState().setQuery(first.user.username);
    await until(() => network.held === 1);
    search.getState().setQuery(second.user.username);
    await until(() => search.getState().users.length === 1);
    expect(search.getState().users[0]?.username).toBe(second.user.username);
    network.release();
    await new Promise((r) => setTimeout(r, 50)); // the late answer has been handled by now
    expect(search.getState().users.map((u) => u.username)).toEqual([second.user.username]);
    expect(shown.flat().some((u) => u.username === first.user.username)).toBe(false);
  });

  test("people by the start of their username, with or without @, followed ones marked; an empty box clears", async () => {
    const { auth: target } = await user();
    const { c } = await user();
    const search = createSearchStore(c, { debounceMs: 0 });
    search.getState().setQuery("@" + target.user.username.slice(0, 9));
    await until(() => search.getState().status === "ready");
    expect(search.getState().users.map((u) => u.id)).toContain(target.user.id);
    expect(search.getState().users.find((u) => u.id === target.user.id)?.i_follow).toBe(false);

    await c.request("follow.create", { user_id: target.user.id });
    search.getState().rerun();
    await until(() => search.getState().status === "ready");
    expect(search.getState().users[0]?.id).toBe(target.user.id);
    expect(search.getState().users[0]?.i_follow).toBe(true);
    search.getState().setQuery("  ");
    expect(search.getState().status).toBe("idle");
    expect(search.getState().users).toEqual([]);
  });

  test("posts by #tag, by words, and tags by prefix", async () => {
    const { c: author } = await user();
    const tag = `t${uniqueName()}`;
    const word = `w${uniqueName()}`;
    const tagged = await post(author, `sunset at the pier #${tag}`);
    const worded = await post(author, `a ${word} in the park`);
    const { c } = await user();
    const search = createSearchStore(c, { debounceMs: 0 });

    search.getState().setMode("posts");
    search.getState().setQuery(`#${tag.toUpperCase()}`);
    await until(() => search.getState().status === "ready");
    expect(search.getState().posts.map((p) => p.id)).toEqual([tagged.id]);

    search.getState().setQuery(word);
    await until(() => search.getState().status === "ready" && search.getState().posts[0]?.id === worded.id);
    expect(search.getState().posts).toHaveLength(1);

    search.getState().setMode("tags");
    search.getState().setQuery(tag.slice(0, 10));
    await until(() => search.getState().status === "ready" && search.getState().tags.length > 0);
    expect(search.getState().tags).toEqual([{ tag, post_count: 1 }]);

    // A tapped tag: posts with it, at once.
    search.getState().searchTag(tag);
    expect(search.getState().mode).toBe("posts");
    expect(search.getState().query).toBe(`#${tag}`);
    await until(() => search.getState().status === "ready");
    expect(search.getState().posts.map((p) => p.id)).toEqual([tagged.id]);
  });

  test("more pages of a tag, each post once", async () => {
    const { c: author } = await user();
    const tag = `p${uniqueName()}`;
    for (let i = 0; i < 5; i += 1) await post(author, `#${tag} number ${i}`);
    const { c } = await user();
    const search = createSearchStore(c, { debounceMs: 0, pageSize: 2 });
    search.getState().searchTag(tag);
    await until(() => search.getState().status === "ready");
    expect(search.getState().posts).toHaveLength(2);
    while (search.getState().nextCursor !== null) await search.getState().loadMore();
    const ids = search.getState().posts.map((p) => p.id);
    expect(ids).toHaveLength(5);
    expect(new Set(ids).size).toBe(5);
  });

  test("nearby: posts around the located place, nearest first; a refused location is an error", async () => {
    const { c: author } = await user();
    // Somewhere no other test posts: a random spot on a 10-degree band.
    const centre = { latitude: 40 + Math.random() * 10, longitude: -30 + Math.random() * 10 };
    const near = await post(author, "right here", { ...centre, latitude: centre.latitude + 0.001 });
    const farther = await post(author, "down the road", { ...centre, latitude: centre.latitude + 0.05 });
    await post(author, "far away", { ...centre, latitude: centre.latitude + 3 });
    const { c } = await user();
    const search = createSearchStore(c);

    await search.getState().findNearby(async () => {
      throw new LocationUnavailable(true);
    });
    expect(search.getState().status).toBe("error");
    expect(search.getState().error).toBeInstanceOf(LocationUnavailable);

    search.getState().setRadius(10);
    await search.getState().findNearby(async () => centre);
    await until(() => search.getState().status === "ready");
    expect(search.getState().posts.map((p) => p.id)).toEqual([near.id, farther.id]);
    const [d1, d2] = search.getState().distances;
    expect(d1).toBeLessThan(0.5);
    expect(d2).toBeGreaterThan(5);

    // Typing there searches posts by words.
    search.getState().setQuery("anything");
    expect(search.getState().mode).toBe("posts");
    expect(search.getState().posts).toEqual([]);
  });

  test("trending tags and suggested people fill the empty screen", async () => {
    const { c: a } = await user();
    const { c: b, auth: bAuth } = await user();
    const { auth: cAuth } = await user();
    const tag = `hot${uniqueName()}`;
    for (let i = 0; i < 4; i += 1) await post(b, `#${tag} take ${i}`);
    await a.request("follow.create", { user_id: bAuth.user.id });
    await b.request("follow.create", { user_id: cAuth.user.id });
    const search = createSearchStore(a);
    await search.getState().loadDiscover();
    expect(search.getState().discoverStatus).toBe("ready");
    expect(search.getState().trending.map((t) => t.tag)).toContain(tag);
    // Followed by someone the caller follows: suggested first, with the reason.
    const first = search.getState().suggestions[0];
    expect(first?.user.id).toBe(cAuth.user.id);
    expect(first?.reason).toBe("followed_by");
    expect(first?.followed_by.map((u) => u.id)).toEqual([bAuth.user.id]);
    expect(search.getState().suggestions.map((s) => s.user.id)).not.toContain(bAuth.user.id);
  });

  test("a query the server refuses is an error state with its code", async () => {
    const { c } = await user();
    const search = createSearchStore(c, { debounceMs: 0 });
    search.getState().setMode("posts");
    search.getState().setQuery("x".repeat(300));
    await until(() => search.getState().status === "error");
    const error = search.getState().error;
    expect(error).toBeInstanceOf(GroverError);
    expect((error as GroverError).code).toBe("invalid_field");
    expect(search.getState().posts).toEqual([]);
  });
});
