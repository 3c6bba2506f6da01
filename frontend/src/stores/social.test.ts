/**
 * The social stores on real clients of a real Grover: a followed user's post
 * arriving live in the feed (and not a stranger's), the comment tree in
 * order with replies under their parents and comments arriving live, likes
 * toggling with live counts at a watcher, follow counts on both ends,
 * `@username` resolution, uploads with typed errors and a photo post, and a
 * refetch after a resync.
 */
import { deflateSync } from "node:zlib";

import { describe, expect, inject, test } from "vitest";

import { signedUp, until } from "../../test/helpers";
import { UploadError, uploadMedia } from "../media/upload";
import type { GroverClient } from "../protocol/client";
import { createFeedStore } from "./feed";
import { ROOT, canPublish, createComposerStore, createPostsStore, flattenThread } from "./posts";
import { createProfilesStore } from "./profiles";

const sidecarUrl = inject("sidecarUrl");

/** A small real PNG: a gradient, so the server's BlurHash has something to say. */
function png(width: number, height: number): Uint8Array<ArrayBuffer> {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Uint8Array) => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (kind: string, data: Uint8Array) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(kind, 4, "latin1");
    Buffer.from(data).copy(out, 8);
    out.writeUInt32BE(crc(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB
  const rows = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      rows.set([(x * 255) / width, (y * 255) / height, 160], y * (1 + width * 3) + 1 + x * 3);
    }
  }
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return new Uint8Array(
    Buffer.concat([signature, chunk("IHDR", header), chunk("IDAT", deflateSync(rows)), chunk("IEND", new Uint8Array())]),
  );
}

function stores(c: GroverClient, me: string) {
  const posts = createPostsStore(c);
  const feed = createFeedStore(c, posts);
  let followChanges = 0;
  const profiles = createProfilesStore({ client: c, posts, me: () => me, onFollowChange: () => (followChanges += 1) });
  return { posts, feed, profiles, followChanges: () => followChanges };
}

describe("feed", () => {
  test("a followed user's new post arrives live on top; a stranger's does not", async () => {
    const { c: a, auth: aAuth } = await signedUp();
    const { c: b, auth: bAuth } = await signedUp();
    const { c: stranger } = await signedUp();
    const sa = stores(a, aAuth.user.id);
    const sb = stores(b, bAuth.user.id);
    await b.send("post.create", { client_key: "old", text: "before the follow" });
    await sa.profiles.getState().follow(bAuth.user.id);
    await sa.feed.getState().load();
    expect(sa.feed.getState().ids).toHaveLength(1); // b's earlier post, now followed

    const post = await sb.posts.getState().publish({ text: "fresh off the press" });
    // b's own feed gets it from the reply (this session has no post.new of it).
    expect(sb.feed.getState().ids[0]).toBe(post.id);
    await until(() => sa.feed.getState().ids[0] === post.id);
    expect(sa.posts.getState().posts[post.id]?.text).toBe("fresh off the press");

    const other = await stranger.send("post.create", { client_key: "s", text: "not followed" });
    const mine = await sa.posts.getState().publish({ text: "from a" });
    expect(sa.feed.getState().ids).toEqual([mine.id, post.id, expect.any(String)]);
    expect(sa.feed.getState().ids).not.toContain(other.id);

    // Paging: the next page never repeats what the first had.
    for (let i = 0; i < 3; i++) await b.send("post.create", { client_key: `p${i}`, text: `page ${i}` });
    const paged = createFeedStore(a, createPostsStore(a));
    await paged.getState().load();
    while (paged.getState().cursor !== null) await paged.getState().loadMore();
    expect(new Set(paged.getState().ids).size).toBe(paged.getState().ids.length);
    expect(paged.getState().ids).toHaveLength(6);
    for (const c of [a, b, stranger]) c.close();
  });
});

describe("comments", () => {
  test("the tree: replies under their parent, oldest first, arriving live; deletes", async () => {
    const { c: author, auth: authorAuth } = await signedUp();
    const { c: reader } = await signedUp();
    const sa = stores(author, authorAuth.user.id);
    const sr = stores(reader, "reader");
    const post = await sa.posts.getState().publish({ text: "talk to me" });
    const release = sa.posts.getState().watch([post.id]);
    await sa.posts.getState().loadComments(post.id);
    expect(flattenThread(sa.posts.getState().threads[post.id]!)).toEqual([]);
    await sr.posts.getState().fetch(post.id);
    await sr.posts.getState().loadComments(post.id);
    await new Promise((r) => setTimeout(r, 100)); // the watch is on its way (batched)

    const first = await sr.posts.getState().comment(post.id, "first!");
    const second = await sr.posts.getState().comment(post.id, "second");
    const reply = await sr.posts.getState().comment(post.id, "a reply to first", first.id);
    const deep = await sr.posts.getState().comment(post.id, "deeper", reply.id);
    const texts = (thread: ReturnType<typeof flattenThread>) =>
      thread.map((row) => (row.kind === "comment" ? `${row.depth}:${row.comment.text}` : `${row.depth}:more`));
    const expected = ["0:first!", "1:a reply to first", "2:deeper", "0:second"];
    // The commenter's own store has them from the replies...
    expect(texts(flattenThread(sr.posts.getState().threads[post.id]!))).toEqual(expected);
    expect(sr.posts.getState().posts[post.id]?.comment_count).toBe(4);
    // ...the watching author live.
    await until(() => Object.keys(sa.posts.getState().threads[post.id]?.comments ?? {}).length === 4);
    expect(texts(flattenThread(sa.posts.getState().threads[post.id]!))).toEqual(expected);
    expect(sa.posts.getState().threads[post.id]?.comments[first.id]?.reply_count).toBe(1);
    await until(() => sa.posts.getState().posts[post.id]?.comment_count === 4, 3_000); // post.counts

    // A fresh load: two levels of replies come with it, the third on demand.
    const deepest = await author.send("comment.create", {
      post_id: post.id,
      text: "deepest",
      parent_comment_id: deep.id,
      client_key: "d",
    });
    const fresh = createPostsStore(reader);
    await fresh.getState().loadComments(post.id);
    const rows = flattenThread(fresh.getState().threads[post.id]!);
    expect(texts(rows)).toEqual(["0:first!", "1:a reply to first", "2:deeper", "3:more", "0:second"]);
    expect(rows[3]).toMatchObject({ kind: "more", parentId: deep.id, count: 1 });
    await fresh.getState().loadReplies(post.id, deep.id);
    expect(texts(flattenThread(fresh.getState().threads[post.id]!))).toContain("3:deepest");
    expect(fresh.getState().threads[post.id]?.branches[ROOT]?.ids).toEqual([first.id, second.id]);

    // Deleting: a leaf goes, one with replies stays as a tombstone, live at the author too.
    await sr.posts.getState().deleteComment(post.id, second.id);
    await sr.posts.getState().deleteComment(post.id, first.id);
    await until(() => sa.posts.getState().threads[post.id]?.comments[second.id] === undefined);
    await until(() => sa.posts.getState().threads[post.id]?.comments[first.id]?.deleted === true);
    expect(texts(flattenThread(sa.posts.getState().threads[post.id]!)).slice(0, 2)).toEqual(["0:", "1:a reply to first"]);
    expect(deepest.id).toBeTruthy();

    // Liking a comment, and back.
    await sa.posts.getState().toggleCommentLike(post.id, reply.id);
    expect(sa.posts.getState().threads[post.id]?.comments[reply.id]).toMatchObject({ liked_by_me: true, like_count: 1 });
    await sa.posts.getState().toggleCommentLike(post.id, reply.id);
    expect(sa.posts.getState().threads[post.id]?.comments[reply.id]).toMatchObject({ liked_by_me: false, like_count: 0 });
    release();
    author.close();
    reader.close();
  });
});

describe("likes", () => {
  test("toggle a like and back; a watcher sees the count live", async () => {
    const { c: author, auth: authorAuth } = await signedUp();
    const { c: fan } = await signedUp();
    const sa = stores(author, authorAuth.user.id);
    const sf = stores(fan, "fan");
    const post = await sa.posts.getState().publish({ text: "like me" });
    sa.posts.getState().watch([post.id]);
    await new Promise((r) => setTimeout(r, 100));
    await sf.posts.getState().fetch(post.id);

    const liking = sf.posts.getState().toggleLike(post.id);
    // Shown at once, before the reply.
    expect(sf.posts.getState().posts[post.id]).toMatchObject({ liked_by_me: true, like_count: 1 });
    await liking;
    expect(sf.posts.getState().posts[post.id]).toMatchObject({ liked_by_me: true, like_count: 1 });
    await until(() => sa.posts.getState().posts[post.id]?.like_count === 1, 3_000);
    expect(sa.posts.getState().posts[post.id]?.liked_by_me).toBe(false);

    await sf.posts.getState().toggleLike(post.id);
    expect(sf.posts.getState().posts[post.id]).toMatchObject({ liked_by_me: false, like_count: 0 });
    await until(() => sa.posts.getState().posts[post.id]?.like_count === 0, 3_000);

    // Quick taps: none lost, the last one wins, on the server too.
    const taps = [sf.posts.getState().toggleLike(post.id), sf.posts.getState().toggleLike(post.id), sf.posts.getState().toggleLike(post.id)];
    expect(sf.posts.getState().posts[post.id]).toMatchObject({ liked_by_me: true, like_count: 1 });
    await Promise.all(taps);
    expect(sf.posts.getState().posts[post.id]).toMatchObject({ liked_by_me: true, like_count: 1 });
    expect((await fan.request("post.get", { post_id: post.id })).liked_by_me).toBe(true);
    await sf.posts.getState().toggleLike(post.id);

    // A post that went: the like is undone and the error reaches the caller.
    await author.request("post.delete", { post_id: post.id });
    await expect(sf.posts.getState().toggleLike(post.id)).rejects.toThrow("not_found");
    expect(sf.posts.getState().posts[post.id]).toMatchObject({ liked_by_me: false, like_count: 0 });
    author.close();
    fan.close();
  });
});

describe("profiles", () => {
  test("follow and unfollow change both ends' counts; @username resolves", async () => {
    const { c: a, auth: aAuth } = await signedUp();
    const { c: b, auth: bAuth } = await signedUp();
    const sa = stores(a, aAuth.user.id);
    expect(await sa.profiles.getState().resolve(`@${bAuth.user.username}`)).toBe(bAuth.user.id);
    expect(await sa.profiles.getState().resolve(`@${bAuth.user.username.slice(0, -1)}`)).toBeNull();
    expect(await sa.profiles.getState().resolve("@nobody_at_all_here")).toBeNull();
    await sa.profiles.getState().load(aAuth.user.id);
    await sa.profiles.getState().load(bAuth.user.id);
    expect(sa.profiles.getState().users[bAuth.user.id]).toMatchObject({ followers_count: 0, i_follow: false });

    await sa.profiles.getState().follow(bAuth.user.id);
    expect(sa.profiles.getState().users[bAuth.user.id]).toMatchObject({ followers_count: 1, i_follow: true });
    expect(sa.profiles.getState().users[aAuth.user.id]?.following_count).toBe(1);
    expect(sa.followChanges()).toBe(1);
    // The server agrees, seen from b.
    expect((await b.request("profile.get", { user_id: aAuth.user.id })).follows_me).toBe(true);

    await sa.profiles.getState().unfollow(bAuth.user.id);
    expect(sa.profiles.getState().users[bAuth.user.id]).toMatchObject({ followers_count: 0, i_follow: false });
    expect(sa.profiles.getState().users[aAuth.user.id]?.following_count).toBe(0);

    // My posts list and my profile edit.
    await sa.profiles.getState().loadPosts(aAuth.user.id);
    const post = await sa.posts.getState().publish({ text: "mine" });
    expect(sa.profiles.getState().posts[aAuth.user.id]?.ids).toEqual([post.id]);
    expect(sa.profiles.getState().users[aAuth.user.id]?.posts_count).toBe(1);
    const me = await sa.profiles.getState().updateMe({ display_name: "Ada L.", bio: "Counting engines" });
    expect(me.display_name).toBe("Ada L.");
    expect(sa.profiles.getState().users[aAuth.user.id]).toMatchObject({ display_name: "Ada L.", bio: "Counting engines" });
    a.close();
    b.close();
  });
});

describe("uploads", () => {
  const sidecar = (path: string) => new URL(path, sidecarUrl).toString();

  test("a photo post: upload with its BlurHash, then post.create with the media id", async () => {
    const { c, auth } = await signedUp();
    const posts = createPostsStore(c);
    const composer = createComposerStore({ client: c, sidecar }, posts);
    expect(canPublish(composer.getState())).toBe(false);
    const progress: number[] = [];
    const media = await uploadMedia({ client: c, sidecar }, { uri: "", file: new Blob([png(48, 32)]), mimeType: "image/png" }, (p) =>
      progress.push(p),
    );
    expect(media).toMatchObject({ kind: "image", width: 48, height: 32 });
    expect(media.blurhash).toMatch(/^[0-9A-Za-z#$%*+,\-.:;=?@[\]^_{|}~]{6,}$/);
    expect(progress.at(-1)).toBe(1);

    await composer.getState().addPhotos([{ uri: "blob:preview", file: new Blob([png(20, 20)]), mimeType: "image/png" }]);
    expect(composer.getState().photos[0]).toMatchObject({ progress: 1, error: null });
    composer.getState().setText("with a photo");
    expect(canPublish(composer.getState())).toBe(true);
    const uploaded = composer.getState().photos[0]!.media!;
    const post = await composer.getState().publish();
    expect(post.media_urls).toEqual([uploaded.url]);
    expect(post.media_blurhashes).toEqual([uploaded.blurhash]);
    expect(post.author.id).toBe(auth.user.id);
    expect(composer.getState()).toMatchObject({ text: "", photos: [] });
    c.close();
  });

  test("refusals are typed: no token, not an image; a failed photo blocks posting", async () => {
    const { c } = await signedUp();
    const file = { uri: "", file: new Blob([png(4, 4)]), mimeType: "image/png" };
    const noToken = uploadMedia({ client: { token: "not-a-token" }, sidecar }, file);
    await expect(noToken).rejects.toBeInstanceOf(UploadError);
    await expect(noToken).rejects.toMatchObject({ code: "unauthenticated", status: 401 });
    const text = { uri: "", file: new Blob(["just some words, not a picture at all"]), mimeType: "image/png" };
    await expect(uploadMedia({ client: c, sidecar }, text)).rejects.toMatchObject({ code: "unsupported_type", status: 415 });

    const composer = createComposerStore({ client: c, sidecar }, createPostsStore(c));
    await composer.getState().addPhotos([text]);
    expect(composer.getState().photos[0]?.error).toBe("That kind of file can't be posted.");
    composer.getState().setText("words");
    expect(canPublish(composer.getState())).toBe(false);
    composer.getState().removePhoto(composer.getState().photos[0]!.key);
    expect(canPublish(composer.getState())).toBe(true);
    c.close();
  });
});

describe("resync", () => {
  test("the feed and a watched thread are fetched again, and the watch is back", async () => {
    const { c: a, auth: aAuth } = await signedUp();
    const { c: b, auth: bAuth } = await signedUp();
    const sa = stores(a, aAuth.user.id);
    await sa.profiles.getState().follow(bAuth.user.id);
    const post = await b.send("post.create", { client_key: "one", text: "watched" });
    await sa.feed.getState().load();
    await sa.posts.getState().fetch(post.id);
    sa.posts.getState().watch([post.id]);
    await sa.posts.getState().loadComments(post.id);

    // Away, then back as a session the server no longer has.
    a.close();
    const missed = await b.send("post.create", { client_key: "two", text: "while away" });
    await b.send("comment.create", { post_id: post.id, text: "said while away", client_key: "c1" });
    a.sessionId = "gone-session";
    const welcome = await a.connect();
    expect(welcome.resync).toBe(true);
    await until(() => sa.feed.getState().ids[0] === missed.id);
    const thread = () => flattenThread(sa.posts.getState().threads[post.id]!);
    await until(() => thread().length === 1);
    await new Promise((r) => setTimeout(r, 100)); // the watch again (batched)
    await b.send("comment.create", { post_id: post.id, text: "and live again", client_key: "c2" });
    await until(() => thread().length === 2);
    a.close();
    b.close();
  });
});
