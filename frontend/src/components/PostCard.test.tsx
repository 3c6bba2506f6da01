// @vitest-environment jsdom
/**
 * PostCard on a real Grover: a real photo post shows its text and photo with
 * the photo's BlurHash as placeholder; pressing like likes it on the server
 * (and again unlikes it); the author and comments go to their pages.
 * expo-router is replaced (its runtime needs Metro): only `router.push` is
 * used, and what it is called with is the behaviour under test.
 */
import { deflateSync } from "node:zlib";

import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";

import { signedUp } from "../../test/helpers";
import type { GroverClient } from "../protocol/client";
import type { PostView } from "../protocol/types";
import type { Grover } from "../runtime/grover";
import { runningGrover, stopRunningGrover } from "../../test/runtime";
import { PostCard } from "./PostCard";

const push = vi.hoisted(() => vi.fn());
vi.mock("expo-router", () => ({ router: { push } }));

/** A 16×16 PNG, one colour per row band: something the server decodes. */
function png(): Uint8Array<ArrayBuffer> {
  const crc = (bytes: Buffer) => {
    let c = 0xffffffff;
    for (const b of bytes) {
      c ^= b;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (kind: string, data: Buffer) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(kind, 4, "latin1");
    data.copy(out, 8);
    out.writeUInt32BE(crc(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const size = 16;
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.alloc(size * (1 + size * 3));
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) rows.set([y * 16, 90, 255 - x * 16], y * (1 + size * 3) + 1 + x * 3);
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return new Uint8Array(Buffer.concat([signature, chunk("IHDR", header), chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]));
}

let author: GroverClient;
let grover: Grover;
let post: PostView;
let blurhash: string;

beforeAll(async () => {
  const signed = await signedUp();
  author = signed.c;
  const upload = await fetch(`${inject("sidecarUrl")}/v1/media`, {
    method: "POST",
    headers: { Authorization: `Bearer ${signed.auth.token}`, "Content-Type": "image/png" },
    body: png(),
  });
  const media = (await upload.json()) as { id: string; blurhash: string };
  blurhash = media.blurhash;
  post = await author.send("post.create", { client_key: "card", text: "Golden hour", media_ids: [media.id] });
  expect(post.media_blurhashes).toEqual([media.blurhash]);

  grover = await runningGrover();
});

afterEach(() => {
  cleanup();
  push.mockClear();
});

afterAll(() => {
  stopRunningGrover(grover);
  author.close();
});

describe("PostCard", () => {
  it("shows the text and the photo with its BlurHash", () => {
    render(<PostCard post={post} />);
    expect(screen.getByTestId("post-text").textContent).toBe("Golden hour");
    const photo = screen.getByTestId("post-photo-0");
    expect(photo.getAttribute("aria-label")).toBe(`blurhash:${blurhash}`);
    expect(photo.querySelector("img")?.getAttribute("src")).toBe(post.media_urls[0]);
    expect(screen.getByTestId("post-author").textContent).toContain(post.author.username);
  });

  it("like goes to the server and back", async () => {
    render(<PostCard post={post} />);
    const count = () => screen.getByTestId("post-like-count").textContent;
    expect(count()).toBe("0");
    await act(async () => {
      fireEvent.click(screen.getByTestId("post-like"));
    });
    await waitFor(() => expect(screen.getByTestId("post-like").getAttribute("aria-label")).toBe("Unlike"));
    expect(count()).toBe("1");
    const likes = async () => (await author.request("post.get", { post_id: post.id })).like_count;
    // Shown at once; the server has it once the request is answered.
    await vi.waitFor(async () => expect(await likes()).toBe(1), { timeout: 5_000 });

    await act(async () => {
      fireEvent.click(screen.getByTestId("post-like"));
    });
    await waitFor(() => expect(screen.getByTestId("post-like").getAttribute("aria-label")).toBe("Like"));
    expect(count()).toBe("0");
    await vi.waitFor(async () => expect(await likes()).toBe(0), { timeout: 5_000 });
  });

  it("opens the author's page, and the post (or what the list asks)", () => {
    const { rerender } = render(<PostCard post={post} />);
    fireEvent.click(screen.getByTestId("post-author"));
    expect(push).toHaveBeenLastCalledWith(`/user/${post.author.id}`);
    fireEvent.click(screen.getByTestId("post-comments"));
    expect(push).toHaveBeenLastCalledWith(`/post/${post.id}`);
    const onOpen = vi.fn();
    rerender(<PostCard post={post} onOpen={onOpen} />);
    fireEvent.click(screen.getByTestId("post-comments"));
    expect(onOpen).toHaveBeenCalledTimes(1);
    expect(push).toHaveBeenCalledTimes(2);
  });
});
