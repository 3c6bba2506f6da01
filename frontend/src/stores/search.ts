/**
 * Search and discovery: the search store.
 *
 * One query box, four modes: people (`search.query` by name: prefix, then
 * words, people the caller follows first), posts
 * (`search.query` by words, or by tag when the query is a `#tag`), tags
 * (`search.query` tag autocomplete) and nearby posts (`search.query` with
 * `near`, around a place the screen locates). Typing is debounced, and each
 * search carries a generation number: an answer that comes back after a
 * newer search started is dropped, so the list always belongs to the query
 * in the box. Trending tags and suggested people fill the screen while the
 * box is empty.
 */
import { createStore } from "zustand/vanilla";

import type { GroverClient } from "../protocol/client";
import type { PostView, Suggestion, TagCount, TrendingTag, UserProfile } from "../protocol/types";
import type { Grover } from "../runtime/grover";

export type SearchMode = "users" | "posts" | "tags" | "nearby";

export interface Place {
  latitude: number;
  longitude: number;
}

/** The device could not say where it is: refused, or no location service. */
export class LocationUnavailable extends Error {
  constructor(readonly refused: boolean) {
    super(refused ? "location permission refused" : "location unavailable");
    this.name = "LocationUnavailable";
  }
}

export type Status = "idle" | "loading" | "ready" | "error";

export interface SearchState {
  mode: SearchMode;
  /** What is in the box (the search itself waits for the debounce). */
  query: string;
  /** Where Nearby searches around, once the device said. */
  place: Place | null;
  radiusKm: number;
  /** `loading` also covers asking the device where it is. */
  status: Status;
  error: unknown;
  users: UserProfile[];
  posts: PostView[];
  /** `distances[i]` is the distance of `posts[i]` in Nearby mode. */
  distances: number[];
  tags: TagCount[];
  nextCursor: string | null;
  loadingMore: boolean;
  discoverStatus: Status;
  discoverError: unknown;
  trending: TrendingTag[];
  suggestions: Suggestion[];

  setQuery(query: string): void;
  setMode(mode: SearchMode): void;
  /** Posts with this tag, at once (a tapped trending tag or tag result). */
  searchTag(tag: string): void;
  /** Ask `locate` where the device is, then search around it. */
  findNearby(locate: () => Promise<Place>): Promise<void>;
  setRadius(radiusKm: number): void;
  /** Run the current search again now (a retry, or after a resync). */
  rerun(): void;
  loadMore(): Promise<void>;
  loadDiscover(): Promise<void>;
}

export interface SearchOptions {
  debounceMs?: number;
  pageSize?: number;
}

/** What Python's `^#?\w+\Z` accepts for a tag (letters, digits, `_`). */
const TAG = /^#?[\p{L}\p{N}_]+$/u;

/** A `#tag` query, without its `#`; `null` for a query of words. */
export function tagOf(query: string): string | null {
  const trimmed = query.trim();
  return trimmed.startsWith("#") && TAG.test(trimmed) ? trimmed.slice(1).toLowerCase() : null;
}

type Results = Pick<SearchState, "users" | "posts" | "distances" | "tags" | "nextCursor">;

const EMPTY: Results = { users: [], posts: [], distances: [], tags: [], nextCursor: null };

export function createSearchStore(client: GroverClient, options: SearchOptions = {}) {
  const debounceMs = options.debounceMs ?? 300;
  const limit = options.pageSize ?? 20;
  let generation = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const store = createStore<SearchState>()((set, get) => {
    function cancelPending(): void {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    }

    /** The request for the current mode and query and its page, or null when there is nothing to ask. */
    async function fetchPage(cursor: string | null): Promise<Partial<Results> | null> {
      const { mode, query, place, radiusKm } = get();
      const words = query.trim();
      if (mode === "nearby") {
        if (place === null) return null;
        const found = await client.request("search.query", {
          kind: "posts",
          near: { ...place, radius_km: radiusKm },
          cursor,
          limit,
        });
        return { posts: found.posts, distances: found.distances_km, nextCursor: found.next_cursor };
      }
      if (words === "") return null;
      if (mode === "users") {
        const name = words.replace(/^@/, "");
        if (name === "") return null;
        // Not `user.search`: this one says whom the caller follows (the cards'
        // Follow buttons need it) and lists them first.
        const found = await client.request("search.query", { kind: "users", query: name, limit });
        return { users: found.users, nextCursor: null };
      }
      if (mode === "tags") {
        const found = await client.request("search.query", { kind: "tags", query: words, cursor, limit });
        return { tags: found.tags, nextCursor: found.next_cursor };
      }
      const tag = tagOf(words);
      const found = await client.request(
        "search.query",
        tag === null ? { kind: "posts", query: words, order: "best", cursor, limit } : { kind: "posts", tag, cursor, limit },
      );
      return { posts: found.posts, nextCursor: found.next_cursor };
    }

    async function run(): Promise<void> {
      cancelPending();
      const mine = ++generation;
      set({ status: "loading", error: null, loadingMore: false });
      try {
        const page = await fetchPage(null);
        if (mine !== generation) return; // a newer search has started: this answer is stale
        set(page === null ? { ...EMPTY, status: "idle" } : { ...EMPTY, ...page, status: "ready" });
      } catch (error) {
        if (mine !== generation) return;
        set({ ...EMPTY, status: "error", error });
      }
    }

    return {
      mode: "users",
      query: "",
      place: null,
      radiusKm: 25,
      status: "idle",
      error: null,
      ...EMPTY,
      loadingMore: false,
      discoverStatus: "idle",
      discoverError: null,
      trending: [],
      suggestions: [],

      setQuery(query) {
        cancelPending();
        // Nearby searches around a place, not words: typing means posts by words.
        set(get().mode === "nearby" ? { query, mode: "posts", ...EMPTY } : { query });
        if (query.trim() === "") {
          generation += 1; // whatever is in flight is for a query no longer there
          set({ ...EMPTY, status: "idle", error: null, loadingMore: false });
          return;
        }
        // Loading from the first key: what is listed stays until the answer replaces it.
        set({ status: "loading", error: null });
        timer = setTimeout(() => void run(), debounceMs);
      },
      setMode(mode) {
        if (mode === get().mode) return;
        // Results of another mode never show under this one.
        set({ mode, ...EMPTY });
        void run();
      },
      searchTag(tag) {
        set({ mode: "posts", query: `#${tag.replace(/^#/, "")}` });
        void run();
      },
      async findNearby(locate) {
        cancelPending();
        const mine = ++generation;
        set({ mode: "nearby", ...EMPTY, status: "loading", error: null, loadingMore: false });
        let place: Place;
        try {
          place = await locate();
        } catch (error) {
          if (mine !== generation) return;
          set({ status: "error", error: error instanceof LocationUnavailable ? error : new LocationUnavailable(false) });
          return;
        }
        if (mine !== generation) return;
        set({ place });
        await run();
      },
      setRadius(radiusKm) {
        set({ radiusKm });
        if (get().mode === "nearby" && get().place !== null) void run();
      },
      rerun() {
        void run();
      },
      async loadMore() {
        const { nextCursor, loadingMore, status } = get();
        if (nextCursor === null || loadingMore || status !== "ready") return;
        const mine = generation;
        set({ loadingMore: true });
        try {
          const page = await fetchPage(nextCursor);
          if (mine !== generation) return;
          if (page === null) {
            set({ loadingMore: false });
            return;
          }
          const now = get();
          const seen = new Set(now.posts.map((p) => p.id));
          const fresh = (page.posts ?? []).map((post, i) => ({ post, distance: page.distances?.[i] ?? 0 }));
          const added = fresh.filter(({ post }) => !seen.has(post.id));
          set({
            posts: [...now.posts, ...added.map((a) => a.post)],
            distances: [...now.distances, ...added.map((a) => a.distance)],
            tags: [...now.tags, ...(page.tags ?? []).filter((t) => !now.tags.some((k) => k.tag === t.tag))],
            nextCursor: page.nextCursor ?? null,
            loadingMore: false,
          });
        } catch {
          // The list stays as it is; the next scroll to the end tries again.
          if (mine === generation) set({ loadingMore: false });
        }
      },
      async loadDiscover() {
        set({ discoverStatus: "loading", discoverError: null });
        try {
          const [trending, suggestions] = await Promise.all([
            client.request("trend.tags", { limit: 10 }),
            client.request("suggestion.users", { limit: 10 }),
          ]);
          set({ discoverStatus: "ready", trending: trending.tags, suggestions: suggestions.users });
        } catch (error) {
          set({ discoverStatus: "error", discoverError: error });
        }
      },
    };
  });
  client.onResync(() => {
    const state = store.getState();
    if (state.discoverStatus !== "idle") void state.loadDiscover();
    if (state.status !== "idle") state.rerun();
  });
  return store;
}

export type SearchStore = ReturnType<typeof createSearchStore>;

/** This login's search store (`grover.part(searchPart)`). */
export function searchPart(grover: Grover): SearchStore {
  return createSearchStore(grover.client);
}
