/**
 * The home feed: the caller's posts and those of everyone they follow,
 * newest first, paged by `feed.home`'s cursor.
 *
 * New posts arrive live as `post.new` (sent to the online sessions of the
 * author's followers and the author's other sessions) and go on top; a post
 * published from this session comes back as `post.create`'s reply only, so
 * the posts store hands it over. Deleted posts leave the list. Following
 * or unfollowing someone makes the feed stale: the screen refreshes it when
 * shown again. After a resync it is fetched again.
 */
import { type StoreApi, createStore } from "zustand/vanilla";

import type { GroverClient } from "../protocol/client";
import type { Grover } from "../runtime/grover";
import { type PostList, type PostsStore, emptyList, pageInto, postsOf, prepend } from "./posts";

const FEED_PAGE = 20;

export interface FeedState extends PostList {
  /** Follows changed since the last fetch: the list is not what the server would say. */
  stale: boolean;
  /** The first page, unless loaded already. */
  load(): Promise<void>;
  refresh(): Promise<void>;
  loadMore(): Promise<void>;
  markStale(): void;
}

export type FeedStore = StoreApi<FeedState>;

export function createFeedStore(client: GroverClient, posts: PostsStore): FeedStore {
  const read = (): PostList => store.getState();
  const write = (list: PostList): void => store.setState(list);
  const fetch = (cursor: string | null) => client.request("feed.home", { cursor, limit: FEED_PAGE });

  const store: FeedStore = createStore<FeedState>()(() => ({
    ...emptyList,
    stale: false,
    async load() {
      if (read().status === "ready" || read().status === "loading") return;
      await pageInto(posts, read, write, fetch, "first");
    },
    async refresh() {
      store.setState({ stale: false });
      await pageInto(posts, read, write, fetch, "first");
    },
    loadMore: () => pageInto(posts, read, write, fetch, "more"),
    markStale: () => store.setState({ stale: true }),
  }));

  client.onEvent((event) => {
    if (event.type === "post.new") write(prepend(read(), event.post.id));
    else if (event.type === "post.deleted") write({ ...read(), ids: read().ids.filter((id) => id !== event.post_id) });
  });
  posts.getState().onPublished((post) => write(prepend(read(), post.id)));
  client.onResync(() => {
    if (read().status !== "idle") void store.getState().refresh().catch(() => undefined);
  });
  return store;
}

/** This login's feed (`grover.part(feedOf)`). */
export function feedOf(grover: Grover): FeedStore {
  return createFeedStore(grover.client, grover.part(postsOf));
}
