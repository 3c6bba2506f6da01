/**
 * Conversations and their messages: the chat store.
 *
 * Messages are kept per conversation in `seq` order, each once: a message can
 * reach the store three ways (the send's ack, which stands for the sender's
 * own copy, the live `message.new` at the other members' sessions, a page of
 * history) and in any order. A message being sent sits in `pending` under
 * its `client_key` until one of those brings it back. Unread counts come
 * from the server's summaries and grow with each message from someone else;
 * after a `resync` everything loaded is fetched again.
 */
import { createStore } from "zustand/vanilla";

import type { GroverClient } from "../protocol/client";
import type { ConversationSummary, MessageView } from "../protocol/types";

export interface PendingMessage {
  clientKey: string;
  text: string;
  failed: string | null;
}

export interface ChatState {
  summaries: ConversationSummary[];
  messages: Record<string, MessageView[]>;
  pending: Record<string, PendingMessage[]>;
  /** Take in a message, from wherever it came (an event, a page, an ack). */
  receive(message: MessageView): void;
  refresh(): Promise<void>;
  load(conversationId: string): Promise<void>;
  send(conversationId: string, text: string): Promise<void>;
  markRead(conversationId: string): Promise<void>;
}

/** `list` with `message` in `seq` order, replacing one with the same `seq`. */
export function mergeMessage(list: readonly MessageView[], message: MessageView): MessageView[] {
  const at = list.findIndex((m) => m.seq >= message.seq);
  if (at === -1) return [...list, message];
  if (list[at]?.seq === message.seq) return [...list.slice(0, at), message, ...list.slice(at + 1)];
  return [...list.slice(0, at), message, ...list.slice(at)];
}

export function createChatStore(
  client: GroverClient,
  me: () => string | null,
  newKey: () => string = () => crypto.randomUUID(),
) {
  const store = createStore<ChatState>()((set, get) => {
    function arrived(message: MessageView): void {
      const id = message.conversation_id;
      const { messages, pending, summaries } = get();
      const known = (messages[id] ?? []).some((m) => m.seq === message.seq);
      set({
        messages: { ...messages, [id]: mergeMessage(messages[id] ?? [], message) },
        pending: {
          ...pending,
          [id]: (pending[id] ?? []).filter((p) => p.clientKey !== message.client_key),
        },
        summaries: summaries.map((s) =>
          s.id !== id || known
            ? s
            : {
                ...s,
                last_seq: Math.max(s.last_seq, message.seq),
                last_preview: message.text,
                last_sender_id: message.sender_id,
                unread: message.sender_id === me() ? s.unread : s.unread + 1,
              },
        ),
      });
    }

    return {
      summaries: [],
      messages: {},
      pending: {},
      receive: arrived,
      async refresh() {
        const page = await client.request("conversation.list", {});
        set({ summaries: page.conversations });
      },
      async load(conversationId) {
        const page = await client.request("message.history", { conversation_id: conversationId });
        for (const message of page.messages) arrived(message);
      },
      async send(conversationId, text) {
        const clientKey = newKey();
        const { pending } = get();
        set({
          pending: {
            ...pending,
            [conversationId]: [...(pending[conversationId] ?? []), { clientKey, text, failed: null }],
          },
        });
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
          const now = get().pending;
          set({
            pending: {
              ...now,
              [conversationId]: (now[conversationId] ?? []).map((p) =>
                p.clientKey === clientKey ? { ...p, failed: (error as Error).message } : p,
              ),
            },
          });
          throw error;
        }
      },
      async markRead(conversationId) {
        const last = get().messages[conversationId]?.at(-1);
        if (last === undefined) return;
        await client.request("conversation.mark_read", { conversation_id: conversationId, seq: last.seq });
        set({
          summaries: get().summaries.map((s) =>
            s.id === conversationId ? { ...s, unread: 0, read_seq: last.seq } : s,
          ),
        });
      },
    };
  });
  client.onEvent((event) => {
    if (event.type === "message.new") store.getState().receive(event.message);
  });
  client.onResync(() => {
    const loaded = Object.keys(store.getState().messages);
    void store
      .getState()
      .refresh()
      .then(() => Promise.all(loaded.map((id) => store.getState().load(id))));
  });
  return store;
}
