/** The counts on the tab bar: unread conversations' messages. */
import { useStore } from "zustand";

import { useGrover } from "./grover";

export function useTabBadges(): { messages: number } {
  const chat = useGrover().chat;
  const messages = useStore(chat, (s) => s.summaries.reduce((sum, c) => sum + c.unread, 0));
  return { messages };
}
