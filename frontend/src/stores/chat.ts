/**
 * Conversations and their messages: the chat store.
 *
 * Messages are kept per conversation in `seq` order, each once: a message can
 * reach the store three ways (the send's ack, which stands for the sender's
 * own copy, the live `message.new` at the other members' sessions, a page of
 * history) and in any order. A message being sent sits in `pending` under
 * its `client_key` until one of those brings it back; it goes through the
 * client's outbox, so it survives a lost connection and is applied once.
 * Unread counts come from the server's summaries and grow with each new
 * message from someone else, except in the conversation being viewed, which
 * is marked read instead. Read positions (`receipt.read`) and typing notices
 * (`typing.started`, which expire by themselves) are kept per conversation.
 * After a `resync` everything loaded is fetched again.
 */
import { createStore } from "zustand/vanilla";

import { GroverError, type GroverClient } from "../protocol/client";
import { newClientKey } from "../protocol/keys";
import type {
  ConversationSummary,
  ConversationView,
  MessageView,
  UserProfile,
} from "../protocol/types";
import { describe } from "../ui/errors";

export interface PendingMessage {
  clientKey: string;
  text: string;
  /** Why the server refused it, in words for a person; null while sending. */
  failed: string | null;
}

export interface ChatState {
  summaries: ConversationSummary[];
  /** The conversation list has been fetched at least once. */
  listLoaded: boolean;
  /** Where the next page of the conversation list starts; null on the last. */
  listCursor: string | null;
  messages: Record<string, MessageView[]>;
  /** Whether older messages than those loaded exist, per conversation. */
  hasOlder: Record<string, boolean>;
  pending: Record<string, PendingMessage[]>;
  /** Members and the like (`conversation.get`), per conversation. */
  details: Record<string, ConversationView>;
  /** Profiles of the people met in conversations and searches, by id. */
  people: Record<string, UserProfile>;
  /** Per conversation, the `seq` each member has read up to. */
  reads: Record<string, Record<string, number>>;
  /** Per conversation, who is typing and until when (ms since the epoch). */
  typing: Record<string, Record<string, number>>;
  /** The conversation on screen: it is marked read as messages arrive. */
  viewing: string | null;
  /** Take in a message, from wherever it came (an event, a page, an ack). */
  receive(message: MessageView): void;
  refresh(): Promise<void>;
  loadMoreConversations(): Promise<void>;
  load(conversationId: string): Promise<void>;
  loadOlder(conversationId: string): Promise<void>;
  loadDetails(conversationId: string): Promise<ConversationView>;
  loadPeople(userIds: readonly string[]): Promise<void>;
  searchUsers(prefix: string): Promise<UserProfile[]>;
  openDirect(userId: string): Promise<string>;
  createGroup(name: string, memberIds: readonly string[]): Promise<string>;
  send(conversationId: string, text: string): Promise<void>;
  retry(conversationId: string, clientKey: string): Promise<void>;
  discard(conversationId: string, clientKey: string): void;
  markRead(conversationId: string): Promise<void>;
  /** The user typed in the composer: tell the others, at most every few seconds. */
  typed(conversationId: string): void;
  view(conversationId: string | null): void;
}

export interface ChatOptions {
  /** How long a typing notice shows without another one. */
  typingTtlMs?: number;
  /** The least time between two `typing.start` of one conversation. */
  typingEveryMs?: number;
}

/** The server allows a few notices a second; one every 2.5 s keeps a 5 s notice alive. */
export const TYPING_TTL_MS = 5_000;
export const TYPING_EVERY_MS = 2_500;

/** `list` with `message` in `seq` order, replacing one with the same `seq`. */
export function mergeMessage(list: readonly MessageView[], message: MessageView): MessageView[] {
  const at = list.findIndex((m) => m.seq >= message.seq);
  if (at === -1) return [...list, message];
  if (list[at]?.seq === message.seq) return [...list.slice(0, at), message, ...list.slice(at + 1)];
  return [...list.slice(0, at), message, ...list.slice(at)];
}

/** What a person is called on screen. */
export function personName(person: UserProfile | undefined): string | null {
  if (person === undefined) return null;
  return person.display_name || person.username;
}

/** The other member of a direct conversation (from its details). */
export function partnerOf(state: ChatState, conversationId: string, me: string | null): string | null {
  const members = state.details[conversationId]?.members ?? [];
  return members.find((m) => m.user_id !== me)?.user_id ?? null;
}

/** A conversation's name: a group's title, or the other member's name. */
export function conversationName(state: ChatState, conversationId: string, me: string | null): string {
  const kind =
    state.details[conversationId]?.kind ?? state.summaries.find((s) => s.id === conversationId)?.kind;
  const title =
    state.details[conversationId]?.title ?? state.summaries.find((s) => s.id === conversationId)?.title;
  if (kind === "group") {
    if (title) return title;
    const names = (state.details[conversationId]?.members ?? [])
      .filter((m) => m.user_id !== me)
      .map((m) => personName(state.people[m.user_id]))
      .filter((n): n is string => n !== null);
    return names.length > 0 ? names.join(", ") : "Group";
  }
  const partner = partnerOf(state, conversationId, me);
  return (partner === null ? null : personName(state.people[partner])) ?? "Direct chat";
}

/** Who is typing in a conversation right now (user ids). */
export function typingIn(state: ChatState, conversationId: string, now = Date.now()): string[] {
  return Object.entries(state.typing[conversationId] ?? {})
    .filter(([, until]) => until > now)
    .map(([userId]) => userId);
}

/** My last sent message in a conversation, if any. */
export function myLastMessage(state: ChatState, conversationId: string, me: string | null): MessageView | null {
  const list = state.messages[conversationId] ?? [];
  for (let i = list.length - 1; i >= 0; i -= 1) {
    const m = list[i];
    if (m !== undefined && m.sender_id === me && m.kind === "message") return m;
  }
  return null;
}

/** The other members who have read my last message. */
export function seenBy(state: ChatState, conversationId: string, me: string | null): string[] {
  const mine = myLastMessage(state, conversationId, me);
  if (mine === null) return [];
  return Object.entries(state.reads[conversationId] ?? {})
    .filter(([userId, seq]) => userId !== me && seq >= mine.seq)
    .map(([userId]) => userId);
}

/** All unread messages: the messages tab's badge. */
export function unreadTotal(state: ChatState): number {
  return state.summaries.reduce((sum, s) => sum + s.unread, 0);
}

function byActivity(a: ConversationSummary, b: ConversationSummary): number {
  return b.last_activity_at - a.last_activity_at;
}

/** A list row for a conversation known only from its view (just created or opened). */
function summaryOf(view: ConversationView, me: string | null): ConversationSummary {
  return {
    id: view.id,
    kind: view.kind,
    title: view.title,
    last_seq: view.last_seq,
    last_activity_at: view.created_at,
    last_preview: "",
    last_sender_id: null,
    read_seq: view.members.find((m) => m.user_id === me)?.read_seq ?? 0,
    unread: 0,
  };
}

/** Groups up to this size have every member's profile fetched with their details. */
const PEOPLE_AT_ONCE = 12;

/** The most pages `message.since` is asked for in one catch-up. */
const CATCH_UP_PAGES = 20;

export function createChatStore(
  client: GroverClient,
  me: () => string | null,
  newKey: () => string = newClientKey,
  options: ChatOptions = {},
) {
  const typingTtl = options.typingTtlMs ?? TYPING_TTL_MS;
  const typingEvery = options.typingEveryMs ?? TYPING_EVERY_MS;
  const typingSentAt = new Map<string, number>();
  const peopleLoading = new Map<string, Promise<void>>();
  const peopleHidden = new Set<string>();
  const marking = new Map<string, Promise<void>>();
  let refreshing: Promise<void> | null = null;
  // Set by the store's body, for the event handlers below.
  const internal = {
    remember: (_view: ConversationView): void => undefined,
    forget: (_conversationId: string): void => undefined,
  };

  const store = createStore<ChatState>()((set, get) => {
    function arrived(message: MessageView): void {
      const id = message.conversation_id;
      const { messages, pending, summaries, typing } = get();
      const list = messages[id] ?? [];
      const isEntry = message.kind === "message";
      const known = list.some((m) => m.seq === message.seq);
      const summary = summaries.find((s) => s.id === id);
      // New to the list row: newer than anything the server had summarised.
      const fresh = summary !== undefined && message.seq > summary.last_seq;
      const fromOther = message.sender_id !== me();
      const counts = fresh && isEntry && fromOther && get().viewing !== id;
      const retracted = applyChange(list, message);
      let unreadDelta = counts ? 1 : 0;
      if (retracted !== null && summary !== undefined && retracted.sender_id !== me()) {
        // A deleted unread message is no longer unread (the server counts the same way).
        if (retracted.seq > summary.read_seq) unreadDelta -= 1;
      }
      const typers = { ...(typing[id] ?? {}) };
      delete typers[message.sender_id]; // sent what they were typing
      set({
        messages: { ...messages, [id]: isEntry ? mergeMessage(list, message) : changed(list, message) },
        pending: {
          ...pending,
          [id]: (pending[id] ?? []).filter((p) => p.clientKey !== message.client_key),
        },
        typing: { ...typing, [id]: typers },
        summaries:
          summary === undefined
            ? summaries
            : summaries
                .map((s) =>
                  s.id !== id
                    ? s
                    : {
                        ...s,
                        last_seq: Math.max(s.last_seq, message.seq),
                        last_activity_at: fresh ? Math.max(s.last_activity_at, message.created_at) : s.last_activity_at,
                        last_preview: fresh && isEntry ? message.text : s.last_preview,
                        last_sender_id: fresh && isEntry ? message.sender_id : s.last_sender_id,
                        unread: Math.max(0, s.unread + unreadDelta),
                      },
                )
                .sort(byActivity),
      });
      if (summary === undefined && get().listLoaded) void refreshSoon();
      if (get().people[message.sender_id] === undefined) void get().loadPeople([message.sender_id]);
      if (get().viewing === id && fromOther && isEntry && !known) void autoMarkRead(id);
    }

    /** The message an edit or delete entry changes, when a delete retracts one. */
    function applyChange(list: readonly MessageView[], entry: MessageView): MessageView | null {
      if (entry.kind !== "delete") return null;
      const target = list.find((m) => m.seq === entry.target_seq);
      return target !== undefined && !target.deleted ? target : null;
    }

    function changed(list: readonly MessageView[], entry: MessageView): MessageView[] {
      return list.map((m) => {
        if (m.seq !== entry.target_seq) return m;
        if (entry.kind === "edit") return { ...m, text: entry.text, edited_at: entry.created_at };
        return { ...m, deleted: true, text: "", media_url: "" };
      });
    }

    function refreshSoon(): Promise<void> {
      refreshing ??= get()
        .refresh()
        .catch(() => undefined)
        .finally(() => {
          refreshing = null;
        });
      return refreshing;
    }

    async function autoMarkRead(id: string): Promise<void> {
      await get()
        .markRead(id)
        .catch(() => undefined); // offline: marked when the next message arrives or on return
    }

    function remember(view: ConversationView): void {
      const { details, reads, summaries } = get();
      const known = reads[view.id] ?? {};
      const positions: Record<string, number> = {};
      for (const m of view.members) positions[m.user_id] = Math.max(m.read_seq, known[m.user_id] ?? 0);
      set({
        details: { ...details, [view.id]: view },
        reads: { ...reads, [view.id]: positions },
        summaries: summaries.some((s) => s.id === view.id)
          ? summaries.map((s) => (s.id === view.id ? { ...s, title: view.title } : s))
          : [...summaries, summaryOf(view, me())].sort(byActivity),
      });
      // A big group's members are fetched as they speak or read, not all at once.
      if (view.members.length <= PEOPLE_AT_ONCE) void get().loadPeople(view.members.map((m) => m.user_id));
    }

    function forget(conversationId: string): void {
      const { summaries, messages, pending, details, reads, typing, hasOlder } = get();
      const without = <T,>(record: Record<string, T>) => {
        const copy = { ...record };
        delete copy[conversationId];
        return copy;
      };
      set({
        summaries: summaries.filter((s) => s.id !== conversationId),
        messages: without(messages),
        pending: without(pending),
        details: without(details),
        reads: without(reads),
        typing: without(typing),
        hasOlder: without(hasOlder),
        viewing: get().viewing === conversationId ? null : get().viewing,
      });
    }

    internal.remember = remember;
    internal.forget = forget;

    function setPending(conversationId: string, update: (list: PendingMessage[]) => PendingMessage[]): void {
      const now = get().pending;
      set({ pending: { ...now, [conversationId]: update(now[conversationId] ?? []) } });
    }

    /** Details of the direct conversations on the list, so rows can name the other member. */
    async function describeRows(rows: readonly ConversationSummary[]): Promise<void> {
      const unknown = rows.filter((s) => get().details[s.id] === undefined);
      const senders = rows.flatMap((s) => (s.last_sender_id === null ? [] : [s.last_sender_id]));
      await Promise.allSettled([...unknown.map((s) => get().loadDetails(s.id)), get().loadPeople(senders)]);
    }

    return {
      summaries: [],
      listLoaded: false,
      listCursor: null,
      messages: {},
      hasOlder: {},
      pending: {},
      details: {},
      people: {},
      reads: {},
      typing: {},
      viewing: null,
      receive: arrived,
      async refresh() {
        const page = await client.request("conversation.list", { limit: 50 });
        // Events that came while the page was on its way are newer than it: kept.
        const local = new Map(get().summaries.map((s) => [s.id, s]));
        const rows = page.conversations.map((s) => {
          const mine = local.get(s.id);
          return mine !== undefined && mine.last_seq > s.last_seq ? mine : s;
        });
        set({
          summaries: rows.sort(byActivity),
          listLoaded: true,
          listCursor: page.next_cursor,
        });
        await describeRows(page.conversations);
      },
      async loadMoreConversations() {
        const cursor = get().listCursor;
        if (cursor === null) return;
        const page = await client.request("conversation.list", { cursor, limit: 50 });
        const have = new Set(get().summaries.map((s) => s.id));
        set({
          summaries: [...get().summaries, ...page.conversations.filter((s) => !have.has(s.id))].sort(byActivity),
          listCursor: page.next_cursor,
        });
        await describeRows(page.conversations);
      },
      async load(conversationId) {
        const last = get().messages[conversationId]?.at(-1);
        if (last === undefined) {
          const page = await client.request("message.history", { conversation_id: conversationId });
          // Newest first: taken in oldest first, as they happened.
          for (const message of [...page.messages].reverse()) arrived(message);
          set({ hasOlder: { ...get().hasOlder, [conversationId]: page.has_more } });
          if (page.messages.length === 0 && get().messages[conversationId] === undefined) {
            set({ messages: { ...get().messages, [conversationId]: [] } });
          }
        } else {
          // Some loaded already: catch up with every entry after them (edits and deletes too).
          let after = last.seq;
          for (let i = 0; i < CATCH_UP_PAGES; i += 1) {
            const page = await client.request("message.since", { conversation_id: conversationId, after_seq: after });
            for (const entry of page.messages) arrived(entry);
            after = page.messages.at(-1)?.seq ?? after;
            if (!page.has_more) break;
          }
        }
        if (get().viewing === conversationId) void autoMarkRead(conversationId);
      },
      async loadOlder(conversationId) {
        const first = get().messages[conversationId]?.[0];
        if (first === undefined || get().hasOlder[conversationId] !== true) return;
        const page = await client.request("message.history", {
          conversation_id: conversationId,
          before_seq: first.seq,
        });
        for (const message of page.messages) arrived(message);
        set({ hasOlder: { ...get().hasOlder, [conversationId]: page.has_more } });
      },
      async loadDetails(conversationId) {
        const view = await client.request("conversation.get", { conversation_id: conversationId });
        remember(view);
        if (view.members.length <= PEOPLE_AT_ONCE) await get().loadPeople(view.members.map((m) => m.user_id));
        return view;
      },
      async loadPeople(userIds) {
        const ids = [...new Set(userIds)].filter((id) => get().people[id] === undefined && !peopleHidden.has(id));
        for (const id of ids) {
          if (peopleLoading.has(id)) continue;
          const asking = client
            .request("profile.get", { user_id: id })
            .then((person) => set({ people: { ...get().people, [person.id]: person } }))
            .catch((error: unknown) => {
              // Gone or blocked: not asked again. Offline and the like: asked again next time.
              if (error instanceof GroverError && error.code === "not_found") peopleHidden.add(id);
            })
            .finally(() => peopleLoading.delete(id));
          peopleLoading.set(id, asking);
        }
        await Promise.all(ids.map((id) => peopleLoading.get(id)));
      },
      async searchUsers(prefix) {
        const query = prefix.trim().replace(/^@/, "").slice(0, 64);
        if (query === "") return [];
        const page = await client.request("user.search", { query, mode: "prefix", limit: 20 });
        const people = { ...get().people };
        for (const user of page.users) people[user.id] = user;
        set({ people });
        return page.users.filter((u) => u.id !== me());
      },
      async openDirect(userId) {
        const view = await client.request("conversation.open_direct", { user_id: userId });
        remember(view);
        return view.id;
      },
      async createGroup(name, memberIds) {
        const view = await client.request("conversation.create_group", {
          title: name.trim(),
          member_ids: [...memberIds],
        });
        remember(view);
        return view.id;
      },
      async send(conversationId, text) {
        const clientKey = newKey();
        setPending(conversationId, (list) => [...list, { clientKey, text, failed: null }]);
        typingSentAt.delete(conversationId); // typing again after a send is news again
        try {
          const ack = await client.send("message.send", {
            conversation_id: conversationId,
            client_key: clientKey,
            text,
          });
          // The sender's own session gets no message.new: the ack stands for it.
          get().receive({
            conversation_id: conversationId,
            seq: ack.seq,
            id: ack.id,
            kind: "message",
            sender_id: me() ?? "",
            text,
            media_url: "",
            created_at: ack.created_at,
            edited_at: null,
            deleted: false,
            target_seq: null,
            client_key: clientKey,
          });
        } catch (error) {
          setPending(conversationId, (list) =>
            list.map((p) => (p.clientKey === clientKey ? { ...p, failed: describe(error) } : p)),
          );
          throw error;
        }
      },
      async retry(conversationId, clientKey) {
        const failed = (get().pending[conversationId] ?? []).find((p) => p.clientKey === clientKey);
        if (failed === undefined) return;
        get().discard(conversationId, clientKey);
        await get().send(conversationId, failed.text);
      },
      discard(conversationId, clientKey) {
        setPending(conversationId, (list) => list.filter((p) => p.clientKey !== clientKey));
      },
      async markRead(conversationId) {
        // One at a time per conversation; calls meanwhile mark again after it, if still needed.
        for (let running = marking.get(conversationId); running !== undefined; running = marking.get(conversationId)) {
          await running.catch(() => undefined);
        }
        const last = get().messages[conversationId]?.at(-1);
        if (last === undefined) return;
        const summary = get().summaries.find((s) => s.id === conversationId);
        const readUpTo = Math.max(summary?.read_seq ?? 0, get().reads[conversationId]?.[me() ?? ""] ?? 0);
        if ((summary?.unread ?? 0) === 0 && readUpTo >= last.seq) return;
        const request = client
          .request("conversation.mark_read", { conversation_id: conversationId, seq: last.seq })
          .then(() => {
            const { summaries, reads } = get();
            const user = me();
            set({
              summaries: summaries.map((s) =>
                s.id === conversationId ? { ...s, unread: 0, read_seq: Math.max(s.read_seq, last.seq) } : s,
              ),
              reads:
                user === null
                  ? reads
                  : {
                      ...reads,
                      [conversationId]: {
                        ...reads[conversationId],
                        [user]: Math.max(reads[conversationId]?.[user] ?? 0, last.seq),
                      },
                    },
            });
          })
          .finally(() => {
            if (marking.get(conversationId) === request) marking.delete(conversationId);
          });
        marking.set(conversationId, request);
        await request;
      },
      typed(conversationId) {
        const now = Date.now();
        if (client.state !== "open") return;
        if (now - (typingSentAt.get(conversationId) ?? -Infinity) < typingEvery) return;
        typingSentAt.set(conversationId, now);
        // Ephemeral: a notice lost (offline, rate limited) is not worth a retry.
        client.request("typing.start", { conversation_id: conversationId }).catch(() => undefined);
      },
      view(conversationId) {
        set({ viewing: conversationId });
        if (conversationId !== null) void autoMarkRead(conversationId);
      },
    };
  });

  function typingStarted(conversationId: string, userId: string): void {
    if (userId === me()) return;
    const { typing } = store.getState();
    store.setState({
      typing: { ...typing, [conversationId]: { ...typing[conversationId], [userId]: Date.now() + typingTtl } },
    });
    // The notice goes away by itself unless another one renews it.
    setTimeout(() => {
      const now = Date.now();
      const current = store.getState().typing;
      const left = Object.fromEntries(
        Object.entries(current[conversationId] ?? {}).filter(([, until]) => until > now),
      );
      if (Object.keys(left).length !== Object.keys(current[conversationId] ?? {}).length) {
        store.setState({ typing: { ...current, [conversationId]: left } });
      }
    }, typingTtl + 10);
  }

  function receiptRead(conversationId: string, userId: string, seq: number): void {
    const { reads, summaries, messages } = store.getState();
    const positions = reads[conversationId] ?? {};
    if ((positions[userId] ?? 0) >= seq) return;
    store.setState({ reads: { ...reads, [conversationId]: { ...positions, [userId]: seq } } });
    void store.getState().loadPeople([userId]); // named in "Seen by"
    if (userId !== me()) return;
    // Read in another of my sessions: what is left unread here shrinks with it.
    const loaded = messages[conversationId];
    const leftUnread =
      loaded === undefined
        ? Infinity // not loaded here: the count stays until the next refresh
        : loaded.filter((m) => m.seq > seq && m.kind === "message" && !m.deleted && m.sender_id !== userId).length;
    store.setState({
      summaries: summaries.map((s) =>
        s.id !== conversationId
          ? s
          : {
              ...s,
              read_seq: Math.max(s.read_seq, seq),
              unread: seq >= s.last_seq ? 0 : Math.min(s.unread, leftUnread),
            },
      ),
    });
  }

  client.onEvent((event) => {
    const state = store.getState();
    switch (event.type) {
      case "message.new":
        state.receive(event.message);
        break;
      case "typing.started":
        typingStarted(event.conversation_id, event.user_id);
        break;
      case "receipt.read":
        receiptRead(event.conversation_id, event.user_id, event.seq);
        break;
      case "conversation.updated":
        if (event.removed) internal.forget(event.conversation.id);
        else internal.remember(event.conversation);
        break;
      default:
        break;
    }
  });
  client.onResync(() => {
    const state = store.getState();
    const loaded = Object.keys(state.messages);
    const described = Object.keys(state.details);
    store.setState({ typing: {} });
    void state
      .refresh()
      .then(() =>
        Promise.all([
          ...loaded.map((id) => store.getState().load(id)),
          ...described.map((id) => store.getState().loadDetails(id)),
        ]),
      )
      .catch(() => undefined);
  });

  return store;
}
