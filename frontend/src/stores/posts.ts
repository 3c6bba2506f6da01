/**
 * Posts and their comment trees: the posts store.
 *
 * Every post the app shows, from any list (feed, profiles, search), sits once
 * in `posts` by id, so a like or a live count change shows on every screen
 * that has it. Lists (feed.ts, profiles.ts) keep only ids.
 *
 * Live updates come only for posts this session watches (`post.watch`), at
 * most `WATCH_MAX` at once: screens say which posts they show with
 * `watch(ids)` (reference-counted, so the feed and the post page can both
 * hold one) and the store keeps the server's watch set in step. The sender of
 * a comment, a like or a post gets no event of its own: the reply stands for
 * it. After a resync the session is new, so its watches are sent again and
 * what is watched is fetched again.
 *
 * A comment tree is kept per post as branches: the children of each parent
 * (the post itself is the root, `ROOT`), oldest first, each level paged as
 * `comment.list` pages it. `flattenThread` turns it into rows with a depth.
 */
import { type StoreApi, createStore } from "zustand/vanilla";

import { type Uploader, type UploadSource, type UploadedMedia, uploadErrorText, uploadMedia } from "../media/upload";
import type { GroverClient } from "../protocol/client";
import { GroverError } from "../protocol/client";
import { newClientKey } from "../protocol/keys";
import type { CommentView, PostView } from "../protocol/types";
import { LIMITS } from "../protocol/types";
import type { Grover } from "../runtime/grover";

export type Status = "idle" | "loading" | "ready" | "error";

/** The key of a post's top-level comments in `Thread.branches`. */
export const ROOT = "";
/** Reply levels fetched with the thread; deeper ones on demand. */
const AUTO_DEPTH = 2;
const COMMENT_PAGE = 20;

export interface Branch {
  ids: string[];
  cursor: string | null;
  /** A page of it was fetched (else only live arrivals are known). */
  loaded: boolean;
  loading: boolean;
}

export interface Thread {
  status: Status;
  error: unknown;
  comments: Record<string, CommentView>;
  branches: Record<string, Branch>;
}

export type ThreadRow =
  | { kind: "comment"; comment: CommentView; depth: number }
  | { kind: "more"; parentId: string; depth: number; count: number; loading: boolean };

export interface NewPost {
  text: string;
  media_ids?: string[];
  visibility?: "followers" | "public";
}

export interface PostsState {
  posts: Record<string, PostView>;
  /** Posts deleted (seen live or answered `not_found`). */
  gone: Record<string, true>;
  threads: Record<string, Thread>;
  /** Put posts from a page, a reply or an event in the cache. */
  take(posts: readonly PostView[]): void;
  fetch(postId: string): Promise<PostView>;
  toggleLike(postId: string): Promise<void>;
  publish(post: NewPost): Promise<PostView>;
  loadComments(postId: string): Promise<void>;
  /** The next page of a branch (`ROOT` for more top-level comments). */
  loadReplies(postId: string, parentId: string): Promise<void>;
  comment(postId: string, text: string, parentId?: string | null): Promise<CommentView>;
  deleteComment(postId: string, commentId: string): Promise<void>;
  toggleCommentLike(postId: string, commentId: string): Promise<void>;
  /** Live updates of these posts until the returned function is called. */
  watch(postIds: readonly string[]): () => void;
  /** Called with each post this session publishes (lists put it first). */
  onPublished(listener: (post: PostView) => void): () => void;
}

export type PostsStore = StoreApi<PostsState>;

type Liked = { liked_by_me: boolean; like_count: number };

function byAge(a: CommentView, b: CommentView): number {
  return a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function emptyThread(): Thread {
  return { status: "idle", error: null, comments: {}, branches: {} };
}

function emptyBranch(): Branch {
  return { ids: [], cursor: null, loaded: false, loading: false };
}

/** `ids` with `more` added once each, in age order. */
function mergeIds(ids: readonly string[], more: readonly string[], comments: Record<string, CommentView>): string[] {
  const all = [...new Set([...ids, ...more])].filter((id) => comments[id] !== undefined);
  return all.sort((a, b) => byAge(comments[a]!, comments[b]!));
}

/** A thread as rows, depth first: each comment, then its replies indented, then a "more" row. */
export function flattenThread(thread: Thread): ThreadRow[] {
  const rows: ThreadRow[] = [];
  const walk = (parentId: string, depth: number) => {
    const branch = thread.branches[parentId] ?? emptyBranch();
    for (const id of branch.ids) {
      const comment = thread.comments[id];
      if (comment === undefined) continue;
      rows.push({ kind: "comment", comment, depth });
      walk(id, depth + 1);
    }
    const parent = parentId === ROOT ? undefined : thread.comments[parentId];
    const unseen = parent === undefined ? 0 : Math.max(0, parent.reply_count - branch.ids.length);
    const more = parentId === ROOT ? branch.cursor !== null : branch.cursor !== null || (!branch.loaded && unseen > 0);
    if (more) rows.push({ kind: "more", parentId, depth, count: unseen, loading: branch.loading });
  };
  walk(ROOT, 0);
  return rows;
}

export function createPostsStore(client: GroverClient, newKey: () => string = newClientKey): PostsStore {
  const published = new Set<(post: PostView) => void>();
  const likesInFlight = new Set<string>();
  const likeWanted = new Map<string, boolean>();
  const get = (): PostsState => store.getState();
  const set = (partial: Partial<PostsState>): void => store.setState(partial);

  function patchPost(postId: string, patch: Partial<PostView>): void {
    const post = get().posts[postId];
    if (post) set({ posts: { ...get().posts, [postId]: { ...post, ...patch } } });
  }

  function markGone(postId: string): void {
    const posts = { ...get().posts };
    delete posts[postId];
    set({ posts, gone: { ...get().gone, [postId]: true } });
  }

  function patchThread(postId: string, change: (thread: Thread) => Thread): void {
    const threads = get().threads;
    set({ threads: { ...threads, [postId]: change(threads[postId] ?? emptyThread()) } });
  }

  function patchBranch(postId: string, parentId: string, change: (branch: Branch) => Branch): void {
    patchThread(postId, (t) => ({
      ...t,
      branches: { ...t.branches, [parentId]: change(t.branches[parentId] ?? emptyBranch()) },
    }));
  }

  function patchComment(postId: string, commentId: string, fields: Partial<CommentView>): void {
    patchThread(postId, (t) => {
      const now = t.comments[commentId];
      return now ? { ...t, comments: { ...t.comments, [commentId]: { ...now, ...fields } } } : t;
    });
  }

  /**
   * A comment from a page (`page`), a new one (`new`: an event or our own
   * reply) or a changed one (`update`), put in its parent's branch once.
   */
  function putComment(comment: CommentView, how: "page" | "new" | "update"): void {
    patchThread(comment.post_id, (t) => {
      const known = t.comments[comment.id];
      if (how === "update" && known === undefined) return t; // an edit of a comment not loaded
      const parentId = comment.parent_comment_id ?? ROOT;
      // Events carry nobody's like: keep ours.
      const comments = {
        ...t.comments,
        [comment.id]: how === "update" && known ? { ...comment, liked_by_me: known.liked_by_me } : comment,
      };
      const branch = t.branches[parentId] ?? emptyBranch();
      let loaded = branch.loaded;
      const parent = parentId === ROOT ? undefined : comments[parentId];
      if (how === "new" && known === undefined && parent !== undefined) {
        // Its parent has one reply more; when it is the only one, that branch is complete.
        if (parent.reply_count === 0 && branch.ids.length === 0) loaded = true;
        comments[parentId] = { ...parent, reply_count: parent.reply_count + 1 };
      }
      return {
        ...t,
        comments,
        branches: { ...t.branches, [parentId]: { ...branch, loaded, ids: mergeIds(branch.ids, [comment.id], comments) } },
      };
    });
  }

  /** A deleted comment: a tombstone (text cleared) when it has replies, else gone. */
  function dropComment(postId: string, commentId: string, tombstone: boolean): void {
    patchThread(postId, (t) => {
      const comment = t.comments[commentId];
      if (comment === undefined) return t;
      if (tombstone) {
        return { ...t, comments: { ...t.comments, [commentId]: { ...comment, deleted: true, text: "" } } };
      }
      const parentId = comment.parent_comment_id ?? ROOT;
      const comments = { ...t.comments };
      delete comments[commentId];
      const parent = comments[parentId];
      if (parent) comments[parentId] = { ...parent, reply_count: Math.max(0, parent.reply_count - 1) };
      const branch = t.branches[parentId] ?? emptyBranch();
      return {
        ...t,
        comments,
        branches: { ...t.branches, [parentId]: { ...branch, ids: branch.ids.filter((id) => id !== commentId) } },
      };
    });
  }

  async function loadBranch(postId: string, parentId: string, depth: number, fromStart: boolean): Promise<void> {
    const before = get().threads[postId]?.branches[parentId] ?? emptyBranch();
    if (before.loading) return;
    patchBranch(postId, parentId, (b) => ({ ...b, loading: true }));
    try {
      const page = await client.request("comment.list", {
        post_id: postId,
        parent_comment_id: parentId === ROOT ? null : parentId,
        cursor: fromStart ? null : before.cursor,
        limit: COMMENT_PAGE,
      });
      for (const comment of page.comments) putComment(comment, "page");
      patchBranch(postId, parentId, (b) => ({ ...b, cursor: page.next_cursor, loaded: true, loading: false }));
      if (depth < AUTO_DEPTH) {
        const branches = get().threads[postId]?.branches ?? {};
        const withReplies = page.comments.filter((c) => c.reply_count > 0 && !(branches[c.id]?.loaded ?? false));
        await Promise.all(withReplies.map((c) => loadBranch(postId, c.id, depth + 1, true)));
      }
    } catch (error) {
      patchBranch(postId, parentId, (b) => ({ ...b, loading: false }));
      throw error;
    }
  }

  /**
   * Toggle a like at once; the reply's count settles it, a failure goes back
   * to what the server last said. Taps while a request runs are not lost:
   * the last one wins, sent once the running request is answered.
   */
  async function toggle(
    id: string,
    current: Liked | undefined,
    apply: (fields: Liked) => void,
    send: (like: boolean) => Promise<{ like_count: number }>,
  ): Promise<void> {
    if (current === undefined) return;
    const like = !current.liked_by_me;
    apply({ liked_by_me: like, like_count: Math.max(0, current.like_count + (like ? 1 : -1)) });
    if (likesInFlight.has(id)) {
      likeWanted.set(id, like);
      return;
    }
    likesInFlight.add(id);
    let confirmed: Liked = { liked_by_me: current.liked_by_me, like_count: current.like_count };
    let target = like;
    try {
      for (;;) {
        const result = await send(target);
        confirmed = { liked_by_me: target, like_count: result.like_count };
        const next = likeWanted.get(id);
        likeWanted.delete(id);
        if (next === undefined || next === target) break;
        target = next;
      }
      apply(confirmed);
    } catch (error) {
      likeWanted.delete(id);
      apply(confirmed);
      throw error;
    } finally {
      likesInFlight.delete(id);
    }
  }

  const store: StoreApi<PostsState> = createStore<PostsState>()(() => ({
    posts: {},
    gone: {},
    threads: {},
    take(posts) {
      if (posts.length === 0) return;
      const next = { ...get().posts };
      for (const post of posts) next[post.id] = post;
      set({ posts: next });
    },
    async fetch(postId) {
      try {
        const post = await client.request("post.get", { post_id: postId });
        get().take([post]);
        return post;
      } catch (error) {
        if (error instanceof GroverError && error.code === "not_found") markGone(postId);
        throw error;
      }
    },
    toggleLike: (postId) =>
      toggle(postId, get().posts[postId], (fields) => patchPost(postId, fields), (like) =>
        client.request(like ? "post.like" : "post.unlike", { post_id: postId }),
      ),
    async publish(input) {
      const post = await client.send("post.create", {
        client_key: newKey(),
        text: input.text,
        media_ids: input.media_ids ?? [],
        visibility: input.visibility ?? "public",
      });
      get().take([post]);
      // This session gets no post.new of its own post.
      for (const listener of published) listener(post);
      return post;
    },
    async loadComments(postId) {
      patchThread(postId, (t) => ({ ...t, status: t.status === "ready" ? "ready" : "loading", error: null }));
      try {
        await loadBranch(postId, ROOT, 0, true);
        patchThread(postId, (t) => ({ ...t, status: "ready" }));
      } catch (error) {
        patchThread(postId, (t) => ({ ...t, status: t.status === "ready" ? "ready" : "error", error }));
        throw error;
      }
    },
    async loadReplies(postId, parentId) {
      const branch = get().threads[postId]?.branches[parentId];
      // Never fetched: from its first page; else the page after the last one.
      await loadBranch(postId, parentId, AUTO_DEPTH, !(branch?.loaded ?? false));
    },
    async comment(postId, text, parentId = null) {
      const comment = await client.send("comment.create", {
        post_id: postId,
        text,
        parent_comment_id: parentId,
        client_key: newKey(),
      });
      // Ours comes back as the reply only (watchers' event skips its sender).
      const known = get().threads[postId]?.comments[comment.id] !== undefined;
      putComment(comment, "new");
      const post = get().posts[postId];
      if (post && !known) patchPost(postId, { comment_count: post.comment_count + 1 });
      return comment;
    },
    async deleteComment(postId, commentId) {
      const comment = get().threads[postId]?.comments[commentId];
      await client.request("comment.delete", { comment_id: commentId });
      dropComment(postId, commentId, (comment?.reply_count ?? 0) > 0);
      const post = get().posts[postId];
      if (post) patchPost(postId, { comment_count: Math.max(0, post.comment_count - 1) });
    },
    toggleCommentLike: (postId, commentId) =>
      toggle(commentId, get().threads[postId]?.comments[commentId], (fields) => patchComment(postId, commentId, fields), (like) =>
        client.request(like ? "comment.like" : "comment.unlike", { comment_id: commentId }),
      ),
    watch(postIds) {
      for (const id of postIds) wanted.set(id, (wanted.get(id) ?? 0) + 1);
      schedule();
      let released = false;
      return () => {
        if (released) return;
        released = true;
        for (const id of postIds) {
          const n = (wanted.get(id) ?? 0) - 1;
          if (n > 0) wanted.set(id, n);
          else wanted.delete(id);
        }
        schedule();
      };
    },
    onPublished(listener) {
      published.add(listener);
      return () => published.delete(listener);
    },
  }));

  // ---------------------------------------------------------------- watching
  // `wanted`: what screens show (with how many hold each); `watched`: what the
  // server's session has. `sync` makes the second follow the first, one run at a time.
  const wanted = new Map<string, number>();
  let watched = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running: Promise<void> = Promise.resolve();

  function schedule(): void {
    if (timer !== null) return;
    // A short delay gathers the changes of one render (a list scrolling) into one request.
    timer = setTimeout(() => {
      timer = null;
      running = running.then(sync, sync);
    }, 30);
  }

  async function sync(): Promise<void> {
    if (client.state !== "open") return; // sent once the socket is back (onState below)
    const gone = get().gone;
    const remove = [...watched].filter((id) => !wanted.has(id));
    for (const id of remove) watched.delete(id);
    const stillThere = remove.filter((id) => !gone[id]);
    if (stillThere.length > 0) await client.request("post.unwatch", { post_ids: stillThere }).catch(() => undefined);
    const room = LIMITS.WATCH_MAX - watched.size;
    const add = [...wanted.keys()].filter((id) => !watched.has(id) && !gone[id]).slice(0, Math.max(0, room));
    if (add.length === 0) return;
    try {
      watched = new Set((await client.request("post.watch", { post_ids: add })).post_ids);
    } catch (error) {
      // One post no longer visible refuses the whole batch: watch the others one by one.
      if (!(error instanceof GroverError) || add.length === 1) return;
      for (const id of add) {
        try {
          watched = new Set((await client.request("post.watch", { post_ids: [id] })).post_ids);
        } catch {
          // gone or hidden: the screen showing it learns so when it fetches it
        }
      }
    }
  }

  client.onState((state) => {
    if (state === "open") schedule();
  });

  client.onEvent((event) => {
    switch (event.type) {
      case "post.new":
        get().take([event.post]);
        break;
      case "post.updated": {
        const mine = get().posts[event.post.id];
        // Its liked_by_me is nobody's: keep ours.
        if (mine) get().take([{ ...event.post, liked_by_me: mine.liked_by_me }]);
        break;
      }
      case "post.counts":
        patchPost(event.post_id, { like_count: event.like_count, comment_count: event.comment_count });
        break;
      case "post.deleted":
        watched.delete(event.post_id); // the server drops the watch itself
        markGone(event.post_id);
        break;
      case "comment.new":
      case "comment.updated":
        if (get().threads[event.comment.post_id] !== undefined) {
          putComment(event.comment, event.type === "comment.new" ? "new" : "update");
        }
        break;
      case "comment.deleted":
        dropComment(event.post_id, event.comment_id, event.tombstone);
        break;
    }
  });

  client.onResync(() => {
    // A new session watches nothing: watch again, and fetch again what is on screen.
    watched = new Set();
    schedule();
    for (const id of wanted.keys()) {
      if (get().posts[id]) void get().fetch(id).catch(() => undefined);
      if (get().threads[id]) {
        set({ threads: { ...get().threads, [id]: emptyThread() } });
        void get().loadComments(id).catch(() => undefined);
      }
    }
  });

  return store;
}

// ------------------------------------------------------------------ post lists

/** A paged list of posts (the feed, a profile's posts): ids into `posts`. */
export interface PostList {
  ids: string[];
  cursor: string | null;
  status: Status;
  error: unknown;
  refreshing: boolean;
  loadingMore: boolean;
}

export const emptyList: PostList = {
  ids: [],
  cursor: null,
  status: "idle",
  error: null,
  refreshing: false,
  loadingMore: false,
};

/**
 * Fetch the first page (`first`: a load or a refresh, which replaces the
 * list) or the next one (`more`) into a list, its posts into the cache.
 */
export async function pageInto(
  posts: PostsStore,
  read: () => PostList,
  write: (list: PostList) => void,
  fetch: (cursor: string | null) => Promise<{ posts: PostView[]; next_cursor: string | null }>,
  mode: "first" | "more",
): Promise<void> {
  const list = read();
  if (mode === "more" && (list.cursor === null || list.loadingMore || list.status !== "ready")) return;
  if (mode === "first" && (list.status === "loading" || list.refreshing)) return;
  if (mode === "more") write({ ...list, loadingMore: true, error: null });
  else if (list.status === "ready") write({ ...list, refreshing: true, error: null });
  else write({ ...list, status: "loading", error: null });
  try {
    const page = await fetch(mode === "more" ? list.cursor : null);
    posts.getState().take(page.posts);
    const now = read();
    const got = page.posts.map((p) => p.id);
    const ids =
      mode === "more"
        ? [...now.ids, ...got.filter((id) => !now.ids.includes(id))]
        : // What arrived live while the page was on its way stays on top.
          [...now.ids.filter((id) => !got.includes(id) && !list.ids.includes(id)), ...got];
    write({ ...now, ids, cursor: page.next_cursor, status: "ready", refreshing: false, loadingMore: false });
  } catch (error) {
    const now = read();
    write({
      ...now,
      status: now.status === "loading" ? "error" : now.status,
      error,
      refreshing: false,
      loadingMore: false,
    });
    throw error;
  }
}

/** `post` first in the list (a new post), once. */
export function prepend(list: PostList, postId: string): PostList {
  return { ...list, ids: [postId, ...list.ids.filter((id) => id !== postId)] };
}

// -------------------------------------------------------------------- composer

export const MAX_PHOTOS = 4;

export interface DraftPhoto {
  key: string;
  /** What to show while it uploads (the picked file's URI). */
  preview: string;
  progress: number;
  media: UploadedMedia | null;
  error: string | null;
}

export interface ComposerState {
  text: string;
  photos: DraftPhoto[];
  busy: boolean;
  error: unknown;
  setText(text: string): void;
  /** Start uploading each picked file (up to `MAX_PHOTOS` in all). */
  addPhotos(files: readonly UploadSource[]): Promise<void>;
  retryPhoto(key: string): Promise<void>;
  removePhoto(key: string): void;
  /** Publish once every photo is up; the draft empties. */
  publish(): Promise<PostView>;
}

/** Whether the draft can be posted now: something to say, and no upload pending or failed. */
export function canPublish(state: Pick<ComposerState, "text" | "photos" | "busy">): boolean {
  if (state.busy) return false;
  if (state.photos.some((p) => p.media === null)) return false;
  return state.text.trim().length > 0 || state.photos.length > 0;
}

export function createComposerStore(uploader: Uploader, posts: PostsStore) {
  const sources = new Map<string, UploadSource>();
  const store = createStore<ComposerState>()((set, get) => {
    function patch(key: string, fields: Partial<DraftPhoto>): void {
      set({ photos: get().photos.map((p) => (p.key === key ? { ...p, ...fields } : p)) });
    }

    async function upload(key: string): Promise<void> {
      const source = sources.get(key);
      if (source === undefined) return;
      patch(key, { progress: 0, error: null, media: null });
      try {
        const media = await uploadMedia(uploader, source, (progress) => {
          if (sources.has(key)) patch(key, { progress });
        });
        if (sources.has(key)) patch(key, { media, progress: 1 });
      } catch (error) {
        if (sources.has(key)) patch(key, { error: uploadErrorText(error) });
      }
    }

    return {
      text: "",
      photos: [],
      busy: false,
      error: null,
      setText: (text) => set({ text, error: null }),
      async addPhotos(files) {
        const room = MAX_PHOTOS - get().photos.length;
        const added = files.slice(0, Math.max(0, room)).map((file) => {
          const key = newClientKey();
          sources.set(key, file);
          return { key, preview: file.uri, progress: 0, media: null, error: null };
        });
        set({ photos: [...get().photos, ...added], error: null });
        await Promise.all(added.map((p) => upload(p.key)));
      },
      retryPhoto: (key) => upload(key),
      removePhoto(key) {
        sources.delete(key);
        set({ photos: get().photos.filter((p) => p.key !== key) });
      },
      async publish() {
        if (!canPublish(get())) throw new Error("nothing to publish yet");
        set({ busy: true, error: null });
        try {
          const post = await posts.getState().publish({
            text: get().text.trim(),
            media_ids: get().photos.map((p) => p.media!.id),
          });
          sources.clear();
          set({ text: "", photos: [], busy: false });
          return post;
        } catch (error) {
          set({ busy: false, error });
          throw error;
        }
      },
    };
  });
  return store;
}

// ------------------------------------------------------------ app's instances

/** This login's posts store (`grover.part(postsOf)`). */
export function postsOf(grover: Grover): PostsStore {
  return createPostsStore(grover.client);
}

/** This login's draft post. */
export function composerOf(grover: Grover) {
  return createComposerStore(grover, grover.part(postsOf));
}
