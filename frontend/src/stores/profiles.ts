/**
 * Profiles: users by id with their counts and how they relate to me, their
 * posts (`post.by_user`, paged), following, and editing my own.
 *
 * `@username` (a deep link) resolves through `user.search` by prefix and an
 * exact match of the name. Following changes both ends' counts: the reply
 * brings the other user's new profile, mine is counted here. My own profile
 * also comes back from `profile.update` (handed to the session store through
 * `onMe`, so every screen shows the new name) and, from my other sessions, as
 * `profile.updated` (which the session store takes itself). After a resync what was loaded is fetched again.
 */
import { type StoreApi, createStore } from "zustand/vanilla";

import type { GroverClient } from "../protocol/client";
import type { Me, UserProfile } from "../protocol/types";
import type { Grover } from "../runtime/grover";
import { feedOf } from "./feed";
import { type PostList, type PostsStore, type Status, emptyList, pageInto, postsOf, prepend } from "./posts";

const POSTS_PAGE = 18;

export interface ProfileChange {
  display_name?: string;
  bio?: string;
  /** An image upload of mine (`POST /v1/media`): the new avatar. */
  avatar_media_id?: string;
}

export interface ProfilesState {
  users: Record<string, UserProfile>;
  loading: Record<string, { status: Status; error: unknown }>;
  /** Lower-cased username → user id, or null when there is no such user. */
  handles: Record<string, string | null>;
  posts: Record<string, PostList>;
  /** A follow or unfollow on its way, by user id. */
  following: Record<string, boolean>;
  load(userId: string): Promise<UserProfile>;
  /** A route's `id`: a user id, or `@username`; null when no such user. */
  resolve(idOrHandle: string): Promise<string | null>;
  follow(userId: string): Promise<void>;
  unfollow(userId: string): Promise<void>;
  loadPosts(userId: string): Promise<void>;
  refreshPosts(userId: string): Promise<void>;
  loadMorePosts(userId: string): Promise<void>;
  updateMe(change: ProfileChange): Promise<Me>;
}

export type ProfilesStore = StoreApi<ProfilesState>;

export interface ProfilesDeps {
  client: GroverClient;
  posts: PostsStore;
  me: () => string | null;
  /** I changed my profile here (other sessions' edits reach the session store as events). */
  onMe?: (me: Me) => void;
  /** Whom I follow changed (the feed is no longer what the server would say). */
  onFollowChange?: () => void;
}

/** The public part of `Me` (what a profile shows). */
export function profileOf(me: Me): UserProfile {
  const { email: _email, ...profile } = me;
  return profile;
}

/** A route parameter as typed; a malformed %-escape is taken as it is. */
export function safeDecode(param: string): string {
  try {
    return decodeURIComponent(param);
  } catch {
    return param;
  }
}

export function createProfilesStore(deps: ProfilesDeps): ProfilesStore {
  const { client, posts } = deps;
  const get = (): ProfilesState => store.getState();

  function putUser(user: UserProfile): void {
    store.setState({
      users: { ...get().users, [user.id]: user },
      handles: { ...get().handles, [user.username.toLowerCase()]: user.id },
    });
  }

  function patchUser(userId: string, change: (user: UserProfile) => UserProfile): void {
    const user = get().users[userId];
    if (user) store.setState({ users: { ...get().users, [userId]: change(user) } });
  }

  function list(userId: string): PostList {
    return get().posts[userId] ?? emptyList;
  }

  function writeList(userId: string, next: PostList): void {
    store.setState({ posts: { ...get().posts, [userId]: next } });
  }

  function pages(userId: string, mode: "first" | "more"): Promise<void> {
    return pageInto(
      posts,
      () => list(userId),
      (next) => writeList(userId, next),
      (cursor) => client.request("post.by_user", { user_id: userId, cursor, limit: POSTS_PAGE }),
      mode,
    );
  }

  async function changeFollow(userId: string, follow: boolean): Promise<void> {
    if (get().following[userId]) return;
    store.setState({ following: { ...get().following, [userId]: true } });
    try {
      const result = await client.request(follow ? "follow.create" : "follow.delete", { user_id: userId });
      putUser(result.user);
      const me = deps.me();
      if (result.changed && me !== null) {
        patchUser(me, (u) => ({ ...u, following_count: Math.max(0, u.following_count + (follow ? 1 : -1)) }));
        deps.onFollowChange?.();
      }
    } finally {
      store.setState({ following: { ...get().following, [userId]: false } });
    }
  }


  const store: ProfilesStore = createStore<ProfilesState>()(() => ({
    users: {},
    loading: {},
    handles: {},
    posts: {},
    following: {},
    async load(userId) {
      store.setState({ loading: { ...get().loading, [userId]: { status: "loading", error: null } } });
      try {
        const user = await client.request("profile.get", { user_id: userId });
        putUser(user);
        store.setState({ loading: { ...get().loading, [userId]: { status: "ready", error: null } } });
        return user;
      } catch (error) {
        store.setState({ loading: { ...get().loading, [userId]: { status: "error", error } } });
        throw error;
      }
    },
    async resolve(idOrHandle) {
      const raw = safeDecode(idOrHandle).trim();
      if (!raw.startsWith("@")) return raw || null;
      const name = raw.slice(1).toLowerCase();
      if (name in get().handles) return get().handles[name] ?? null;
      if (name.length === 0) return null;
      const found = await client.request("user.search", { query: name.slice(0, 64), mode: "prefix", limit: 20 });
      const user = found.users.find((u) => u.username.toLowerCase() === name);
      if (user) putUser(user);
      else store.setState({ handles: { ...get().handles, [name]: null } });
      return user?.id ?? null;
    },
    follow: (userId) => changeFollow(userId, true),
    unfollow: (userId) => changeFollow(userId, false),
    async loadPosts(userId) {
      const status = list(userId).status;
      if (status === "ready" || status === "loading") return;
      await pages(userId, "first");
    },
    refreshPosts: (userId) => pages(userId, "first"),
    loadMorePosts: (userId) => pages(userId, "more"),
    async updateMe(change) {
      const me = await client.request("profile.update", change);
      putUser(profileOf(me));
      deps.onMe?.(me);
      return me;
    },
  }));

  client.onEvent((event) => {
    if (event.type === "profile.updated") putUser(profileOf(event.user));
    else if (event.type === "post.new") {
      const author = event.post.author.id;
      if (get().posts[author]) writeList(author, prepend(list(author), event.post.id));
    } else if (event.type === "post.deleted") {
      const lists = Object.entries(get().posts).filter(([, l]) => l.ids.includes(event.post_id));
      for (const [userId, l] of lists) writeList(userId, { ...l, ids: l.ids.filter((id) => id !== event.post_id) });
    }
  });
  posts.getState().onPublished((post) => {
    const me = post.author.id;
    if (get().posts[me]) writeList(me, prepend(list(me), post.id));
    patchUser(me, (u) => ({ ...u, posts_count: u.posts_count + 1 }));
  });
  client.onResync(() => {
    for (const [userId, entry] of Object.entries(get().loading)) {
      if (entry.status === "ready") void get().load(userId).catch(() => undefined);
    }
    for (const [userId, l] of Object.entries(get().posts)) {
      if (l.status !== "idle") void get().refreshPosts(userId).catch(() => undefined);
    }
  });
  return store;
}

/** This login's profiles (`grover.part(profilesOf)`). */
export function profilesOf(grover: Grover): ProfilesStore {
  return createProfilesStore({
    client: grover.client,
    posts: grover.part(postsOf),
    me: () => grover.session.getState().user?.id ?? null,
    // The session store holds who is logged in; it shows my new name and picture too.
    onMe: (me) => grover.session.setState({ user: me }),
    onFollowChange: () => grover.part(feedOf).getState().markStale(),
  });
}
