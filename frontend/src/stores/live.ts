/**
 * Live streams: the ones live now, and the rooms this session has open (the
 * stream it hosts, the ones it watches).
 *
 * A room is a stream plus what joining gave: the RTC token (renewed a minute
 * before it expires, while the room is joined), its chat and the lines being
 * sent. Everything after the join arrives as events: `stream.updated`
 * (viewer counts, settings), `chat.updated` (new lines and deletions, one
 * tick at a time), `chat.pinned`, `stream.ended`, `stream.banned`. A chat
 * line reaches the store twice (the send's ack and the next `chat.updated`),
 * in either order, so lines are kept once by id. After a `resync` the server
 * has forgotten this session's joins: every joined room joins again (which
 * for the host is also its presence) and the live list is fetched again.
 */
import { createStore } from "zustand/vanilla";

import { type GroverClient, GroverError, ConnectionLost, RequestTimeout } from "../protocol/client";
import { newClientKey } from "../protocol/keys";
import type { ChatLine, LiveTokenView, ServerEvent, StreamView } from "../protocol/types";
import type { Grover } from "../runtime/grover";

export interface PendingLine {
  clientKey: string;
  text: string;
  /** The error code it failed with (`forbidden`, `rate_limited`...), or null while sending. */
  failed: string | null;
}

export interface LiveRoom {
  stream: StreamView;
  role: "host" | "viewer";
  token: LiveTokenView | null;
  /** Whether the server has this session in the stream (false once ended, banned or left). */
  joined: boolean;
  banned: boolean;
  lines: ChatLine[];
  pending: PendingLine[];
}

export interface LiveState {
  /** Streams live now, most viewers first (`stream.list_live`). */
  live: StreamView[];
  liveLoaded: boolean;
  rooms: Record<string, LiveRoom>;
  refreshLive(): Promise<void>;
  /** A stream's page as it is now, without joining. */
  get(streamId: string): Promise<StreamView>;
  /** Go live with a new stream; the host's room. */
  start(title: string): Promise<LiveRoom>;
  /** My stream that is live now, if any (another device, or a screen left). */
  findMine(): Promise<StreamView | null>;
  end(streamId: string): Promise<void>;
  /**
   * Join a stream to watch it (or, for its host, to host it again after
   * leaving its screen or on another device). A stream
   * that is no longer live, or that bans me, gives a room that is not joined
   * rather than an error; `not_found` and the like are thrown.
   */
  join(streamId: string): Promise<LiveRoom>;
  leave(streamId: string): Promise<void>;
  send(streamId: string, text: string): Promise<void>;
  /** Send a failed line again, with its key (the server applies it once). */
  retry(streamId: string, clientKey: string): Promise<void>;
  discard(streamId: string, clientKey: string): void;
  /** Host or moderator: pin a line, or unpin with null. */
  pin(streamId: string, lineId: string | null): Promise<void>;
  /** Host or moderator: remove a viewer from the stream for good. */
  ban(streamId: string, userId: string): Promise<void>;
}

/** Chat lines kept per room: a long stream's early chat is let go. */
export const MAX_LINES = 300;
/** Renew a token this long before it expires. */
const RENEW_EARLY_S = 60;
/** Never renew more often than this (a token that is nearly expired on arrival). */
const RENEW_MIN_S = 5;

/** `list` with `lines` added once each by id, in time order, the newest `MAX_LINES`. */
export function mergeLines(list: readonly ChatLine[], lines: readonly ChatLine[]): ChatLine[] {
  const known = new Set(list.map((line) => line.id));
  const fresh = lines.filter((line) => !known.has(line.id) && known.add(line.id));
  if (fresh.length === 0) return list as ChatLine[];
  const merged = [...list, ...fresh].sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1));
  return merged.length > MAX_LINES ? merged.slice(-MAX_LINES) : merged;
}

/** "0:07", "12:34", "1:02:03": how long a stream has been (or was) live. */
export function formatElapsed(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

/** Seconds a stream has been live at `now` (its whole length once ended). */
export function elapsedOf(stream: StreamView, now = Date.now() / 1000): number {
  if (stream.start_time === null) return 0;
  return (stream.end_time ?? now) - stream.start_time;
}

/** The error code of whatever a request threw, for the screen to word. */
function codeOf(error: unknown): string {
  if (error instanceof GroverError) return error.code;
  if (error instanceof ConnectionLost) return "connection_lost";
  if (error instanceof RequestTimeout) return "timeout";
  return "internal";
}

export function createLiveStore(
  client: GroverClient,
  me: () => string | null,
  newKey: () => string = newClientKey,
) {
  const renewals = new Map<string, ReturnType<typeof setTimeout>>();
  /** Screens that want each stream open: a join answered after its screen closed is left at once. */
  const wanted = new Map<string, number>();

  function patch(streamId: string, change: (room: LiveRoom) => Partial<LiveRoom>): void {
    const rooms = store.getState().rooms;
    const room = rooms[streamId];
    if (room === undefined) return;
    store.setState({ rooms: { ...rooms, [streamId]: { ...room, ...change(room) } } });
  }

  function stopRenewing(streamId: string): void {
    const timer = renewals.get(streamId);
    if (timer !== undefined) clearTimeout(timer);
    renewals.delete(streamId);
  }

  /** No longer in the stream (ended, banned, refused): no token, no renewals. */
  function out(streamId: string, change: Partial<LiveRoom> = {}): void {
    stopRenewing(streamId);
    patch(streamId, () => ({ joined: false, token: null, ...change }));
  }

  function renewLater(streamId: string, token: LiveTokenView): void {
    stopRenewing(streamId);
    const wait = Math.max(RENEW_MIN_S, token.expires_at - Date.now() / 1000 - RENEW_EARLY_S);
    const timer = setTimeout(() => {
      renewals.delete(streamId);
      client.request("stream.renew_token", { stream_id: streamId }).then(
        (fresh) => {
          if (!store.getState().rooms[streamId]?.joined) return;
          patch(streamId, () => ({ token: fresh }));
          renewLater(streamId, fresh);
        },
        (error: unknown) => {
          // Refused once ended or banned: the stream's page says which.
          if (error instanceof GroverError) void settle(streamId);
          else if (store.getState().rooms[streamId]?.joined) renewLater(streamId, { ...token, expires_at: 0 });
        },
      );
    }, wait * 1000);
    renewals.set(streamId, timer);
  }

  /** A room the server no longer has this session in, as the stream stands now. */
  async function settle(streamId: string): Promise<void> {
    try {
      const stream = await client.request("stream.get", { stream_id: streamId });
      out(streamId, { stream, banned: stream.status === "live" });
    } catch {
      out(streamId);
    }
  }

  function roleOf(stream: StreamView): LiveRoom["role"] {
    return stream.host.id === me() ? "host" : "viewer";
  }

  function opened(stream: StreamView, token: LiveTokenView, recent: ChatLine[]): LiveRoom {
    const old = store.getState().rooms[stream.id];
    const room: LiveRoom = {
      stream,
      role: roleOf(stream),
      token,
      joined: true,
      banned: false,
      lines: mergeLines(old?.lines ?? [], recent),
      pending: old?.pending ?? [],
    };
    store.setState({ rooms: { ...store.getState().rooms, [stream.id]: room } });
    renewLater(stream.id, token);
    return room;
  }

  /** The live list with `stream` as it is now: updated, added, or gone once not live. */
  function listed(stream: StreamView, add: boolean): void {
    const live = store.getState().live;
    const at = live.findIndex((s) => s.id === stream.id);
    if (stream.status !== "live") {
      if (at !== -1) store.setState({ live: live.filter((s) => s.id !== stream.id) });
    } else if (at !== -1) {
      store.setState({ live: live.map((s) => (s.id === stream.id ? stream : s)) });
    } else if (add) {
      store.setState({ live: [...live, stream] });
    }
  }

  async function deliver(streamId: string, clientKey: string, text: string): Promise<void> {
    try {
      const sent = await client.send("chat.send", { stream_id: streamId, text, client_key: clientKey });
      patch(streamId, (room) => ({
        lines: mergeLines(room.lines, [sent.line]),
        pending: room.pending.filter((p) => p.clientKey !== clientKey),
      }));
    } catch (error) {
      patch(streamId, (room) => ({
        pending: room.pending.map((p) => (p.clientKey === clientKey ? { ...p, failed: codeOf(error) } : p)),
      }));
      throw error;
    }
  }

  async function enter(streamId: string): Promise<LiveRoom> {
    const stillWanted = () => (wanted.get(streamId) ?? 0) > 0;
    try {
      // For the stream's host this is hosting again (its presence), with a publisher token.
      const joined = await client.request("stream.join", { stream_id: streamId });
      if (stillWanted()) return opened(joined.stream, joined.token, joined.recent);
      // Its screen closed while the join was on its way.
      await client.request("stream.leave", { stream_id: streamId }).catch(() => undefined);
      return room(joined.stream, false);
    } catch (error) {
      if (!(error instanceof GroverError) || error.code !== "forbidden") throw error;
      // Not live (any more), or banned from it: the page says which.
      const stream = await client.request("stream.get", { stream_id: streamId });
      const closed = room(stream, stream.status === "live");
      stopRenewing(streamId);
      if (stillWanted()) store.setState({ rooms: { ...store.getState().rooms, [streamId]: closed } });
      return closed;
    }
  }

  /** A room this session is not in. */
  function room(stream: StreamView, banned: boolean): LiveRoom {
    const lines = store.getState().rooms[stream.id]?.lines ?? [];
    return { stream, role: roleOf(stream), token: null, joined: false, banned, lines, pending: [] };
  }

  const store = createStore<LiveState>()((set, get) => ({
    live: [],
    liveLoaded: false,
    rooms: {},
    async refreshLive() {
      const page = await client.request("stream.list_live", { limit: 20 });
      set({ live: page.streams, liveLoaded: true });
    },
    get: (streamId) => client.request("stream.get", { stream_id: streamId }),
    async start(title) {
      const hosted = await client.request("stream.start", { title });
      listed(hosted.stream, true);
      wanted.set(hosted.stream.id, 1);
      return opened(hosted.stream, hosted.token, []);
    },
    async findMine() {
      const mine = me();
      if (mine === null) return null;
      const page = await client.request("stream.by_host", { user_id: mine, limit: 5 });
      return page.streams.find((s) => s.status === "live") ?? null;
    },
    async end(streamId) {
      const stream = await client.request("stream.end", { stream_id: streamId });
      out(streamId, { stream });
      listed(stream, false);
    },
    async join(streamId) {
      wanted.set(streamId, (wanted.get(streamId) ?? 0) + 1);
      return enter(streamId);
    },
    async leave(streamId) {
      wanted.set(streamId, Math.max(0, (wanted.get(streamId) ?? 0) - 1));
      stopRenewing(streamId);
      const { [streamId]: room, ...rest } = get().rooms;
      set({ rooms: rest });
      if (room?.joined) {
        // Best effort: the server lets go of it with the session anyway.
        await client.request("stream.leave", { stream_id: streamId }).catch(() => undefined);
      }
    },
    async send(streamId, text) {
      const clientKey = newKey();
      patch(streamId, (room) => ({ pending: [...room.pending, { clientKey, text, failed: null }] }));
      await deliver(streamId, clientKey, text);
    },
    async retry(streamId, clientKey) {
      const line = get().rooms[streamId]?.pending.find((p) => p.clientKey === clientKey);
      if (line === undefined) return;
      patch(streamId, (room) => ({
        pending: room.pending.map((p) => (p.clientKey === clientKey ? { ...p, failed: null } : p)),
      }));
      await deliver(streamId, clientKey, line.text);
    },
    discard(streamId, clientKey) {
      patch(streamId, (room) => ({ pending: room.pending.filter((p) => p.clientKey !== clientKey) }));
    },
    async pin(streamId, lineId) {
      await client.request("chat.pin", { stream_id: streamId, line_id: lineId });
    },
    async ban(streamId, userId) {
      await client.request("stream.ban", { stream_id: streamId, user_id: userId });
    },
  }));

  client.onEvent((event: ServerEvent) => {
    switch (event.type) {
      case "stream.started":
        listed(event.stream, true);
        break;
      case "stream.updated":
        patch(event.stream.id, () => ({ stream: event.stream }));
        listed(event.stream, false);
        break;
      case "stream.ended":
        out(event.stream.id, { stream: event.stream });
        listed(event.stream, false);
        break;
      case "stream.banned":
        out(event.stream_id, { banned: true });
        break;
      case "chat.updated":
        patch(event.stream_id, (room) => {
          const gone = new Set(event.deleted);
          const kept = gone.size === 0 ? room.lines : room.lines.filter((line) => !gone.has(line.id));
          const lines = mergeLines(kept, event.lines.filter((line) => !gone.has(line.id)));
          const pinned = room.stream.pinned;
          const stream = pinned !== null && gone.has(pinned.id) ? { ...room.stream, pinned: null } : room.stream;
          return { lines, stream };
        });
        break;
      case "chat.pinned":
        patch(event.stream_id, (room) => ({ stream: { ...room.stream, pinned: event.line } }));
        break;
      default:
        break;
    }
  });

  client.onResync(() => {
    const { rooms, liveLoaded } = store.getState();
    if (liveLoaded) void store.getState().refreshLive().catch(() => undefined);
    // The new session is in no stream: join again what we were in.
    for (const [id, room] of Object.entries(rooms)) {
      if (room.joined) void enter(id).catch(() => out(id));
    }
  });
  return store;
}

/** The app's live store, one per login: `grover.part(liveStore)`. */
export function liveStore(grover: Grover) {
  return createLiveStore(grover.client, () => grover.session.getState().user?.id ?? null);
}
