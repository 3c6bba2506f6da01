/**
 * The counts on the tab bar: unread conversations' messages.
 *
 * The tab bar is on screen from login on, so this is where the conversation
 * list is first fetched: the badge is right before the messages tab is ever
 * opened. Live events keep it right after that (and a resync refetches).
 */
import { useEffect } from "react";
import { useStore } from "zustand";

import { unreadTotal } from "../stores/chat";
import { useGrover } from "./grover";

export function useTabBadges(): { messages: number } {
  const grover = useGrover();
  const chat = grover.chat;
  const userId = useStore(grover.session, (s) => s.user?.id ?? null);
  const connection = useStore(grover.session, (s) => s.connection);
  const loaded = useStore(chat, (s) => s.listLoaded);
  useEffect(() => {
    // Once per login; again when a first try was made offline.
    if (userId === null || connection !== "open" || loaded) return;
    chat
      .getState()
      .refresh()
      .catch(() => undefined);
  }, [chat, userId, connection, loaded]);
  const messages = useStore(chat, unreadTotal);
  return { messages };
}
