/**
 * The notification inbox, its unread badge and the per-kind mute settings.
 *
 * The server groups notifications ("ada and 2 others liked your post") and
 * counts the badge; this store keeps what it says. A `notification.new` is a
 * new row or one that grew (same id): either way it goes to the top. Every
 * change of the inbox is followed by `badge.updated` with the exact unread
 * count, which is taken as it is; a count of 0 (all read, perhaps on
 * another device) also marks every loaded row read. The first page, and so
 * the badge, is fetched as soon as there is a login, and again after a
 * resync.
 */
import { createStore } from "zustand/vanilla";

import type { GroverClient } from "../protocol/client";
import type { NotificationView } from "../protocol/types";
import type { Grover } from "../runtime/grover";
import type { SessionState } from "./session";

export type NotificationKind = NotificationView["kind"];

/** Every kind, in the order settings lists them. */
export const NOTIFICATION_KINDS: readonly NotificationKind[] = [
  "follow",
  "like_post",
  "comment",
  "reply",
  "like_comment",
  "mention",
  "stream_live",
  "tip",
  "order",
  "payout",
];

export type Status = "idle" | "loading" | "ready" | "error";

export interface NotificationsState {
  items: NotificationView[];
  unread: number;
  status: Status;
  error: unknown;
  nextCursor: string | null;
  loadingMore: boolean;
  /** Muted kinds, once fetched. */
  muted: NotificationKind[] | null;
  settingsStatus: Status;
  settingsError: unknown;
  /** Fetch the first page unless it has been (screens call it when they mount). */
  start(): void;
  refresh(): Promise<void>;
  loadMore(): Promise<void>;
  markRead(notificationId: string): Promise<void>;
  markAllRead(): Promise<void>;
  loadSettings(): Promise<void>;
  /** Mute or unmute one kind (the server replaces the whole list). */
  setMuted(kind: NotificationKind, muted: boolean): Promise<void>;
}

/** `list` with `row` on top and no other row of its id. */
function onTop(list: readonly NotificationView[], row: NotificationView): NotificationView[] {
  return [row, ...list.filter((n) => n.id !== row.id)];
}

type Session = { getState(): SessionState; subscribe(listener: (state: SessionState, previous: SessionState) => void): () => void };

/**
 * The store on `client`; `start()` fetches the first page. With `session`,
 * it is also fetched whenever someone logs in.
 */
export function createNotificationsStore(client: GroverClient, session?: Session, pageSize = 20) {
  const store = createStore<NotificationsState>()((set, get) => ({
    items: [],
    unread: 0,
    status: "idle",
    error: null,
    nextCursor: null,
    loadingMore: false,
    muted: null,
    settingsStatus: "idle",
    settingsError: null,

    start() {
      const loggedIn = session === undefined || session.getState().user !== null;
      if (get().status === "idle" && loggedIn) void get().refresh();
    },
    async refresh() {
      set({ status: get().items.length === 0 ? "loading" : get().status, error: null });
      try {
        const page = await client.request("notification.list", { limit: pageSize });
        set({
          items: page.notifications,
          unread: page.unread,
          nextCursor: page.next_cursor,
          status: "ready",
        });
      } catch (error) {
        set({ status: "error", error });
      }
    },
    async loadMore() {
      const { nextCursor, loadingMore } = get();
      if (nextCursor === null || loadingMore) return;
      set({ loadingMore: true });
      try {
        const page = await client.request("notification.list", { cursor: nextCursor, limit: pageSize });
        const seen = new Set(get().items.map((n) => n.id));
        set({
          items: [...get().items, ...page.notifications.filter((n) => !seen.has(n.id))],
          nextCursor: page.next_cursor,
          unread: page.unread,
          loadingMore: false,
        });
      } catch {
        set({ loadingMore: false }); // the next scroll to the end tries again
      }
    },
    async markRead(notificationId) {
      const row = get().items.find((n) => n.id === notificationId);
      if (row?.read === true) return;
      const mark = (read: boolean) =>
        set({ items: get().items.map((n) => (n.id === notificationId ? { ...n, read } : n)) });
      mark(true);
      try {
        const badge = await client.request("notification.mark_read", { notification_id: notificationId });
        set({ unread: badge.unread });
      } catch (error) {
        mark(false);
        throw error;
      }
    },
    async markAllRead() {
      const before = get().items;
      set({ items: before.map((n) => (n.read ? n : { ...n, read: true })) });
      try {
        const badge = await client.request("notification.mark_read", {});
        set({ unread: badge.unread });
      } catch (error) {
        set({ items: before });
        throw error;
      }
    },
    async loadSettings() {
      set({ settingsStatus: "loading", settingsError: null });
      try {
        const settings = await client.request("notification.get_settings", {});
        set({ muted: settings.muted, settingsStatus: "ready" });
      } catch (error) {
        set({ settingsStatus: "error", settingsError: error });
      }
    },
    async setMuted(kind, muted) {
      const before = get().muted ?? [];
      const next = muted ? [...before.filter((k) => k !== kind), kind] : before.filter((k) => k !== kind);
      set({ muted: next });
      try {
        const settings = await client.request("notification.update_settings", { muted: next });
        set({ muted: settings.muted });
      } catch (error) {
        set({ muted: before });
        throw error;
      }
    },
  }));

  client.onEvent((event) => {
    const state = store.getState();
    if (event.type === "notification.new") {
      store.setState({ items: onTop(state.items, event.notification) });
    } else if (event.type === "notification.deleted") {
      store.setState({ items: state.items.filter((n) => n.id !== event.notification_id) });
    } else if (event.type === "badge.updated") {
      store.setState(
        event.unread === 0
          ? { unread: 0, items: state.items.map((n) => (n.read ? n : { ...n, read: true })) }
          : { unread: event.unread },
      );
    }
  });
  client.onResync(() => void store.getState().refresh());

  session?.subscribe((now, before) => {
    if (now.user !== null && now.user.id !== before.user?.id) void store.getState().refresh();
  });
  return store;
}

/** Where tapping a notification leads, or null when nowhere fits. */
export function hrefOf(n: NotificationView): string | null {
  switch (n.kind) {
    case "follow":
      return n.actors[0] ? `/user/${n.actors[0].id}` : null;
    case "like_post":
    case "like_comment":
    case "comment":
    case "reply":
    case "mention":
      return n.post_id ? `/post/${n.post_id}` : null;
    case "stream_live":
      return n.stream_id ? `/live/${n.stream_id}` : null;
    case "tip":
      return n.post_id ? `/post/${n.post_id}` : "/orders";
    case "order":
    case "payout":
      return "/orders";
  }
}

export type NotificationsStore = ReturnType<typeof createNotificationsStore>;

/** This login's inbox (`grover.part(notificationsPart)`). */
export function notificationsPart(grover: Grover): NotificationsStore {
  return createNotificationsStore(grover.client, grover.session);
}
